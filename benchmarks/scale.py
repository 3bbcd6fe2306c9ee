"""Scale benchmark: one fleet grown to 1,000 and then 10,000 tenants, every figure a user meets at each size, and
how much it grew.

Command line, at the template root (a fresh bake of the template's working tree; benchmarks/README.md)::

    make benchmark-scale                                   # 1,000 then 10,000 tenants
    make benchmark-scale BENCHMARK_ARGS="--sizes 50,200"   # a quick check of the benchmark itself

or from a baked project's folder, with the template root on PYTHONPATH::

    python -m benchmarks.scale [--sizes 1000,10000] [--runs 3] [--creations 100] [--stock-runs 1] ...

It works on a PostgreSQL server of its own (benchmarks.harness.DedicatedPostgres, as benchmarks/routing.py: the
statements of routed requests are counted in its statement log, its backends' memory read from /proc, and
10,000 tenants' catalog, several gigabytes, never lands on a shared server), migrates its public schema with
django-tenants' own `migrate_schemas --shared`, and removes the server and its folder at the end, also after an
error or Ctrl-C. Redis (REDIS_URL, else the bake's embedded one) carries the fan-out's messages, in queues of the
benchmark's own that it deletes.

For each size in `--sizes`, smallest first, the same database grows to that many tenants and is measured:

1. Growth (not a figure; benchmarks/scale_fleet.py): one tenant is provisioned the normal way (`tenant_create`
   claiming a spare schema built by migrations), the others get their schemas from the project's checked schema script
   (lifecycle/schema_script.py: `schema_script_replay`, one statement per schema, `--jobs` connections at once),
   their migration summaries (fleet/state.py) and their tenant, domain and subscription rows in bulk. A sample of
   `--verify-sample` new schemas must have the catalog of the normally provisioned one, data included
   (fleet.verification.catalog_read / catalog_diff: tables, columns, indexes, constraints, sequences and their
   positions, triggers, the recorded migrations and content types); every new schema must record every migration
   and hold the tenant apps' tables; then each gets a marker row for the routed requests.
2. The figures, each the median of `--runs` runs unless said otherwise, each verified:
   catalog size (pg_class rows, database size); `list_tenants --format json` (it must list every tenant once);
   `tenants_doctor` (exit 0: every schema's catalog equals the stock-built reference, nothing pending); the platform
   admin's tenant changelist, first page and a search by slug (it must count every tenant, find the one); one
   `backup_tenant` (the file and its checksum must match); provisioning p50 / p95 for the warm and the empty
   spare pool (`--creations` each, benchmarks/provisioning.py: every tenant routable, complete, then dropped);
   routed requests through gunicorn (benchmarks/routing.py, project middleware only: req/s over `--hosts` hosts
   spread over the fleet, statements per request at the server, every response its own tenant's marker); backend
   memory while one connection serves every tenant once (one run); fan-out of a task to every tenant
   (benchmarks/celery_fanout.py, project only: every tenant's task then run once, in its schema);
   `migrate_schemas --tenant` with nothing to apply (the catalog of every schema checked after); one `AddField`
   across all tenants, project's command (the column and its record in every schema, every catalog equal to the
   stock-built reference, then reverted); django-tenants' standard executor for the same `AddField` only at the
   first size (`--stock-runs` runs), scaled linearly to the others and printed as such.
3. One table: every figure at every size and its growth factor, first size to last, with the growth the design
   expects (the README explains each).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import platform
import re
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from loadcheck.harness import MarkedTenant, chunks, forget_cached, free_port
from rich.console import Console
from rich.table import Table

from benchmarks.harness import DedicatedPostgres, mb, postgres_binaries
from benchmarks.migrate_fleet import COLUMN as ADDFIELD_COLUMN
from benchmarks.migrate_fleet import (
    PROJECT,
    SHARED_MIGRATE,
    STANDARD,
    BenchmarkError,
    Contender,
    child_environment,
    console,
    contenders,
    expect_addfield,
    expect_stock_catalog,
    remove_migration_file,
    revert_addfield,
    timed_output,
    timed_run,
    write_migration_file,
)
from benchmarks.migrate_fleet import TABLE as ADDFIELD_TABLE
from benchmarks.project import from_project, has_celery
from benchmarks.provisioning import EMPTY, WARM, Creator, StockProbe, drop_spares, owner_ensure, p95
from benchmarks.provisioning import measure as measure_provisioning
from benchmarks.routing import PROJECT as PROJECT_ROUTING
from benchmarks.routing import add_web_run_options, ensure_public_host, memory_run, throughput_run
from benchmarks.scale_fleet import (
    SCHEMA_PREFIX,
    SLUG_FORMAT,
    Growth,
    fleet_grow,
    schema_script_ready,
    spread,
    tenant_count,
    tenant_schemas,
)
from benchmarks.stock_manage import usable_cores
from config.devservices import environ_ensure

DATABASE = "scale_bench"
SCHEMA_PREFIXES = (SCHEMA_PREFIX, "tenant_pbench_")  # the fleet's, and provisioning.py's created-then-dropped
DEFAULT_SIZES = (1000, 10_000)
MIN_SIZE = 10  # a normally provisioned tenant per size, and a replayed one to back up
MAX_SIZE = 99_999
REPORT_WIDTH = 150
REVERT_PER_TRANSACTION = 500  # schemas whose AddField is reverted per transaction (max_locks_per_transaction)
DESCRIPTION = (
    "Grow one fleet to each of --sizes tenants and print, per size, what a user meets (catalog, provisioning, "
    "migrations, routing, memory, fan-out, doctor, list, backup) with the growth factor."
)


def parse_sizes(text: str) -> tuple[int, ...]:
    """`--sizes`: comma-separated tenant counts, e.g. "1000,10000"; returned ascending and unique. Raises
    argparse.ArgumentTypeError unless each is MIN_SIZE-MAX_SIZE."""
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--sizes {text!r}: expected comma-separated numbers, e.g. 1000,10000"
        ) from None
    if not sizes or sizes[0] < MIN_SIZE or sizes[-1] > MAX_SIZE:
        raise argparse.ArgumentTypeError(f"--sizes {text!r}: each size must be {MIN_SIZE}-{MAX_SIZE:,}")
    return tuple(sizes)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line (benchmarks/README.md lists the options); errors exit 2 with argparse's message."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=DESCRIPTION)
    add = parser.add_argument
    add("--sizes", type=parse_sizes, default=DEFAULT_SIZES, help="tenant counts measured, e.g. 1000,10000 (default)")
    add("--runs", type=int, default=3, help="runs per timed command and per routing measure; medians (default 3)")
    add("--creations", type=int, default=100, help="timed creations per provisioning path and size (default 100)")
    add("--stock-runs", type=int, default=1,
        help="runs of stock's AddField at the first size (default 1: ~0.25 s per tenant; 0 leaves it out)")  # fmt: skip
    add("--verify-sample", type=int, default=20, help="new schemas per size compared with the normal one (default 20)")
    add("--jobs", type=int, default=usable_cores(), help="connections replaying schemas at once (default: the cores)")
    add("--hosts", type=int, default=100, help="tenants whose hosts get the routed requests (default 100)")
    add("--memory-tenants", type=int, default=0,
        help="distinct tenants one connection serves for the backend memory (default 0: every tenant)")  # fmt: skip
    add("--sample-every", type=int, default=500, help="tenants between two backend memory readings (default 500)")
    add("--batch-size", type=int, default=None, help="tenants per fan-out message (default: the project's)")
    add_web_run_options(add, count_seconds=5.0)  # routing's, for its runs; its own PostgreSQL too
    args = parser.parse_args(argv)
    counts = (args.runs, args.creations, args.verify_sample, args.jobs, args.hosts, args.sample_every,
              args.connections, args.workers, args.threads)  # fmt: skip
    if min(counts) < 1 or args.stock_runs < 0 or args.memory_tenants < 0 or (args.batch_size or 1) < 1:
        parser.error("--runs, --creations, --verify-sample, --jobs, --hosts, --sample-every, --connections, --workers, "
                     "--threads, --batch-size must be >= 1; --stock-runs and --memory-tenants >= 0")  # fmt: skip
    if min(args.seconds, args.count_seconds) <= 0 or min(args.warmup, args.per_connection) < 0:
        parser.error("--seconds and --count-seconds must be > 0, --warmup and --per-connection >= 0")
    return args


# ----------------------------------------------------------------------------------------------------------------
# The figures
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One cell: `value` (in the row's unit, None when not a number) and how it is shown."""

    value: float | None
    shown: str


