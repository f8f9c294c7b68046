"""The ledger's index for the admin's search by the start of a reference.

Every sale writes ledger rows, and a plain CREATE INDEX would hold them up while it reads the whole ledger (seconds
per million rows), and DEPLOY.md migrates while the previous release is serving. On PostgreSQL the index is built
CONCURRENTLY, which cannot run inside a transaction: this migration is not atomic. Elsewhere (the SQLite demo) it is
an ordinary index."""

from django.db import migrations, models

INDEX = models.Index(fields=["reference"], name="movement_reference", opclasses=["varchar_pattern_ops"])


def index_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS movement_reference "
            "ON stock_stockmovement (reference varchar_pattern_ops)"
        )
    else:
        schema_editor.add_index(apps.get_model("stock", "StockMovement"), INDEX)


def index_drop(apps, schema_editor):
    schema_editor.remove_index(apps.get_model("stock", "StockMovement"), INDEX)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("stock", "0006_lot_history")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="stockmovement", index=INDEX)],
            database_operations=[migrations.RunPython(index_create, index_drop)],
        )
    ]
