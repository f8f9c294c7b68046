from django.db import migrations


def create_online_register(apps, schema_editor):
    """The built-in register for API sales sent without one: no cash drawer, no shift."""
    Location = apps.get_model("stock", "Location")
    Register = apps.get_model("checkout", "Register")
    location = Location.objects.filter(is_default=True).first()
    if location is None:
        location = Location.objects.create(code="FLOOR", name="卖场 Store floor", kind="floor", is_default=True)
    Register.objects.get_or_create(code="WEB", defaults={"name": "线上 Online", "location": location, "online": True})


class Migration(migrations.Migration):
    dependencies = [
        ("checkout", "0001_initial"),
        ("stock", "0002_default_locations_and_append_only_ledger"),
    ]

    operations = [migrations.RunPython(create_online_register, migrations.RunPython.noop)]
