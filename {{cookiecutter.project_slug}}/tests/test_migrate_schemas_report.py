"""migrate_schemas --report, --verify, progress lines and retry messages, on committed schemas of its own.

Three tenants (report-a, report-b, report-c) are created for this module and dropped after it
(no test transaction: what the command does is committed). A test that rolls a schema's bookings
app back, blocks a migration or changes a table puts the schema back as it found it.
"""

import contextlib
import io
import json
import re
import threading
import time
from dataclasses import asdict

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from {{ cookiecutter.project_slug }}.fleet.executor import Retry, SchemaResult, fleet_migrate
from {{ cookiecutter.project_slug }}.fleet.plan import select_schemas

from conftest import committed_tenants, test_database_url

SLUGS = ["report-a", "report-b", "report-c"]
SCHEMAS = [f"tenant_report_{slug[-1]}" for slug in SLUGS]
BOOKINGS = [
    "bookings.0001_initial",
    "bookings.0002_booking_created_by",
    "bookings.0003_booking_reminder_sent_at",
    "bookings.0004_user_references_without_foreign_keys",
]
RETRY_LINE = re.compile(r"^(\S+): attempt (\d+) failed \(SQLSTATE (\w+) (\w+)\), retrying in ([\d.]+) s$", re.MULTILINE)


@pytest.fixture(scope="module")
def fleet(django_db_setup, django_db_blocker):
    with committed_tenants(django_db_blocker, SLUGS) as schemas:
        assert schemas == SCHEMAS
        yield schemas


@pytest.fixture
def committed(fleet, django_db_blocker):
    """Database access outside any test transaction; every schema of the module is migrated afterwards."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        yield fleet
        connection.set_schema_to_public()
        for schema in fleet:
            if not sql(f"SELECT 1 FROM \"{schema}\".django_migrations WHERE app = 'bookings'"):
                sql(f'DROP TABLE IF EXISTS "{schema}".bookings_booking')  # a blocker left by a failed test
        fleet_migrate(schemas=[(schema, None) for schema in fleet])


class Terminal(io.StringIO):
    """Captured output that says it is a terminal, as a shell's stdout would."""

    def isatty(self):
        return True


def migrate(*args, stdout=None):
    """Run migrate_schemas; return its stdout (raises CommandError as the command does)."""
    out = stdout if stdout is not None else io.StringIO()
    call_command("migrate_schemas", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def failing(*args):
    """Run migrate_schemas expecting it to fail; return (exit code, message)."""
    with pytest.raises(CommandError) as excinfo:
        migrate(*args)
    return excinfo.value.returncode, str(excinfo.value)


def sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def roll_back_bookings(*schemas):
    for schema in schemas:
        migrate("--schema", schema, "bookings", "zero", "--verbosity", "0")


def block_bookings(schema):
    """A table in the way of bookings' CreateModel: migrating `schema` (bookings rolled back) fails until
    `unblock_bookings`."""
    sql(f'CREATE TABLE "{schema}".bookings_booking (id int)')


def unblock_bookings(schema):
    sql(f'DROP TABLE "{schema}".bookings_booking')


def has_bookings_table(schema):
    return sql("SELECT to_regclass(%s)", [f'"{schema}".bookings_booking']) != [(None,)]


def read_report(path):
    return {record["schema"]: record for record in json.loads(path.read_text())}


@contextlib.contextmanager
def products_locked_until_a_migration_waits(schema):
    """Another connection holds `schema`.products_product until a migration waits for it, and 0.5 s longer
    (past the 200 ms lock timeout the tests give, so that attempt fails), then lets go."""
    ready = threading.Event()

    def hold():
        with psycopg.connect(test_database_url()) as holder, psycopg.connect(test_database_url()) as watcher:
            holder.execute(f'LOCK TABLE "{schema}".products_product IN ACCESS EXCLUSIVE MODE')
            ready.set()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE NOT l.granted AND n.nspname = %s AND c.relname = 'products_product'",
                    [schema],
                ).fetchall() != [(0,)]
                watcher.rollback()
                if waiting:
                    break
                time.sleep(0.02)
            time.sleep(0.5)
            holder.rollback()

    holder = threading.Thread(target=hold)
    holder.start()
    assert ready.wait(10)
    try:
        yield
    finally:
        holder.join()


