from django.db import migrations
from django.utils.text import slugify

from experts.taxonomy import TAXONOMY


def seed(apps, schema_editor):
    Domain = apps.get_model("experts", "Domain")
    for field, specialties in TAXONOMY.items():
        parent, _ = Domain.objects.get_or_create(
            parent=None, name=field, defaults={"slug": slugify(field)}
        )
        for specialty in specialties:
            Domain.objects.get_or_create(
                parent=parent,
                name=specialty,
                defaults={"slug": f"{slugify(field)}-{slugify(specialty)}"},
            )


class Migration(migrations.Migration):
    dependencies = [("experts", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
