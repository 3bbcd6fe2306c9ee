"""Fleet planning in migrate_schemas: one read of every schema, up-to-date schemas skipped."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django_tenants.signals import schema_migrated

from {{ cookiecutter.project_slug }}.fleet.plan import plan_fleet
from {{ cookiecutter.project_slug }}.fleet.state import state_watch
from {{ cookiecutter.project_slug }}.tenancy.models import SpareSchema

pytestmark = pytest.mark.django_db
FLEET = [("public", "public"), ("tenant_acme", "acme"), ("tenant_globex", "globex")]


def spares():
    """The spare schemas of the provisioning pool: migrate_schemas migrates them after the tenants."""
    return list(SpareSchema.objects.values_list("schema_name", flat=True))


def run(*args):
    out = io.StringIO()
    call_command("migrate_schemas", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def table_exists(schema, table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"{schema}.{table}"])
        return cursor.fetchone()[0] is not None


@pytest.fixture
def migrated_schemas():
    """Schemas that django-tenants' executor migrated during the test (its schema_migrated signal)."""
    schemas = []

    def record(sender, schema_name, **kwargs):
        schemas.append(schema_name)

    schema_migrated.connect(record)
    yield schemas
    schema_migrated.disconnect(record)


def test_planner_reads_the_fleet_in_a_bounded_number_of_queries():
    # Reading every schema: the catalog, then one UNION ALL for up to 1,000 schemas.
    assert plan_fleet(FLEET, use_state=False).queries == 2
    assert plan_fleet(FLEET, use_state=False, chunk_size=1).queries == 4
    state_watch([schema for schema, _ in FLEET])
    fleet = plan_fleet(FLEET)
    # From the summaries: is the state table there, every schema's summary, then the catalog and one UNION ALL
    # for one schema per distinct fingerprint, however many schemas share it.
    assert (fleet.queries, fleet.summarised, fleet.read_directly) == (4, 3, ())
    assert all(plan.up_to_date for plan in fleet.schemas)


def test_planner_finds_a_schema_that_lost_a_django_migrations_row():
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tenant_globex.django_migrations WHERE app = 'customers'")
    fleet = plan_fleet(FLEET)
    assert [plan.schema for plan in fleet.pending] == ["tenant_globex"]
    assert fleet.pending[0].pending == (("customers", "0001_initial"),)


def test_migrate_with_nothing_pending_migrates_no_schema(migrated_schemas):
    output = run()
    count = 3 + len(spares())
    assert f"{count} schema(s)" in output and f"{count} up to date, 0 to migrate" in output
    assert migrated_schemas == []


def test_one_tenant_rollback_then_migrate_applies_only_to_that_schema(migrated_schemas):
    run("--schema", "tenant_acme", "bookings", "zero", "--verbosity", "0")
    assert not table_exists("tenant_acme", "bookings_booking")
    assert table_exists("tenant_globex", "bookings_booking")
    migrated_schemas.clear()

    output = run("--tenant")
    assert "1 to migrate" in output
    assert migrated_schemas == ["tenant_acme"]
    assert table_exists("tenant_acme", "bookings_booking")


def test_plan_groups_identical_plans_and_changes_nothing():
    run("--schema", "tenant_acme", "bookings", "zero", "--verbosity", "0")
    run("--schema", "tenant_globex", "bookings", "zero", "--verbosity", "0")
    for flag in ("--plan", "--dry-run"):
        output = run("--tenant", flag)
        assert "2 schema(s): tenant_acme, tenant_globex" in output
        assert "apply bookings.0001_initial" in output
    assert not table_exists("tenant_acme", "bookings_booking")


def test_check_exits_1_naming_pending_schemas_and_0_when_up_to_date():
    assert f"No unapplied migrations in {3 + len(spares())} schema(s)" in run("--check")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tenant_acme.django_migrations WHERE app = 'products'")
    with pytest.raises(CommandError, match="tenant_acme") as excinfo:
        run("--check")
    assert excinfo.value.returncode == 1
    assert table_exists("tenant_acme", "products_product")


def test_list_as_json_gives_applied_pending_and_last_applied_per_schema():
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tenant_acme.django_migrations WHERE app = 'bookings'")
    rows = {row["schema"]: row for row in json.loads(run("--list", "--format", "json"))}
    assert set(rows) == {"public", "tenant_acme", "tenant_globex", *spares()}
    assert rows["tenant_acme"]["tenant"] == "acme"
    assert rows["tenant_acme"]["pending"] == [
        "bookings.0001_initial", "bookings.0002_booking_created_by", "bookings.0003_booking_reminder_sent_at",
        "bookings.0004_user_references_without_foreign_keys",
    ]  # fmt: skip
    assert rows["tenant_globex"]["pending"] == []
    assert rows["tenant_globex"]["applied"] == rows["tenant_acme"]["applied"] + 4
    assert rows["tenant_globex"]["last_applied"] is not None


def test_unknown_schema_is_bad_usage():
    with pytest.raises(CommandError, match="'tenant_nope'") as excinfo:
        run("--schema", "tenant_nope")
    assert excinfo.value.returncode == 2


def test_fake_recovers_a_schema_that_lost_its_rows_without_touching_tables():
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tenant_acme.django_migrations WHERE app = 'bookings'")
    run("--tenant=acme", "--fake", "--verbosity", "0")
    assert "No unapplied migrations" in run("--check")
    assert table_exists("tenant_acme", "bookings_booking")


def test_a_schema_with_inconsistent_history_is_reported_and_nothing_is_migrated(migrated_schemas):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tenant_acme.django_migrations WHERE app = 'customers'")
        cursor.execute("DELETE FROM tenant_globex.django_migrations WHERE app = 'bookings'")
    assert "will not be migrated: InconsistentMigrationHistory" in run("--tenant", "--plan")
    with pytest.raises(CommandError, match="tenant_acme: InconsistentMigrationHistory") as excinfo:
        run("--tenant")
    assert excinfo.value.returncode == 1
    assert migrated_schemas == []
