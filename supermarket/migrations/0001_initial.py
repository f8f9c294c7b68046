import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        migrations.CreateModel(
            name="ManagerOverride",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("void_sale", "void a completed sale"),
                            ("refund", "refund"),
                            ("price", "price override"),
                            ("stock_limit", "sell past the stock on hand"),
                            ("expired", "sell expired stock"),
                        ],
                        max_length=12,
                        verbose_name="what",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True, verbose_name="when")),
                ("register", models.CharField(blank=True, max_length=10, verbose_name="register")),
                ("reference", models.CharField(blank=True, db_index=True, max_length=40, verbose_name="reference")),
                ("detail", models.CharField(blank=True, max_length=300, verbose_name="detail")),
                (
                    "amount",
                    models.DecimalField(blank=True, decimal_places=2, max_digits=12, null=True, verbose_name="amount"),
                ),
                (
                    "approved_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="approved by",
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="asked by",
                    ),
                ),
            ],
            options={
                "verbose_name": "manager override",
                "verbose_name_plural": "manager overrides",
                "ordering": ["-created_at"],
                "permissions": [
                    ("approve_void_sale", "Can void a completed sale"),
                    ("approve_price", "Can override a price at the till"),
                    ("approve_stock_limit", "Can allow selling past the stock on hand"),
                ],
            },
        ),
    ]
