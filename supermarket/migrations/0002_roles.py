"""Create the store's role groups (Cashier, Stock clerk, Buyer, Manager) with the permissions in supermarket.roles."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    from supermarket.roles import sync_groups

    # Permissions are normally created after the whole migrate run; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    # Permissions of models from later migrations are added by the sync that runs after every migrate.
    sync_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), strict=False)


def remove_roles(apps, schema_editor):
    from supermarket.roles import ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("supermarket", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("catalog", "0001_initial"),
        ("stock", "0003_backstore_documents"),
        ("checkout", "0002_online_register"),
        ("reports", "0003_category_rollup"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