@dataclass(frozen=True)
class Row:
    """A row of the table: its name and the growth the design expects (benchmarks/README.md explains it)."""

    name: str
    expected: str


ROWS = {
    "tenants": Row("tenants", "the sizes"),
    "relations": Row("catalog: pg_class rows", "linear, plus a fixed part"),
    "database": Row("catalog: database size", "linear, plus a fixed part"),
    "warm p50": Row("provisioning p50, warm spare pool", "~1x (constant)"),
    "warm p95": Row("provisioning p95, warm spare pool", "~1x (constant)"),
    "empty p50": Row("provisioning p50, empty pool (schema script)", "~1x, slightly above"),
    "empty p95": Row("provisioning p95, empty pool (schema script)", "~1x, slightly above"),
    "noop": Row("migrate_schemas --tenant, nothing to apply", "well under linear (start-up)"),
    "addfield": Row("one AddField, project (migrate_schemas --tenant)", "linear"),
    "addfield ms": Row("  per schema", "~1x"),
    "addfield stock": Row("one AddField, stock standard executor", "linear (scaled above the first size)"),
    "addfield ratio": Row("  stock / project", "~1x"),
    "req/s": Row("routed requests per second (project middleware)", "~1x"),
    "routing sql": Row("routing SQL statements per request", "1x (exactly 1)"),
    "sql": Row("SQL statements per request (routing + the view's)", "1x"),
    "rss": Row(
        "backend memory: peak RssAnon, the largest backend of one sync worker serving every tenant",
        "~1x above 200 tenants",
    ),
    "fanout": Row("fan-out: enqueue a task for every tenant", "linear, small"),
    "fanout run": Row("fan-out: every tenant's task run from the batches (worker code)", "linear"),
    "doctor": Row("tenants_doctor (every schema's catalog checked)", "a little under linear"),
    "list": Row("list_tenants --format json", "linear in the rows (fixed queries)"),
    "admin page": Row("platform admin: tenant changelist, first page", "~1x (paginated)"),
    "admin search": Row("platform admin: tenant changelist, search by slug", "grows, stays in ms"),
    "backup": Row("backup_tenant (one tenant)", "between 1x and linear"),
    "user delete": Row("deleting a user who is a member of 2 tenants (user_delete)", "~1x (no tenant schema visited)"),
    "load": Row("machine load average (1 min) at the start / end of the size's figures", "not the fleet's"),
}


