"""The database itself refuses to change posted money: entries and ledger transactions
cannot be updated (on SQLite and PostgreSQL) or deleted (PostgreSQL; SQLite's test flush
deletes rows). Mistakes are reversed by new transactions."""

from django.db import migrations

TABLES = ("payments_entry", "payments_ledgertransaction")


def create_guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(
                f"""
                CREATE OR REPLACE FUNCTION {table}_immutable() RETURNS trigger AS $$
                BEGIN
                    RAISE EXCEPTION 'posted ledger rows cannot be changed ({table})';
                END;
                $$ LANGUAGE plpgsql;
                """
            )
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_immutable();"
            )
        elif vendor == "sqlite":
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'posted ledger rows cannot be changed ({table})'); END;"
            )


def drop_guards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update ON {table};")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_immutable();")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update;")


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_ledger")]

    operations = [migrations.RunPython(create_guards, drop_guards)]
