"""The project's migration executor on committed schemas of its own (no test transaction).

Three tenants (fleet-a, fleet-b, fleet-c) are created for this module and dropped after it.
Each test starts by rolling the bookings app back to zero in the schemas it needs, so there
is a real CreateModel (tables, foreign keys, indexes, constraints) to apply.
"""

import io
import os
import re
import threading
import time
import uuid

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, migrations, models, transaction
from django.db.migrations.loader import MigrationLoader

from {{ cookiecutter.project_slug }}.fleet.executor import (
    AUTO_PARALLEL_MIN_SCHEMAS,
    BATCH_SIZE,
    fleet_migrate,
    parallel_auto,
    prepare_group,
)
from {{ cookiecutter.project_slug }}.fleet.verification import catalog_read, fleet_verify

from conftest import committed_tenants, test_database_url

SLUGS = ["fleet-a", "fleet-b", "fleet-c"]
SCHEMAS = [f"tenant_fleet_{slug[-1]}" for slug in SLUGS]


@pytest.fixture(scope="module")
def fleet(django_db_setup, django_db_blocker):
    with committed_tenants(django_db_blocker, SLUGS) as schemas:
        assert schemas == SCHEMAS
        yield schemas


@pytest.fixture
def committed(fleet, django_db_blocker):
    """Database access outside any test transaction: what the executor does is committed."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        yield fleet
        connection.set_schema_to_public()


def migrate(*args):
    out = io.StringIO()
    call_command("migrate_schemas", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def roll_back_bookings(*schemas):
    for schema in schemas:
        migrate("--schema", schema, "bookings", "zero", "--verbosity", "0")


def sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def catalog(schema):
    """Everything migrations decide about a schema (fleet.verification), with the schema name taken out, and
    the rows Django keeps about migrations and models; not sequence positions, which earlier tests move."""
    found = catalog_read([schema], data=True)[schema]
    return {key: value for key, value in found.items() if not key.startswith("sequence value ")}


def test_project_executor_builds_exactly_what_stock_builds(committed):
    stock, *project = committed
    roll_back_bookings(*committed)
    migrate("--schema", stock, "--executor", "standard", "--verbosity", "0")  # django-tenants' own executor
    report = fleet_migrate(schemas=[(schema, None) for schema in project])  # one group of two: shared SQL
    assert [result.status for result in report.results] == ["migrated", "migrated"]
    assert report.results[0].applied == [
        "bookings.0001_initial", "bookings.0002_booking_created_by", "bookings.0003_booking_reminder_sent_at",
        "bookings.0004_user_references_without_foreign_keys",
    ]  # fmt: skip
    reference = catalog(stock)
    assert "table bookings_booking" in reference
    assert "row django_migrations bookings.0003_booking_reminder_sent_at" in reference
    for schema in project:
        assert catalog(schema) == reference


def test_bare_migrate_schemas_runs_a_tenant_app_migration_pending_in_public_and_tenants(committed):
    """`make migrate` runs the bare command; public records tenant-app migrations without running them (stock
    django-tenants does the same), so public and the tenants have the same pending plan, and the tenants must
    still get the migration's operations."""
    for schema in committed:
        migrate("--schema", schema, "bookings", "0001", "--verbosity", "0")
    sql("DELETE FROM public.django_migrations WHERE app = 'bookings' AND name <> '0001_initial'")

    migrate("--noinput")

    for schema in ["public", *committed]:
        recorded = sql(f"SELECT name FROM \"{schema}\".django_migrations WHERE app = 'bookings' ORDER BY name")
        assert recorded[-1:] == [("0004_user_references_without_foreign_keys",)]
    assert sql("SELECT to_regclass('public.bookings_booking')") == [(None,)]
    assert fleet_verify(["public", *committed]) == {}


