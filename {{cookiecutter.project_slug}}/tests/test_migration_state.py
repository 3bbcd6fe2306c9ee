"""The summaries the database keeps of each schema's `django_migrations` (fleet/state.py): planning from them
gives the same plan as reading every schema, after every kind of write, and a summary the trigger could not
keep is never trusted."""

import io
import threading
import time

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from {{ cookiecutter.project_slug }}.fleet.plan import plan_fleet
from {{ cookiecutter.project_slug }}.fleet.state import fingerprint_of, state_read, state_watch
from {{ cookiecutter.project_slug }}.tenancy.models import MigrationState

pytestmark = pytest.mark.django_db
FLEET = [("public", "public"), ("tenant_acme", "acme"), ("tenant_globex", "globex")]
SCHEMAS = [schema for schema, _ in FLEET]


def execute(*statements):
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def recorded(schema):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app, name FROM {schema}.django_migrations")
        return set(cursor.fetchall())


def stored_fingerprint(schema):
    """The summary row of `schema`'s current django_migrations table, trusted or not (None: no row)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)::oid", [f"{schema}.django_migrations"])
        oid = cursor.fetchone()[0]
    row = MigrationState.objects.filter(table_oid=oid).first()
    return None if row is None else row.fingerprint


def assert_planned_as_read_directly():
    from_state = plan_fleet(FLEET)
    direct = plan_fleet(FLEET, use_state=False)
    assert from_state == direct  # every SchemaPlan field: pending, counts, last applied, consistency
    return from_state


@pytest.fixture(autouse=True)
def _watched():
    assert state_watch(SCHEMAS) == 3
    fleet = assert_planned_as_read_directly()
    assert fleet.read_directly == () and fleet.summarised == 3


# Writes the trigger sees: the summary follows them, and planning finds the schema from its own summary. An
# unknown extra row changes the count but leaves nothing to apply, as for Django's own planner.
PENDING_AFTER: dict[str, list[str]] = {"gained a row": []}
KEPT = {
    "lost a row": ["DELETE FROM tenant_globex.django_migrations WHERE app = 'customers'"],
    "gained a row": [
        "INSERT INTO tenant_globex.django_migrations (app, name, applied) VALUES ('customers', '9999_extra', now())"
    ],
    "truncated": ["TRUNCATE tenant_globex.django_migrations"],
    "renamed a row": ["UPDATE tenant_globex.django_migrations SET name = name || '_renamed' WHERE app = 'bookings'"],
    "written as a replica": [
        "SET LOCAL session_replication_role = replica",
        "DELETE FROM tenant_globex.django_migrations WHERE app = 'products'",
        "SET LOCAL session_replication_role = origin",
    ],
}


@pytest.mark.parametrize("case", KEPT)
def test_the_summary_follows_every_write_and_the_plan_equals_reading_every_schema(case):
    before = stored_fingerprint("tenant_globex")
    execute(*KEPT[case])
    assert stored_fingerprint("tenant_globex") == fingerprint_of(recorded("tenant_globex")) != before
    fleet = assert_planned_as_read_directly()
    assert "tenant_globex" not in fleet.read_directly
    assert [plan.schema for plan in fleet.pending] == PENDING_AFTER.get(case, ["tenant_globex"])
    globex = next(plan for plan in fleet.schemas if plan.schema == "tenant_globex")
    assert globex.applied_count == len(recorded("tenant_globex"))


def test_rows_written_by_copy_are_summarised():
    execute("DELETE FROM tenant_globex.django_migrations WHERE app = 'customers'")
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name, applied FROM tenant_acme.django_migrations WHERE app = 'customers'")
        rows = cursor.fetchall()
        with cursor.cursor.copy("COPY tenant_globex.django_migrations (app, name, applied) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    assert stored_fingerprint("tenant_globex") == fingerprint_of(recorded("tenant_globex"))
    assert assert_planned_as_read_directly().pending == []


# Writes the trigger cannot see: the summary goes stale, and the trust check is what keeps the plan right. Each
# case checks that the stale summary still equals the untouched schemas' (a planner trusting it would call the
# schema up to date) and that planning read the schema directly instead.
BYPASSED = {
    "trigger disabled": [
        "ALTER TABLE tenant_globex.django_migrations DISABLE TRIGGER tenancy_migration_state",
        "DELETE FROM tenant_globex.django_migrations WHERE app = 'customers'",
    ],
    "trigger enabled for origin only, written as a replica": [
        "ALTER TABLE tenant_globex.django_migrations ENABLE TRIGGER tenancy_migration_state",
        "SET LOCAL session_replication_role = replica",
        "DELETE FROM tenant_globex.django_migrations WHERE app = 'customers'",
        "SET LOCAL session_replication_role = origin",
    ],
    "trigger dropped": [
        "DROP TRIGGER tenancy_migration_state ON tenant_globex.django_migrations",
        "DELETE FROM tenant_globex.django_migrations WHERE app = 'customers'",
    ],
    # As a restore does it: the rows first, the trigger after them.
    "trigger dropped and created again after a write": [
        "DROP TRIGGER tenancy_migration_state ON tenant_globex.django_migrations",
        "DELETE FROM tenant_globex.django_migrations WHERE app = 'customers'",
        "CREATE TRIGGER tenancy_migration_state AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON tenant_globex.django_migrations FOR EACH STATEMENT EXECUTE FUNCTION tenancy_migration_state_track()",
        "ALTER TABLE tenant_globex.django_migrations ENABLE ALWAYS TRIGGER tenancy_migration_state",
    ],
}


@pytest.mark.parametrize("statements", BYPASSED.values(), ids=BYPASSED.keys())
def test_a_summary_the_trigger_could_not_keep_is_not_trusted(statements):
    execute(*statements)
    assert stored_fingerprint("tenant_globex") == stored_fingerprint("tenant_acme")  # stale: a blind planner errs
    assert stored_fingerprint("tenant_globex") != fingerprint_of(recorded("tenant_globex"))
    fleet = assert_planned_as_read_directly()
    assert fleet.read_directly == ("tenant_globex",)
    assert [plan.schema for plan in fleet.pending] == ["tenant_globex"]
    assert fleet.pending[0].pending == (("customers", "0001_initial"),)


def test_a_table_dropped_and_created_again_is_read_directly_until_watched_again():
    execute(
        "CREATE TABLE state_copy AS SELECT app, name, applied FROM tenant_globex.django_migrations "
        "WHERE app <> 'customers'",
        "DROP TABLE tenant_globex.django_migrations",
        "CREATE TABLE tenant_globex.django_migrations (LIKE tenant_acme.django_migrations INCLUDING ALL)",
        "INSERT INTO tenant_globex.django_migrations (app, name, applied) SELECT app, name, applied FROM state_copy",
    )
    assert stored_fingerprint("tenant_globex") is None  # a new oid: the old table's row cannot describe it
    fleet = assert_planned_as_read_directly()
    assert fleet.read_directly == ("tenant_globex",)
    assert fleet.pending[0].pending == (("customers", "0001_initial"),)
    assert state_watch(["tenant_globex"]) == 1
    fleet = assert_planned_as_read_directly()
    assert fleet.read_directly == () and [plan.schema for plan in fleet.pending] == ["tenant_globex"]


def test_a_schema_without_django_migrations_is_read_directly_and_not_watched():
    execute("CREATE SCHEMA state_empty")
    assert state_read(["state_empty"]) == {}
    assert state_watch(["state_empty"]) == 0
    fleet = plan_fleet([("state_empty", None)])
    assert fleet == plan_fleet([("state_empty", None)], use_state=False)
    assert fleet.read_directly == ("state_empty",) and fleet.schemas[0].applied_count == 0


@pytest.fixture
def probe_schema():
    """A schema with its own django_migrations, committed (two sessions must see it), watched; dropped after."""
    settings = connection.settings_dict
    params = {
        "dbname": settings["NAME"], "host": settings["HOST"] or None, "port": settings["PORT"] or None,
        "user": settings["USER"] or None, "password": settings["PASSWORD"] or None, "autocommit": True,
    }  # fmt: skip
    with psycopg.connect(**params) as admin:
        admin.execute("DROP SCHEMA IF EXISTS state_probe CASCADE")
        admin.execute("CREATE SCHEMA state_probe")
        admin.execute("CREATE TABLE state_probe.django_migrations (LIKE tenant_acme.django_migrations INCLUDING ALL)")
        admin.execute("SELECT tenancy_migration_state_watch('state_probe')")
        (oid,) = admin.execute("SELECT 'state_probe.django_migrations'::regclass::oid").fetchall()[0]
        try:
            yield params
        finally:
            admin.execute("DROP SCHEMA state_probe CASCADE")
            admin.execute("DELETE FROM tenancy_migrationstate WHERE table_oid = %s", [oid])


def test_two_sessions_recording_in_one_schema_at_once_leave_an_exact_summary(probe_schema):
    insert = "INSERT INTO state_probe.django_migrations (app, name, applied) VALUES (%s, %s, now())"
    with psycopg.connect(**probe_schema) as watcher, psycopg.connect(**{**probe_schema, "autocommit": False}) as first:
        first.execute(insert, ["probe", "0001_first"])  # its trigger holds the summary row until commit
        second_pid = []

        def second_session():
            with psycopg.connect(**{**probe_schema, "autocommit": False}) as second:
                second_pid.append(second.info.backend_pid)
                second.execute(insert, ["probe", "0002_second"])
                second.commit()

        thread = threading.Thread(target=second_session)
        thread.start()
        deadline = time.monotonic() + 30
        while True:  # until the second session waits for the first one's lock on the summary row
            ((waiting,),) = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'",
                [second_pid[0] if second_pid else 0],
            ).fetchall()
            if waiting or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert waiting, "the second session never waited for the first"
        first.commit()
        thread.join(30)
    assert not thread.is_alive()
    expected = {("probe", "0001_first"), ("probe", "0002_second")}
    assert state_read(["state_probe"])["state_probe"].fingerprint == fingerprint_of(expected)
    assert state_read(["state_probe"])["state_probe"].applied_count == 2


def test_bare_migrate_schemas_puts_the_trigger_back_where_planning_had_to_read_directly():
    execute("DROP TRIGGER tenancy_migration_state ON tenant_globex.django_migrations")
    assert plan_fleet(FLEET).read_directly == ("tenant_globex",)
    out = io.StringIO()
    call_command("migrate_schemas", stdout=out, stderr=io.StringIO())
    assert "0 to migrate" in out.getvalue()
    assert "the database now keeps the summary of 1 more schema(s)" in out.getvalue()
    fleet = assert_planned_as_read_directly()
    assert fleet.read_directly == () and fleet.pending == []


def test_migrate_schemas_deletes_the_summaries_of_tables_that_are_gone():
    execute(
        "CREATE SCHEMA state_gone",
        "CREATE TABLE state_gone.django_migrations (LIKE tenant_acme.django_migrations INCLUDING ALL)",
    )
    assert state_watch(["state_gone"]) == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'state_gone.django_migrations'::regclass::oid")
        (oid,) = cursor.fetchone()
    execute("DROP SCHEMA state_gone CASCADE")
    assert MigrationState.objects.filter(table_oid=oid).exists()
    call_command("migrate_schemas", stdout=io.StringIO(), stderr=io.StringIO())
    assert not MigrationState.objects.filter(table_oid=oid).exists()
    assert MigrationState.objects.count() >= len(SCHEMAS)