def seconds(value: float) -> Figure:
    return Figure(value, f"{value:.2f} s" if value < 100 else f"{value:,.0f} s")


def milliseconds(value: float) -> Figure:
    return Figure(value, f"{1000 * value:.1f} ms")


def timed_median(name: str, argv: Sequence[str], runs: int, env: dict[str, str],
                 check: Callable[[str], None]) -> float:  # fmt: skip
    """Run `argv` (from the project's folder) `runs` times in fresh processes, `check` its stdout after each;
    return the median seconds. Raises BenchmarkError when it exits non-zero or a check fails."""
    times = []
    for run in range(1, runs + 1):
        with console.status(f"{name}: run {run}/{runs}"):
            elapsed, output = timed_output(Contender(name, tuple(argv)), env)
        check(output)
        times.append(elapsed)
    console.print(f"{name}: " + ", ".join(f"{t:.2f}" for t in times) + " s")
    return statistics.median(times)


def expect_listed(output: str) -> None:
    """Raise BenchmarkError unless `list_tenants --format json` output lists every tenant exactly once."""
    from django_tenants.utils import get_public_schema_name

    Tenant = from_project("tenancy.models", "Tenant")

    expected = sorted(Tenant.objects.exclude(schema_name=get_public_schema_name()).values_list("slug", flat=True))
    listed = sorted(row["slug"] for row in json.loads(output))
    if listed != expected:
        raise BenchmarkError(f"list_tenants listed {len(listed):,} tenants ({len(set(listed)):,} distinct); expected "
                             f"{len(expected):,}")  # fmt: skip


def expect_backup(output: str) -> None:
    """Raise BenchmarkError unless `backup_tenant` printed the path of a non-empty file whose .sha256 matches it;
    then delete both."""
    path = Path(output.strip().splitlines()[-1]) if output.strip() else Path()
    checksum = Path(f"{path}.sha256")
    if not path.is_file() or not checksum.is_file() or path.stat().st_size == 0:
        raise BenchmarkError(f"backup_tenant printed {output.strip()[-200:]!r}: no backup file with its checksum there")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if checksum.read_text().split()[0] != digest:
        raise BenchmarkError(f"the checksum beside {path} does not match the file")
    path.unlink()
    checksum.unlink()


