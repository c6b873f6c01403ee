"""Compress task data with LZ4 on PostgreSQL.

A 2 KB task is stored compressed out of line; LZ4 compresses several times faster than the
default pglz, which is most of the cost of a 100,000-task import. Other databases: no-op.
"""

from django.db import DatabaseError, migrations, transaction


def use_lz4(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with (
            transaction.atomic(using=schema_editor.connection.alias),
            schema_editor.connection.cursor() as cursor,
        ):
            cursor.execute("ALTER TABLE projects_task ALTER COLUMN data SET COMPRESSION lz4")
    except DatabaseError:
        pass  # a server built without LZ4 keeps pglz: slower imports, same data


def use_default(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("ALTER TABLE projects_task ALTER COLUMN data SET COMPRESSION default")


class Migration(migrations.Migration):
    dependencies = [("projects", "0001_initial")]

    operations = [migrations.RunPython(use_lz4, use_default)]
