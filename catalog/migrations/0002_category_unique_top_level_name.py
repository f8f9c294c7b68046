"""Top-level category names are unique too (category_unique_name_in_parent lets NULL parents repeat a name).

Categories already repeating a top-level name keep the oldest as it is; the others get their id after the name
("饮料 (12)"), so the constraint can be added and staff can see, merge or rename them.
"""

from django.db import migrations, models
from django.db.models import Count

NAME_LENGTH = 100  # Category.name's max_length


def rename_repeated_top_level_names(apps, schema_editor):
    Category = apps.get_model("catalog", "Category")
    top_level = Category.objects.filter(parent__isnull=True)
    repeated = top_level.values("name").annotate(n=Count("pk")).filter(n__gt=1).values_list("name", flat=True)
    for name in list(repeated):
        for category in top_level.filter(name=name).order_by("pk")[1:]:
            suffix = f" ({category.pk})"
            category.name = name[: NAME_LENGTH - len(suffix)] + suffix
            category.save(update_fields=["name"])


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(rename_repeated_top_level_names, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="category",
            constraint=models.UniqueConstraint(
                condition=models.Q(("parent__isnull", True)),
                fields=("name",),
                name="category_unique_top_level_name",
                violation_error_message=(
                    "There is already a top-level category with this name: choose another name or a parent."
                ),
            ),
        ),
    ]
