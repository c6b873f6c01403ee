from django.db import migrations

from experts.taxonomy import seed_taxonomy


def seed(apps, schema_editor):
    seed_taxonomy(apps.get_model("experts", "Domain"))


class Migration(migrations.Migration):
    dependencies = [("experts", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