def test_the_bare_command_says_how_many_workers_it_chose(committed):
    roll_back_bookings(committed[0])

    out = migrate("--noinput")

    assert "1 worker process(es) (auto: 1 schema(s), fewer than 50; --parallel N chooses)." in out
    # Where the time went, as the last line: planning, migrating (post_migrate and retries), the upkeep of the
    # migration summaries (fleet/state.py), the pool top-up.
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"Time: planning \d+\.\d\d s, migrating \d+\.\d\d s \(summed over schemas: post_migrate \d+\.\d\d s, "
        r"lost to lock waits and retries 0\.00 s\)(, migration-state upkeep \d+\.\d\d s)?"
        r"(, spare-pool top-up \d+\.\d\d s)?; total \d+\.\d\d s\.",
        last,
    ), out
    assert fleet_verify(["public", *committed]) == {}


def test_parallel_auto_uses_the_cores_for_a_large_fleet_and_one_process_for_a_small_one(committed):
    cores = len(os.sched_getaffinity(0))
    free = sql(
        "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int"
        " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
    )[0][0]

    small = parallel_auto(AUTO_PARALLEL_MIN_SCHEMAS - 1)
    large = parallel_auto(1000)
    two_batches = parallel_auto(AUTO_PARALLEL_MIN_SCHEMAS)

    assert (small.workers, small.free_connections) == (1, None)
    assert free >= 8, "the test server should have room for a few connections"
    assert large.workers == max(1, min(cores, free // 4)) and large.cores == cores
    assert abs(large.free_connections - free) <= 2  # other tests' connections come and go
    assert two_batches.workers == max(1, min(cores, free // 4, AUTO_PARALLEL_MIN_SCHEMAS // BATCH_SIZE))
    assert f"{cores} usable core(s)" in large.reason
    with transaction.atomic():  # forked workers could not see this transaction's work: one process
        assert parallel_auto(1000).workers == 1


def test_a_schema_without_django_migrations_gets_the_table_and_every_migration(committed):
    schema = f"fleet_empty_{uuid.uuid4().hex[:8]}"
    sql(f'CREATE SCHEMA "{schema}"')
    try:
        report = fleet_migrate(schemas=[(schema, None)])

        assert report.results[0].status == "migrated", report.results[0].error
        assert sql(f"SELECT to_regclass('\"{schema}\".django_migrations') IS NOT NULL") == [(True,)]
        assert catalog(schema) == catalog(committed[0])
    finally:
        sql(f'DROP SCHEMA "{schema}" CASCADE')


def test_a_failing_schema_is_recorded_and_the_rest_continue_then_a_rerun_resumes(committed):
    roll_back_bookings(*committed)
    sql(f'CREATE TABLE "{committed[1]}".bookings_booking (id int)')  # in the way of CreateModel
    with pytest.raises(CommandError) as excinfo:
        migrate("--tenant", "--continue-on-error")
    assert excinfo.value.returncode == 1
    assert committed[1] in str(excinfo.value) and "already exists" in str(excinfo.value)
    applied = {
        schema: sql(f"SELECT count(*) FROM \"{schema}\".django_migrations WHERE app = 'bookings'")[0][0]
        for schema in committed
    }
    assert applied == {committed[0]: 4, committed[1]: 0, committed[2]: 4}

    sql(f'DROP TABLE "{committed[1]}".bookings_booking')
    report = fleet_migrate(schemas=[(schema, None) for schema in committed])
    assert [r.status for r in report.results] == ["up_to_date", "migrated", "up_to_date"]


def test_without_continue_on_error_the_run_stops_at_the_first_failure(committed):
    roll_back_bookings(*committed)
    sql(f'CREATE TABLE "{committed[0]}".bookings_booking (id int)')
    try:
        report = fleet_migrate(schemas=[(schema, None) for schema in committed])
        assert [r.status for r in report.results] == ["failed", "not_run", "not_run"]
        assert not report.ok
    finally:
        sql(f'DROP TABLE "{committed[0]}".bookings_booking')
        fleet_migrate(schemas=[(schema, None) for schema in committed])


def test_a_failing_canary_stops_the_rest(committed):
    roll_back_bookings(*committed)
    sql(f'CREATE TABLE "{committed[2]}".bookings_booking (id int)')
    try:
        with pytest.raises(CommandError, match="canary") as excinfo:
            migrate("--tenant", "--canary", "fleet-c", "--continue-on-error")
        assert excinfo.value.returncode == 1
        for schema in committed[:2]:
            assert sql(f"SELECT to_regclass('\"{schema}\".bookings_booking')") == [(None,)]
    finally:
        sql(f'DROP TABLE "{committed[2]}".bookings_booking')
        fleet_migrate(schemas=[(schema, None) for schema in committed])


def hold_lock(schema, seconds, ready):
    with psycopg.connect(test_database_url(), autocommit=False) as conn:
        conn.execute(f'LOCK TABLE "{schema}".products_product IN ACCESS EXCLUSIVE MODE')
        ready.set()
        time.sleep(seconds)
        conn.rollback()


def migrate_while_locked(schema, *, hold_seconds, retries):
    """Migrate `schema` (bookings pending) while another connection holds products_product for `hold_seconds`."""
    roll_back_bookings(schema)
    ready = threading.Event()
    holder = threading.Thread(target=hold_lock, args=(schema, hold_seconds, ready))
    holder.start()
    ready.wait(10)
    try:
        return fleet_migrate(schemas=[(schema, None)], retries=retries, lock_timeout_ms=200).results[0]
    finally:
        holder.join()


def test_a_schema_blocked_past_lock_timeout_is_retried_until_it_succeeds(committed):
    result = migrate_while_locked(committed[0], hold_seconds=1.2, retries=4)
    assert result.status == "migrated"
    assert result.attempts >= 2
    # The failed attempt's lock wait (lock_timeout 200 ms) and its backoff (0.5 s) are counted as lost to retries.
    assert 0.7 <= result.retry_seconds < result.seconds


def test_a_schema_blocked_past_lock_timeout_fails_without_retries(committed):
    result = migrate_while_locked(committed[0], hold_seconds=1.0, retries=0)
    assert result.status == "failed"
    assert "lock timeout" in str(result.error)
    assert fleet_migrate(schemas=[(committed[0], None)]).results[0].status == "migrated"


def test_parallel_workers_use_their_own_connections(committed):
    roll_back_bookings(*committed)
    parent_pid = sql("SELECT pg_backend_pid()")[0][0]
    report = fleet_migrate(schemas=[(schema, None) for schema in committed], parallel=2)
    assert [r.status for r in report.results] == ["migrated"] * 3
    pids = {r.backend_pid for r in report.results}
    assert parent_pid not in pids
    assert len(pids) == 2


def loader_with(*operations):
    """The migration graph on disk plus one more products migration made of `operations`; returns (loader, key)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    (leaf,) = loader.graph.leaf_nodes("products")
    body = {"operations": list(operations), "dependencies": [leaf]}
    migration = type("Migration", (migrations.Migration,), body)("9999_fleet_test", "products")
    key = ("products", migration.name)
    loader.graph.add_node(key, migration)
    loader.graph.add_dependency(migration, key, leaf)
    return loader, key


def test_sql_is_shared_only_when_two_schemas_of_the_group_generate_the_same(committed):
    deterministic = migrations.AddField("product", "fleet_note", models.IntegerField(null=True))
    # A callable default is evaluated while the SQL is generated: every schema gets its own value, as with stock.
    per_schema = migrations.AddField("product", "fleet_token", models.UUIDField(default=uuid.uuid4))
    for operation, shared in ((deterministic, True), (per_schema, False)):
        loader, key = loader_with(operation)
        connection.set_schema(committed[0])

        group = prepare_group(loader, committed[:2], [key], set())

        assert (group.steps[0].sql is not None) is shared, operation


def test_the_public_schema_never_shares_sql_with_tenant_schemas(committed):
    loader, key = loader_with(migrations.AddField("product", "fleet_note", models.IntegerField(null=True)))
    with pytest.raises(ValueError, match="public schema cannot share SQL"):
        prepare_group(loader, ["public", committed[0]], [key], set())
