"""Default locations, and a trigger that makes the stock ledger append-only in the database itself."""

from django.db import migrations

POSTGRES_TRIGGER = """
CREATE OR REPLACE FUNCTION stock_movement_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'stock_stockmovement is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER stock_movement_append_only
    BEFORE UPDATE OR DELETE ON stock_stockmovement
    FOR EACH ROW EXECUTE FUNCTION stock_movement_append_only();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS stock_movement_append_only ON stock_stockmovement;
DROP FUNCTION IF EXISTS stock_movement_append_only();
"""
SQLITE_TRIGGERS = [
    """CREATE TRIGGER stock_movement_no_update BEFORE UPDATE ON stock_stockmovement
       BEGIN SELECT RAISE(ABORT, 'stock_stockmovement is append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER stock_movement_no_delete BEFORE DELETE ON stock_stockmovement
       BEGIN SELECT RAISE(ABORT, 'stock_stockmovement is append-only: DELETE refused'); END;""",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS stock_movement_no_update;", "DROP TRIGGER IF EXISTS stock_movement_no_delete;"]


def add_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_TRIGGER, params=None)
    elif vendor == "sqlite":
        for sql in SQLITE_TRIGGERS:
            schema_editor.execute(sql)


def drop_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP)
    elif vendor == "sqlite":
        for sql in SQLITE_DROP:
            schema_editor.execute(sql)


def add_locations(apps, schema_editor):
    Location = apps.get_model("stock", "Location")
    Location.objects.get_or_create(code="FLOOR", defaults={"name": "卖场 Store floor", "kind": "floor", "is_default": True})
    Location.objects.get_or_create(code="BACK", defaults={"name": "后仓 Backroom", "kind": "backroom"})


class Migration(migrations.Migration):
    dependencies = [("stock", "0001_initial")]

    operations = [
        migrations.RunPython(add_locations, migrations.RunPython.noop),
        migrations.RunPython(add_trigger, drop_trigger),
    ]
