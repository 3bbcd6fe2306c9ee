"""The routing version: one row bumped by statement-level triggers on tenancy_tenant and tenancy_domain.

Every INSERT, UPDATE, DELETE or TRUNCATE of tenants or domains, whatever issues it (ORM, QuerySet.update,
raw SQL, psql, pg_restore of rows), increments RoutingVersion.version in the same transaction, so the new
value is visible exactly when the change is (tenancy/routing.py reads it with every request's search path).
The function names the version table through TG_TABLE_SCHEMA: it is found whatever the session's search_path.
"""

from django.db import migrations, models

FUNCTION = """
CREATE FUNCTION tenancy_routing_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('UPDATE %I.tenancy_routingversion SET version = version + 1 WHERE id = 1', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$
"""
TABLES = ("tenancy_tenant", "tenancy_domain")
TRIGGERS = [
    f"CREATE TRIGGER tenancy_routing_version_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION tenancy_routing_version_bump()"
    for table in TABLES
]
DROP_TRIGGERS = [f"DROP TRIGGER tenancy_routing_version_bump ON {table}" for table in TABLES]


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0002_spare_schema_pool"),
    ]

    operations = [
        migrations.CreateModel(
            name="RoutingVersion",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunSQL(
            ["INSERT INTO tenancy_routingversion (id, version) VALUES (1, 0)", FUNCTION, *TRIGGERS],
            reverse_sql=[*DROP_TRIGGERS, "DROP FUNCTION tenancy_routing_version_bump()"],
        ),
    ]