def test_report_has_one_record_per_selected_schema_with_its_status(committed, tmp_path):
    migrated, failed, current = committed
    roll_back_bookings(migrated, failed)
    block_bookings(failed)
    path = tmp_path / "report.json"

    code, message = failing("--tenant", "--continue-on-error", "--report", str(path))

    assert code == 1 and failed in message
    records = json.loads(path.read_text())
    assert [record["schema"] for record in records] == [schema for schema, _ in select_schemas(shared=False)]
    by_schema = {record["schema"]: record for record in records}
    assert by_schema[migrated] == {
        "schema": migrated, "tenant": "report-a", "status": "migrated", "applied": BOOKINGS, "attempts": 1,
        "milliseconds": by_schema[migrated]["milliseconds"], "error": None, "retries": [],
    }  # fmt: skip
    assert by_schema[migrated]["milliseconds"] > 0
    assert by_schema[failed]["status"] == "failed" and by_schema[failed]["tenant"] == "report-b"
    assert "already exists" in by_schema[failed]["error"]
    assert by_schema[failed]["applied"] == [] and by_schema[failed]["attempts"] == 1
    assert by_schema[current] == {
        "schema": current, "tenant": "report-c", "status": "up_to_date", "applied": [], "attempts": 0,
        "milliseconds": 0, "error": None, "retries": [],
    }  # fmt: skip
    unblock_bookings(failed)


def test_report_names_the_schemas_a_failing_canary_kept_from_running(committed, tmp_path):
    roll_back_bookings(*committed)
    block_bookings(committed[2])
    path = tmp_path / "report.json"

    code, message = failing("--tenant", "--canary", "report-c", "--report", str(path))

    assert code == 1 and "canary" in message
    records = read_report(path)
    assert records[committed[2]]["status"] == "failed"
    assert [records[schema]["status"] for schema in committed[:2]] == ["not_run", "not_run"]
    assert [records[schema]["attempts"] for schema in committed[:2]] == [0, 0]
    unblock_bookings(committed[2])


def test_report_of_a_run_with_nothing_pending_says_every_schema_is_up_to_date(committed, tmp_path):
    path = tmp_path / "report.json"
    selected = {schema for schema, _ in select_schemas(shared=True, tenants=True)}  # before the pool is topped up
    migrate("--report", str(path))
    records = read_report(path)
    assert set(records) == selected
    assert {record["status"] for record in records.values()} == {"up_to_date"}
    assert records["public"]["tenant"] == "public"


def test_each_finished_schema_gets_one_line_when_stdout_is_not_a_terminal(committed):
    roll_back_bookings(*committed[:2])
    output = migrate("--tenant")
    lines = output.splitlines()
    for schema in committed[:2]:
        assert f"{schema}: migrated [{', '.join(BOOKINGS)}] in " in output
    assert not any(line.startswith(f"{committed[2]}:") for line in lines)  # up to date: not migrated, no line
    assert lines[-2].startswith("2 migrated, ") and "0 failed" in lines[-2]
    assert lines[-1].startswith("Time: planning ")  # where the time went closes the output


def test_on_a_terminal_a_progress_bar_counts_the_migrated_schemas(committed):
    roll_back_bookings(*committed[:2])
    output = migrate("--tenant", stdout=Terminal())
    assert "Migrating" in output and "2/2" in output
    assert f"{committed[0]}: migrated" not in output  # success is the bar's job; lines are for failures
    assert "2 migrated, " in output.rstrip().splitlines()[-2]


def test_retries_are_printed_with_attempt_sqlstate_and_backoff_and_counted_in_the_report(committed, tmp_path):
    schema = committed[0]
    roll_back_bookings(schema)
    path = tmp_path / "report.json"

    with products_locked_until_a_migration_waits(schema):
        output = migrate("--schema", schema, "--lock-timeout", "200", "--retries", "4", "--report", str(path))

    assert f"{schema}: attempt 1 failed (SQLSTATE 55P03 lock_not_available), retrying in 0.5 s" in output
    retries = RETRY_LINE.findall(output)
    assert [int(attempt) for _, attempt, *_ in retries] == list(range(1, len(retries) + 1))
    record = read_report(path)[schema]
    assert record["status"] == "migrated" and record["applied"] == BOOKINGS
    assert record["attempts"] == len(retries) + 1 >= 2
    assert [retry["sqlstate"] for retry in record["retries"]] == ["55P03"] * len(retries)
    assert record["retries"][0]["backoff_seconds"] == 0.5
{%- if cookiecutter.use_celery == "y" %}


