"""Lots get a history (their expiry date decides whether selling them needs a manager's approval), starting with one
version of each lot as it stands, so that the first change shows as old -> new."""

from itertools import batched

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def record_lots_as_they_stand(apps, schema_editor):
    Lot = apps.get_model("stock", "Lot")
    HistoricalLot = apps.get_model("stock", "HistoricalLot")
    now = timezone.now()
    for lots in batched(Lot.objects.order_by("pk").iterator(chunk_size=2000), 2000):
        HistoricalLot.objects.bulk_create(
            HistoricalLot(
                id=lot.pk,
                product_id=lot.product_id,
                code=lot.code,
                expiry_date=lot.expiry_date,
                history_date=now,
                history_type="+",
            )
            for lot in lots
        )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0002_category_unique_top_level_name"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("stock", "0005_receipt_token"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="HistoricalLot",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("code", models.CharField(max_length=40, verbose_name="lot code")),
                ("expiry_date", models.DateField(blank=True, null=True, verbose_name="expiry date")),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                (
                    "history_type",
                    models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1),
                ),
            ],
            options={
                "verbose_name": "historical lot",
                "verbose_name_plural": "historical lots",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.AddField(
            model_name="historicallot",
            name="history_user",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
            ),
        ),
        migrations.AddField(
            model_name="historicallot",
            name="product",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="catalog.product",
                verbose_name="product",
            ),
        ),
        migrations.RunPython(record_lots_as_they_stand, migrations.RunPython.noop),
    ]