def catalog_size() -> tuple[int, int]:
    """(rows of pg_class, database size in bytes) of the current database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT count(*) FROM pg_class), pg_database_size(current_database())")
        relations, size = cursor.fetchone()
    return int(relations), int(size)


def measure_commands(size: int, args: argparse.Namespace, env: dict[str, str], work: Path) -> dict[str, Figure]:
    """list_tenants, tenants_doctor and backup_tenant, each `--runs` times in a fresh process."""
    python = sys.executable
    figures = {}
    value = timed_median("list_tenants", (python, "manage.py", "list_tenants", "--format", "json"), args.runs, env,
                         expect_listed)  # fmt: skip
    figures["list"] = seconds(value)
    value = timed_median("tenants_doctor", (python, "manage.py", "tenants_doctor"), args.runs, env, lambda _: None)
    figures["doctor"] = seconds(value)
    slug = SLUG_FORMAT.format(size // 2)
    backup = (python, "manage.py", "backup_tenant", "--tenant", slug, "--output", str(work))
    figures["backup"] = seconds(timed_median(f"backup_tenant {slug}", backup, args.runs, env, expect_backup))
    return figures


def measure_admin(size: int, args: argparse.Namespace) -> dict[str, Figure]:
    """The platform admin's tenant changelist on the public host (the public tenant is created with
    TENANCY_BASE_DOMAIN as its domain when missing; Django's test client through the project's middleware, logged
    in as a superuser created here): its first page, and a search for one slug; `--runs` of
    each after an untimed one. Raises BenchmarkError unless every answer is 200, the page counts every tenant row and
    the search finds exactly the one tenant."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    User = from_project("accounts.models", "User")
    public_tenant_ensure = from_project("lifecycle.services", "public_tenant_ensure")
    Tenant = from_project("tenancy.models", "Tenant")

    public_tenant_ensure(domain=str(settings.TENANCY_BASE_DOMAIN))  # the public host routes to the platform admin
    email = "sbench-admin@example.com"
    # Made once and kept until the benchmark's server is removed (deleting a user is measured on its own).
    staff = User.objects.filter(email=email).first() or User.objects.create_superuser(
        email=email, password=secrets.token_urlsafe(16)
    )
    client = Client(HTTP_HOST=str(settings.TENANCY_BASE_DOMAIN))
    client.force_login(staff)
    slug = SLUG_FORMAT.format(size // 3)
    rows = Tenant.objects.count()  # the public tenant's row is listed too
    pages = {"admin page": ("/admin/tenancy/tenant/", rows), "admin search": (f"/admin/tenancy/tenant/?q={slug}", 1)}
    figures = {}
    for key, (url, expected) in pages.items():
        times = []
        for run in range(args.runs + 1):
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
            connection.set_schema_to_public()  # type: ignore[attr-defined]
            body = response.content.decode(errors="replace")
            counted = re.search(r"(\d[\d,.]*) (?:tenants?|results?)\b", body)
            found = int(re.sub(r"\D", "", counted.group(1))) if counted else None
            if response.status_code != 200 or found != expected or (expected == 1 and slug not in body):
                raise BenchmarkError(f"GET {url} on the platform admin: HTTP {response.status_code}, counted "
                                     f"{found} tenant(s); expected 200 and {expected}")  # fmt: skip
            if run:
                times.append(elapsed)
        figures[key] = milliseconds(statistics.median(times))
    return figures


def measure_user_delete(size: int, args: argparse.Namespace) -> dict[str, Figure]:
    """Deleting a user as the platform admin does (accounts.services.user_delete, committed): `--runs` users after
    an untimed one, each a member of two tenants with a row in one tenant's admin log that refers to them. Raises
    BenchmarkError unless each user's row became its tombstone (`deleted-<id>@invalid`, inactive, no memberships)
    and the tenant's row still refers to it; the deferred foreign keys were checked by the commit."""
    from django.contrib.admin.models import ADDITION, LogEntry
    from django.contrib.contenttypes.models import ContentType
    from django_tenants.utils import tenant_context

    Membership = from_project("accounts.models", "Membership")
    Tenant = from_project("tenancy.models", "Tenant")
    membership_grant = from_project("accounts.services", "membership_grant")
    user_delete = from_project("accounts.services", "user_delete")
    user_get_or_create = from_project("accounts.services", "user_get_or_create")

    first, second = (Tenant.objects.get(slug=SLUG_FORMAT.format(size // part)) for part in (3, 2))
    times = []
    for run in range(args.runs + 1):
        user = user_get_or_create(email=f"sbench-leaver-{size}-{run}-{secrets.token_hex(4)}@example.com")
        for tenant in (first, second):
            membership_grant(user=user, tenant=tenant, role="member")
        with tenant_context(first):
            entry = LogEntry.objects.create(
                user=user, content_type=ContentType.objects.get_for_model(Tenant), object_id=str(first.pk),
                object_repr="sbench", action_flag=ADDITION,
            )  # fmt: skip
        started = time.perf_counter()
        user_delete(user=user)
        elapsed = time.perf_counter() - started
        user.refresh_from_db()
        with tenant_context(first):
            referred = LogEntry.objects.filter(pk=entry.pk, user_id=user.pk).exists()
        if (
            user.email != f"deleted-{user.pk}@invalid"
            or user.is_active
            or not referred
            or (Membership.objects.filter(user_id=user.pk).exists())
        ):
            raise BenchmarkError(f"user_delete at {size:,} tenants: user {user.pk} is {user.email!r} (active: "
                                 f"{user.is_active}), the admin log row refers to it: {referred}")  # fmt: skip
        if run:
            times.append(elapsed)
    return {"user delete": milliseconds(statistics.median(times))}


def measure_provisioning_paths(size: int, args: argparse.Namespace) -> dict[str, Figure]:
    """provisioning.py's warm and empty pool paths, `--creations` each; the spare pool is refilled afterwards."""
    spare_pool_fill = from_project("lifecycle.provisioning", "spare_pool_fill")

    drop_spares()
    result = measure_provisioning(Creator(owner_ensure(), StockProbe()), size, args.creations, paths=(WARM, EMPTY))
    spare_pool_fill()
    figures = {}
    for path, key in ((WARM, "warm"), (EMPTY, "empty")):
        samples = result.seconds[path]
        figures[f"{key} p50"] = milliseconds(statistics.median(samples))
        figures[f"{key} p95"] = milliseconds(p95(samples))
    return figures


def measure_routing(
    args: argparse.Namespace, pg: DedicatedPostgres, marked: Sequence[MarkedTenant], logs: Path
) -> dict[str, Figure]:
    """routing.py's throughput runs (project middleware, `--runs`) over `--hosts` hosts spread over the fleet, and one
    memory run over every tenant (or `--memory-tenants` of them, spread)."""
    hosts = spread(marked, args.hosts)
    runs = [throughput_run(PROJECT_ROUTING, run, args, pg, hosts, logs, database=DATABASE)
            for run in range(1, args.runs + 1)]  # fmt: skip
    rate = statistics.median(run.measured.rate for run in runs)
    routing_sql = statistics.median(run.routing_statements for run in runs)
    sql = statistics.median(run.per_request() for run in runs)
    served = spread(marked, args.memory_tenants or len(marked))
    memory = memory_run(PROJECT_ROUTING, 1, args, pg, served, logs, database=DATABASE)
    return {
        "req/s": Figure(rate, f"{rate:,.0f} req/s ({len(hosts)} hosts)"),
        "routing sql": Figure(routing_sql, f"{routing_sql:.2f}"),
        "sql": Figure(sql, f"{sql:.2f}"),
        "rss": Figure(
            memory.peak_anon,
            f"{mb(memory.peak_anon)} ({len(served):,} tenants, {len(memory.backends)} connections, at most "
            f"{memory.most_tenants:,} on one; VmRSS {mb(memory.final_rss)}; all backends "
            f"{mb(memory.final_total_anon)})",
        ),
    }


def measure_fan_out(args: argparse.Namespace) -> dict[str, Figure]:
    """celery_fanout.py's project path: `--runs` fan-outs to every active tenant, each queue checked, every
    tenant's task then run once from the batches and checked."""
    from django.db import connection, transaction
    from django_tenants.utils import get_public_schema_name

    from benchmarks.celery_fanout import measure_fan_out as fan_out_runs

    Tenant = from_project("tenancy.models", "Tenant")
    FAN_OUT_BATCH_SIZE = from_project("tenancy.celery_tenancy", "FAN_OUT_BATCH_SIZE")

    active = Tenant.objects.filter(status=Tenant.Status.ACTIVE).exclude(schema_name=get_public_schema_name())
    expected = sorted(active.values_list("schema_name", flat=True))
    batch_size = args.batch_size or FAN_OUT_BATCH_SIZE
    # Inside a transaction, rolled back, as celery_fanout.py runs it: the batches run on this process's one connection,
    # which the project would otherwise close after TENANCY_CONNECTION_MAX_SCHEMAS tenants (a worker's does), and the
    # statements are counted on that connection.
    # Running the batches as a worker does leaves another SIGINT handler behind (found by Ctrl-C doing nothing
    # afterwards); Python's own is put back, so that Ctrl-C still stops the benchmark and cleans up.
    sigint = signal.getsignal(signal.SIGINT)
    try:
        with transaction.atomic():
            result = fan_out_runs(args.runs, expected, batch_size, paths=("project",))
            transaction.set_rollback(True)
    finally:
        signal.signal(signal.SIGINT, sigint)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    enqueue = statistics.median(result["project"])
    worker = statistics.median(run[0] for run in result["worker"])
    return {
        "fanout": Figure(enqueue, f"{enqueue:.3f} s ({result['messages']} messages)"),
        "fanout run": seconds(worker),
    }


def schemas_with_column() -> list[str]:
    """Every schema whose products table has the AddField's column (tenants, and spares the project migrated)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND a.attname = %s AND NOT a.attisdropped ORDER BY 1",
            [ADDFIELD_TABLE, ADDFIELD_COLUMN],
        )
        return [row[0] for row in cursor.fetchall()]


@contextlib.contextmanager
def pending_addfield() -> Iterator[None]:
    """migrate_fleet.py's temporary AddField migration on disk while the block runs; afterwards it is gone and the
    spare pool rebuilt by migrations, so the schema script captured next is one of schemas that never held the
    column (a spare the project migrated and the benchmark reverted keeps a moved django_migrations sequence)."""
    spare_pool_fill = from_project("lifecycle.provisioning", "spare_pool_fill")

    write_migration_file()
    try:
        yield
    finally:
        remove_migration_file()
    drop_spares()
    spare_pool_fill()


def measure_migrations(
    size: int, args: argparse.Namespace, env: dict[str, str], stock: list[float]
) -> dict[str, Figure]:
    """migrate_fleet.py's commands: the project's no-op and AddField `--runs` times, stock standard's AddField
    `--stock-runs` times at the first size only (its times are appended to `stock`, empty before the first size;
    later sizes scale their median linearly). Every run is checked as migrate_fleet.py checks it."""
    reference_catalogs = from_project("fleet.verification", "reference_catalogs")

    by_name = {path.name: path for path in contenders(usable_cores(), subprocess_executor=False)}
    project, standard = by_name[PROJECT], by_name[STANDARD]
    schemas = tenant_schemas()
    figures = {}

    before = reference_catalogs()
    noop = [timed_run(project, env) for _ in range(args.runs)]
    expect_stock_catalog(schemas, before, after="the no-op runs")
    figures["noop"] = seconds(statistics.median(noop))
    console.print("no-op migrate_schemas: " + ", ".join(f"{t:.2f}" for t in noop) + " s")

    expect_addfield(schemas, applied=False, after="the no-op runs")
    with pending_addfield():
        references = reference_catalogs()

        def timed_addfield(path: Contender) -> float:
            elapsed = timed_run(path, env)
            expect_addfield(schemas, applied=True, after=path.name)
            expect_stock_catalog(schemas, references, after=path.name)
            # In parts: one transaction over 10,000 ALTER TABLEs holds more locks than the server has slots for.
            for part in chunks(schemas_with_column(), REVERT_PER_TRANSACTION):
                revert_addfield(part)
            console.print(f"AddField, {path.name}: {elapsed:.2f} s")
            return elapsed

        addfield = statistics.median(timed_addfield(project) for _ in range(args.runs))
        if not stock and args.stock_runs:
            stock.extend(timed_addfield(standard) for _ in range(args.stock_runs))
    figures["addfield"] = seconds(addfield)
    figures["addfield ms"] = Figure(addfield / size, f"{1000 * addfield / size:.1f} ms")
    if stock:
        first_size = stock_size(args)
        stock_median = statistics.median(stock)
        if size == first_size:
            figures["addfield stock"] = Figure(stock_median, f"{stock_median:,.1f} s ({len(stock)} run(s))")
        else:
            scaled = stock_median * size / first_size
            figures["addfield stock"] = Figure(scaled, f"~{scaled:,.0f} s (scaled from {first_size:,}, not run)")
        ratio = figures["addfield stock"].value / addfield  # type: ignore[operator]
        figures["addfield ratio"] = Figure(ratio, f"{ratio:.1f}x" + ("" if size == first_size else " (scaled)"))
    return figures


def stock_size(args: argparse.Namespace) -> int:
    """The size stock's AddField is run at: the first."""
    return int(args.sizes[0])


def measure_size(
    size: int, args: argparse.Namespace, pg: DedicatedPostgres, env: dict[str, str], marked: list[MarkedTenant],
    work: Path, stock: list[float],
) -> dict[str, Figure]:  # fmt: skip
    """Every figure at `size` tenants (the fleet grown already), in an order where each leaves the fleet as it found
    it: catalog, commands, provisioning, routing and memory, fan-out, migrations."""
    from django.db import connection

    load_start = os.getloadavg()[0]
    relations, size_bytes = catalog_size()
    figures = {
        "tenants": Figure(size, f"{size:,}"),
        "relations": Figure(relations, f"{relations:,}"),
        "database": Figure(size_bytes, mb(size_bytes)),
    }
    figures.update(measure_commands(size, args, env, work))
    figures.update(measure_admin(size, args))
    figures.update(measure_user_delete(size, args))
    figures.update(measure_provisioning_paths(size, args))
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    figures.update(measure_routing(args, pg, marked, work))
    if has_celery():
        figures.update(measure_fan_out(args))
    figures.update(measure_migrations(size, args, env, stock))
    if tenant_count() != size:
        raise BenchmarkError(f"{tenant_count():,} tenants after measuring at {size:,}: a measurement left some behind")
    # Other work on the same cores moves every figure: shown so that a growth factor can be read against it.
    load_end = os.getloadavg()[0]
    figures["load"] = Figure((load_start + load_end) / 2, f"{load_start:.1f} / {load_end:.1f}")
    return figures


# ----------------------------------------------------------------------------------------------------------------
# Reporting and running
# ----------------------------------------------------------------------------------------------------------------


def growth_factor(first: Figure | None, last: Figure | None) -> str:
    """last / first as "12.3x", or "-" when either is missing or not positive."""
    if first is None or last is None or not first.value or last.value is None or first.value <= 0:
        return "-"
    return f"{last.value / first.value:.2f}x"


def report(sizes: Sequence[int], figures: dict[int, dict[str, Figure]], growths: Sequence[Growth],
           facts: dict[str, str]) -> None:  # fmt: skip
    """Print the table (a row per figure, a column per size, the growth factor first size to last and the expected
    growth), the growth of the fleet and the machine."""
    measured = [size for size in sizes if size in figures]
    first, last = measured[0], measured[-1]
    table = Table(title=f"The fleet at {' and '.join(f'{size:,}' for size in measured)} tenants")
    table.add_column("figure")
    for size in measured:
        table.add_column(f"{size:,} tenants", justify="right")
    table.add_column(f"growth {first:,} -> {last:,}", justify="right")
    table.add_column("expected growth (README)")
    for key, row in ROWS.items():
        cells = [figures[size].get(key) for size in measured]
        if not any(cells):
            continue
        shown = [cell.shown if cell else "not measured" for cell in cells]
        table.add_row(row.name, *shown, growth_factor(cells[0], cells[-1]), row.expected)
    # Wider than a pipe's 80 columns: the table is the benchmark's result and must stay readable in a log.
    Console(width=max(console.width, REPORT_WIDTH)).print(table)
    console.print(
        "[dim]Medians of the runs; each verified (benchmarks/README.md). Stock's AddField runs at the first size only; "
        "at the others it is scaled linearly and says so."
    )

    setup = Table(title="Growing the fleet (not part of the figures)")
    for column in ("to", "added", "normal one", "replay", "rows", "checks", "markers", "total", "per tenant"):
        setup.add_column(column, justify="right")
    for growth in growths:
        setup.add_row(
            f"{growth.size:,}", f"{growth.added:,}", f"{growth.reference:.1f} s", f"{growth.replay:.1f} s",
            f"{growth.rows:.1f} s", f"{growth.verify:.1f} s", f"{growth.markers:.1f} s", f"{growth.total:.1f} s",
            f"{1000 * growth.total / growth.added:.0f} ms",
        )  # fmt: skip
    console.print(setup)
    for growth in growths:
        if growth.verified:
            console.print(f"[dim]at {growth.size:,}: {growth.verified}")

    facts_table = Table(title="Machine", show_header=False)
    for key, value in facts.items():
        facts_table.add_row(key, value)
    console.print(facts_table)


def machine_facts(args: argparse.Namespace, pg: DedicatedPostgres) -> dict[str, str]:
    """What the figures depend on: cores, PostgreSQL, runs, versions."""
    return {
        "cores (usable / total)": f"{usable_cores()} / {os.cpu_count()}",
        "PostgreSQL": f"{pg.version}, the benchmark's own server ({pg.bindir}), port {pg.port}",
        "runs": (
            f"{args.runs} per timed command and routing measure; {args.creations} creations per provisioning path; "
            f"stock AddField {args.stock_runs} run(s) at {args.sizes[0]:,}; backend memory 1 run"
        ),
        "routing": (
            f"gunicorn {args.workers} workers x {args.threads} threads, {args.connections} connections, "
            f"{args.seconds:g} s measured after {args.warmup:g} s warm-up"
        ),
        "versions": (
            f"Python {platform.python_version()}, Django {version('django')}, "
            f"django-tenants {version('django-tenants')}, psycopg {version('psycopg')}"
        ),
    }


@dataclass
class RunState:
    """What the report needs when a run stops early: the figures per size so far and each growth."""

    figures: dict[int, dict[str, Figure]] = field(default_factory=dict)
    growths: list[Growth] = field(default_factory=list)


def run(args: argparse.Namespace, pg: DedicatedPostgres, env: dict[str, str], work: Path, state: RunState) -> None:
    """Grow and measure at every size, then print the report. Cleanup is the caller's."""
    # One line per spare schema built or script captured would bury the progress bars and the figures.
    for module in ("provisioning", "schema_script"):
        logging.getLogger(from_project("lifecycle", module).__name__).setLevel(logging.WARNING)
    load_start = os.getloadavg()[0]
    facts = machine_facts(args, pg)
    ensure_public_host()
    schema_script_ready()
    marked: list[MarkedTenant] = []
    stock: list[float] = []
    for size in args.sizes:
        state.growths.append(fleet_grow(size, marked, jobs=args.jobs, verify_sample=args.verify_sample))
        state.figures[size] = measure_size(size, args, pg, env, marked, work, stock)
    facts["load average (1 min), start / end"] = f"{load_start:.2f} / {os.getloadavg()[0]:.2f}"
    report(args.sizes, state.figures, state.growths, facts)


def partial_report(args: argparse.Namespace, state: RunState) -> None:
    """After a failure or Ctrl-C: the table of the sizes measured completely, if any."""
    if state.figures:
        measured = ", ".join(f"{size:,}" for size in state.figures)
        report(args.sizes, state.figures, state.growths, {"stopped early": f"sizes measured completely: {measured}"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit code (0 done, 1 failed, 130 interrupted)."""
    args = parse_args(argv)
    started = time.perf_counter()
    args.port = args.port or free_port()
    remove_migration_file()  # left over by a killed run
    pg: DedicatedPostgres | None = None
    state = RunState()
    try:
        bindir, run_as = postgres_binaries(args.pg_bin)
        pg = DedicatedPostgres(bindir=bindir, run_as=run_as, port=args.pg_port or free_port())
        with console.status(f"starting the benchmark's PostgreSQL ({bindir})"):
            pg.start()
        url = pg.create_database(DATABASE)
        os.environ["DATABASE_URL"] = url
        # Read by config/settings/base.py: no spare-pool refill after a claim, in this process or its children.
        os.environ["TENANCY_SPARE_REFILL"] = "off"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        environ_ensure()  # embedded servers for the URLs left unset, as manage.py does
        import django

        django.setup()
        env = child_environment(url)
        timed_run(Contender("migrate_schemas --shared", SHARED_MIGRATE), env)
        with tempfile.TemporaryDirectory(prefix="scale-bench-") as work:
            run(args, pg, env, Path(work), state)
        return 0
    except BenchmarkError as exc:
        console.print(f"[red]benchmark failed: {exc}")
        partial_report(args, state)
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; cleaning up")
        partial_report(args, state)
        return 130
    finally:
        remove_migration_file()
        if pg is not None:
            from django.apps import apps
            from django.db import connections

            if apps.ready:
                connections.close_all()
                for prefix in SCHEMA_PREFIXES:
                    forget_cached(prefix)
            pg.stop()
        console.print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