def test_celery_executor_carries_retries_back_into_the_output_and_the_report(committed, celery_worker, tmp_path):
    schema = committed[1]
    roll_back_bookings(schema)
    path = tmp_path / "report.json"

    with products_locked_until_a_migration_waits(schema):
        output = migrate(
            "--schema", schema, "--executor", "celery", "--queue", celery_worker[0], "--lock-timeout", "200",
            "--retries", "4", "--report", str(path),
        )  # fmt: skip

    assert f"{schema}: attempt 1 failed (SQLSTATE 55P03 lock_not_available), retrying in 0.5 s" in output
    record = read_report(path)[schema]
    assert record["status"] == "migrated" and record["attempts"] == len(RETRY_LINE.findall(output)) + 1 >= 2
{%- endif %}


def test_schema_result_with_retries_survives_a_json_round_trip():
    result = SchemaResult(
        "tenant_x", "migrated", ["bookings.0001_initial"], None, 2, 1.5, 42,
        [Retry(attempt=1, sqlstate="40P01", condition="deadlock_detected", backoff_seconds=0.5, error="x")],
    )  # fmt: skip
    fields = json.loads(json.dumps(asdict(result)))
    assert SchemaResult.from_fields(fields) == result
    assert SchemaResult.from_fields({**fields, "added_by_a_newer_worker": 1}) == result


def test_verify_exits_0_when_every_schema_matches_the_stock_reference(committed):
    selected = select_schemas(shared=True, tenants=True)
    output = migrate("--verify")
    assert output.strip().splitlines()[-1] == f"{len(selected)} schema(s) match the stock reference."


def test_verify_exits_1_naming_the_schema_and_the_column_dropped_by_hand(committed):
    drifted = committed[1]
    sql(f'ALTER TABLE "{drifted}".products_product DROP COLUMN image')  # its migration row stays
    try:
        out = io.StringIO()
        with pytest.raises(CommandError) as excinfo:
            migrate("--verify", "--tenant", stdout=out)
        assert excinfo.value.returncode == 1
        assert (
            f"{drifted}: missing column products_product.image (expected: character varying(100) NOT NULL)"
            in out.getvalue()
        )
        assert f"schema(s) differ from the stock reference: {drifted}" in str(excinfo.value)
        assert not any(schema in out.getvalue() for schema in (committed[0], committed[2]))
    finally:
        sql(f"ALTER TABLE \"{drifted}\".products_product ADD COLUMN image varchar(100) NOT NULL DEFAULT ''")
        sql(f'ALTER TABLE "{drifted}".products_product ALTER COLUMN image DROP DEFAULT')
    assert "1 schema(s) match the stock reference." in migrate("--verify", "--tenant=report-b")


def test_verify_names_a_schema_with_pending_migrations_instead_of_comparing_it(committed):
    schema = committed[0]
    roll_back_bookings(schema)
    out = io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        migrate("--verify", "--tenant=report-a", stdout=out)
    assert excinfo.value.returncode == 1
    assert f"{schema}: {len(BOOKINGS)} migration(s) pending ({', '.join(BOOKINGS[:3])} and 1 more)" in out.getvalue()
    assert "missing" not in out.getvalue()
    assert "1 schema(s) have pending migrations" in str(excinfo.value)
    assert not has_bookings_table(schema)  # --verify migrates nothing


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--report", "{tmp}/no-such-directory/report.json"], "{tmp}/no-such-directory/report.json"),
        (["--report", "{tmp}"], "{tmp}"),
        (["--report", "{tmp}/report.json", "--executor", "standard"], "--executor standard"),
        (["--report", "{tmp}/report.json", "--plan"], "--plan"),
        (["--verify", "--check"], "--check"),
    ],
)
def test_report_and_verify_misuse_exit_2_before_anything_is_migrated(committed, tmp_path, args, named):
    schema = committed[2]
    roll_back_bookings(schema)
    code, message = failing("--schema", schema, *(arg.format(tmp=tmp_path) for arg in args))
    assert code == 2
    assert named.format(tmp=tmp_path) in message
    assert not has_bookings_table(schema)
    assert list(tmp_path.iterdir()) == []
