"""MigrationState: what each schema's `django_migrations` records, kept by a trigger on that table.

`tenancy_migration_state_refresh(table)` recomputes one table's row, with the oid of the trigger on it at that
moment (a trigger dropped and created again, e.g. by a restore, has another oid: the row is not trusted until
recomputed). It first locks the row (creating it if
needed), then reads the table in a statement of its own: under READ COMMITTED that statement sees whatever a
concurrent writer committed while this one waited, so two transactions recording migrations in the same
schema at once leave the row exact. `tenancy_migration_state_track()` is the statement-level trigger function
that calls it. `tenancy_migration_state_watch(schema)` puts the trigger on a schema's table (ENABLE ALWAYS:
it fires under session_replication_role = replica too) and computes the row; it returns false when the
schema has no `django_migrations`. Triggers reference their function by oid, and every function here runs
with the search path of this migration (the public schema), whatever the caller's.
"""

from django.db import migrations, models

REFRESH = r"""
CREATE FUNCTION tenancy_migration_state_refresh(target regclass) RETURNS void LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    recorded integer;
    digest text;
    latest timestamptz;
BEGIN
    INSERT INTO tenancy_migrationstate (table_oid, trigger_oid, schema_name, applied_count, fingerprint, last_applied)
    SELECT target::oid, 0, n.nspname, 0, md5(''), NULL
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = target
    ON CONFLICT (table_oid) DO NOTHING;
    PERFORM 1 FROM tenancy_migrationstate WHERE table_oid = target::oid FOR UPDATE;
    EXECUTE format(
        'SELECT count(*), md5(coalesce(string_agg(app || %L || name, %L ORDER BY app COLLATE "C", '
        'name COLLATE "C"), %L)), max(applied) FROM %s', '.', ',', '', target
    ) INTO recorded, digest, latest;
    UPDATE tenancy_migrationstate
    SET schema_name = (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE c.oid = target),
        trigger_oid = coalesce((SELECT oid FROM pg_trigger WHERE tgrelid = target
                                AND tgname = 'tenancy_migration_state'), 0),
        applied_count = recorded, fingerprint = digest, last_applied = latest
    WHERE table_oid = target::oid;
END
$$
"""
TRACK = """
CREATE FUNCTION tenancy_migration_state_track() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM tenancy_migration_state_refresh(TG_RELID::regclass);
    RETURN NULL;
END
$$
"""
WATCH = """
CREATE FUNCTION tenancy_migration_state_watch(schema text) RETURNS boolean LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    target regclass := to_regclass(format('%I.django_migrations', schema));
BEGIN
    IF target IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE format(
        'CREATE OR REPLACE TRIGGER tenancy_migration_state AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
        'FOR EACH STATEMENT EXECUTE FUNCTION tenancy_migration_state_track()', target
    );
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER tenancy_migration_state', target);
    PERFORM tenancy_migration_state_refresh(target);
    RETURN true;
END
$$
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0004_tenant_billing_state"),
    ]

    operations = [
        migrations.CreateModel(
            name="MigrationState",
            fields=[
                ("table_oid", models.BigIntegerField(primary_key=True, serialize=False)),
                ("trigger_oid", models.BigIntegerField()),
                ("schema_name", models.TextField()),
                ("applied_count", models.IntegerField()),
                ("fingerprint", models.CharField(max_length=32)),
                ("last_applied", models.DateTimeField(null=True)),
            ],
        ),
        migrations.RunSQL(
            [REFRESH, TRACK, WATCH],
            reverse_sql=[
                "DROP FUNCTION tenancy_migration_state_watch(text)",
                "DROP FUNCTION tenancy_migration_state_track() CASCADE",
                "DROP FUNCTION tenancy_migration_state_refresh(regclass)",
            ],
        ),
    ]
