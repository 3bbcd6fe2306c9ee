"""Fleet migration benchmark: django-tenants' stock executors against this project's `migrate_schemas`.

Command line, at the template root (a fresh bake of the template's working tree; benchmarks/README.md)::

    make benchmark-migrations BENCHMARK_ARGS="--tenants 1000 --runs 3 --skip-subprocess"

or from a baked project's folder, with the template root on PYTHONPATH::

    python -m benchmarks.migrate_fleet [--tenants 1000] [--runs 3] [--scratch-db] [--skip-subprocess]

It creates `--tenants` benchmark tenants (slugs `bench-00001`, ...) with the project's `tenant_create`,
then times, as whole commands in fresh processes (interpreter and Django start-up included), round-robin
and `--runs` times each:

- stock standard / multiprocessing / subprocess: `python <template>/benchmarks/stock_manage.py migrate_schemas --tenant
  --noinput --verbosity 0 --executor <name>` (django-tenants' own command and executor classes; one process
  or `--parallel` child per usable core for the parallel ones);
- project: `python manage.py migrate_schemas --tenant --noinput --verbosity 0`;
- project bare: `python manage.py migrate_schemas --noinput --verbosity 0`, what `make migrate` runs (public,
  tenants and spare schemas);

for (a) nothing to apply and (b) one pending `AddField` migration (a temporary
`products/migrations/9999_bench_addfield.py` adding a nullable column to `products.Product`; after each run
the column and its `django_migrations` row must be in every benchmark schema and the catalog of every benchmark
schema and of public must equal the reference django-tenants' stock path builds (fleet.verification), then the
column and the rows are removed again with SQL). It prints the medians (and per schema), the stock/project
ratios and the performance targets (docs/BENCHMARKS.md), met or not:

- P2, nothing to apply, the whole command: project <= 1 s at 1,000 tenants and >= 100x stock standard;
  <= 3 s at 10,000 tenants (judged only when 10,000 were measured; otherwise printed as not measured); and a
  lost or extra `django_migrations` row is still found: after the no-op runs one schema loses a row and another
  gains one, and the plan `migrate_schemas` makes (from the summaries the database keeps) must name the first,
  count the second's extra row and equal a plan read from every schema (expect_exact_plan; rolled back);
- P3, one AddField across all tenants: >= 20x stock standard and >= 10x the best (fastest) stock parallel
  executor measured, at 1,000 tenants; the project's milliseconds per schema are reported.

A target judged at another tenant count than its own says so in the "measured" column and is never printed as
met for the count it names ("met at N only").

Every tenant schema of the database is migrated by both paths, so the database must hold no tenants but the
benchmark's (the public tenant aside); `--scratch-db` runs in a new database `<name>_fleet_bench` on the same
server instead. At the end, also on error or Ctrl-C, the temporary migration is deleted and the benchmark
tenants are dropped with `tenant_drop` (or the scratch database is dropped).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from urllib.parse import urlsplit, urlunsplit

from loadcheck.harness import CheckError, chunks, database_url, drop_scratch_database, progress, use_database
from rich.console import Console
from rich.table import Table

from benchmarks.project import PACKAGE, PROJECT_DIR, from_project
from benchmarks.stock_manage import STOCK_MANAGE, usable_cores
from config.devservices import environ_ensure

SLUG_FORMAT = "bench-{:05d}"
SLUG_REGEX = r"^bench-[0-9]{5}$"
MAX_TENANTS = 99_999
MIGRATION_APP, MIGRATION_NAME = "products", "9999_bench_addfield"
TABLE, COLUMN = "products_product", "bench_extra"
MIGRATION_FILE = PROJECT_DIR / PACKAGE / MIGRATION_APP / "migrations" / f"{MIGRATION_NAME}.py"
MIGRATION_SOURCE = '''"""Temporary migration written by benchmarks/migrate_fleet.py; deleted when the benchmark ends."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("{app}", "{previous}")]
    operations = [migrations.AddField("product", "{column}", models.IntegerField(null=True))]
'''
# Per schema: <schema> is replaced by the quoted schema name; the rest are constants.
REVERT_SQL = (
    f"ALTER TABLE <schema>.{TABLE} DROP COLUMN {COLUMN}; "  # noqa: S608 - constants only
    f"DELETE FROM <schema>.django_migrations WHERE app = '{MIGRATION_APP}' AND name = '{MIGRATION_NAME}'; "
)
# The bare command also records the migration in public (as stock does), where products has no table.
REVERT_PUBLIC_SQL = f"DELETE FROM public.django_migrations WHERE app = '{MIGRATION_APP}' AND name = '{MIGRATION_NAME}'"  # noqa: S608
NOOP, ADDFIELD = "(a) no-op", "(b) AddField"
# Targets (docs/BENCHMARKS.md, issue 20): seconds of the whole command, ratios stock / project, tenant counts.
TARGET_TENANTS = 1000  # P2's first line and P3 are for 1,000 tenants
TARGET_NOOP_SECONDS = 1.0  # P2: nothing to apply, at TARGET_TENANTS
TARGET_NOOP_RATIO = 100.0  # P2: stock standard / project, nothing to apply
TARGET_LARGE_TENANTS = 10_000
TARGET_LARGE_NOOP_SECONDS = 3.0  # P2: nothing to apply, at TARGET_LARGE_TENANTS
TARGET_ADDFIELD_RATIO = 20.0  # P3: stock standard / project, one AddField
TARGET_ADDFIELD_PARALLEL_RATIO = 10.0  # P3: best stock parallel executor / project, one AddField
NOT_MEASURED = "[yellow]not measured"
PROJECT, PROJECT_BARE, STANDARD = "project", "project bare (make migrate)", "stock standard"
DESCRIPTION = "Time stock django-tenants executors against the project's migrate_schemas on N benchmark tenants."
SCHEMAS_PER_STATEMENT = 250
# Setting up a scratch database is not measured; the stock command does it, whatever state the project's is in.
SHARED_MIGRATE = (sys.executable, str(STOCK_MANAGE), "migrate_schemas", "--shared", "--noinput", "-v", "0")

console = Console()


# The benchmark cannot run or a measured command misbehaved. The same class as the load check's error, so the
# helpers taken from loadcheck.harness report through the same `except BenchmarkError` as the benchmarks' own.
BenchmarkError = CheckError


@dataclass(frozen=True)
class Contender:
    """One measured command: `name` as printed, `argv` run from the project's folder."""

    name: str
    argv: tuple[str, ...]


def contenders(cores: int, *, subprocess_executor: bool = True) -> list[Contender]:
    """Return the measured commands in round-robin order; the parallel stock executors get `cores` workers."""
    common = ("migrate_schemas", "--tenant", "--noinput", "--verbosity", "0")
    stock = (sys.executable, str(STOCK_MANAGE), *common)
    paths = [
        Contender(STANDARD, (*stock, "--executor", "standard")),
        Contender(f"stock multiprocessing x{cores}", (*stock, "--executor", "multiprocessing")),
        Contender(f"stock subprocess x{cores}", (*stock, "--executor", "subprocess", "--parallel", str(cores))),
        Contender(PROJECT, (sys.executable, "manage.py", *common)),
        Contender(PROJECT_BARE, (sys.executable, "manage.py", "migrate_schemas", "--noinput", "--verbosity", "0")),
    ]
    return paths if subprocess_executor else [path for path in paths if "subprocess" not in path.name]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line: tenants (count), runs (per path and operation), scratch_db, skip_subprocess (bools)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.migrate_fleet", description=DESCRIPTION)
    parser.add_argument("--tenants", type=int, default=1000, help="benchmark tenants to create (default 1000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per path and operation; medians (default 3)")
    parser.add_argument(
        "--scratch-db", action="store_true", help="run in a new database <name>_fleet_bench, dropped at the end"
    )
    parser.add_argument(
        "--skip-subprocess",
        action="store_true",
        help="leave out the stock subprocess executor (one Python start-up, ~2 s, per tenant, shared by the cores)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.tenants <= MAX_TENANTS:
        parser.error(f"--tenants must be 1-{MAX_TENANTS}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


# ----------------------------------------------------------------------------------------------------------------
# Database and tenants
# ----------------------------------------------------------------------------------------------------------------


def create_scratch_database(suffix: str = "_fleet_bench") -> tuple[str, str, str]:
    """Create (after dropping a leftover) database `<name><suffix>` next to the configured one and switch to it.

    Returns (configured database name, scratch database name, scratch URL for child processes).
    """
    from django.conf import settings
    from django.db import OperationalError, connection

    url = database_url()
    if not url:
        raise BenchmarkError("--scratch-db needs DATABASE_URL (or settings.DATABASE_URL) to derive the scratch URL")
    base = str(settings.DATABASES["default"]["NAME"])
    scratch = f"{base}{suffix}"
    quoted = connection.ops.quote_name(scratch)
    try:
        connection.ensure_connection()
    except OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1]
        raise BenchmarkError(
            f"cannot connect to database {base!r}, which DATABASE_URL names ({reason}); --scratch-db creates "
            f"{scratch!r} from an existing database: name one, e.g. postgres://postgres@127.0.0.1:5432/postgres"
        ) from exc
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {quoted}")
    use_database(scratch)
    return base, scratch, urlunsplit(urlsplit(url)._replace(path=f"/{scratch}"))


def other_tenants() -> list[str]:
    """Return the slugs of tenants that are neither public nor benchmark tenants."""
    from django_tenants.utils import get_public_schema_name

    Tenant = from_project("tenancy.models", "Tenant")

    others = Tenant.objects.exclude(schema_name=get_public_schema_name()).exclude(slug__regex=SLUG_REGEX)
    return list(others.values_list("slug", flat=True))


def bench_tenants() -> list[tuple[str, str]]:
    """Return (slug, schema name) of every benchmark tenant, by slug."""
    Tenant = from_project("tenancy.models", "Tenant")

    tenants = Tenant.objects.filter(slug__regex=SLUG_REGEX).order_by("slug")
    return list(tenants.values_list("slug", "schema_name"))


def create_bench_tenants(count: int) -> list[str]:
    """Create tenants bench-00001 .. bench-<count> with the project's `tenant_create`; return their schema names."""
    tenant_create = from_project("lifecycle.services", "tenant_create")

    schemas = []
    started = time.perf_counter()
    with progress() as bar:
        task = bar.add_task("creating benchmark tenants", total=count)
        for number in range(1, count + 1):
            tenant = tenant_create(name=f"Benchmark {number:05d}", slug=SLUG_FORMAT.format(number))
            schemas.append(tenant.schema_name)
            bar.advance(task)
    elapsed = time.perf_counter() - started
    console.print(f"created {count} tenants in {elapsed:.1f} s ({1000 * elapsed / count:.0f} ms per tenant)")
    return schemas


def drop_bench_tenants() -> None:
    """Drop every benchmark tenant (row, domains, schema) with the project's `tenant_drop`."""
    tenant_drop = from_project("lifecycle.services", "tenant_drop")

    tenants = bench_tenants()
    if not tenants:
        return
    with progress() as bar:
        task = bar.add_task("dropping benchmark tenants", total=len(tenants))
        for slug, _schema in tenants:
            tenant_drop(slug=slug)
            bar.advance(task)


# ----------------------------------------------------------------------------------------------------------------
# The pending AddField migration
# ----------------------------------------------------------------------------------------------------------------


def write_migration_file() -> None:
    """Write the temporary AddField migration on top of the products app's current leaf migration."""
    from django.db.migrations.loader import MigrationLoader

    leaves = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes(MIGRATION_APP)
    if len(leaves) != 1:
        raise BenchmarkError(f"app {MIGRATION_APP!r} has {len(leaves)} leaf migrations; expected one: {leaves}")
    source = MIGRATION_SOURCE.replace("{app}", MIGRATION_APP).replace("{previous}", leaves[0][1])
    MIGRATION_FILE.write_text(source.replace("{column}", COLUMN))


def remove_migration_file() -> None:
    """Delete the temporary migration and its bytecode, if present."""
    MIGRATION_FILE.unlink(missing_ok=True)
    for compiled in (MIGRATION_FILE.parent / "__pycache__").glob(f"{MIGRATION_NAME}.*.pyc"):
        compiled.unlink(missing_ok=True)


def addfield_state(schemas: Sequence[str]) -> tuple[int, int]:
    """Return (schemas whose products_product has the benchmark column, schemas recording the migration)."""
    from django.db import connection

    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ANY(%s) AND c.relname = %s AND a.attname = %s AND NOT a.attisdropped",
            [list(schemas), TABLE, COLUMN],
        )
        columns = int(cursor.fetchone()[0])
        recorded = 0
        for part in chunks(schemas, SCHEMAS_PER_STATEMENT):
            recorded_sql = "SELECT 1 FROM {}.django_migrations WHERE app = %s AND name = %s"
            union = " UNION ALL ".join(recorded_sql.format(quote(schema)) for schema in part)
            query = f"SELECT count(*) FROM ({union}) AS applied"  # noqa: S608 - quoted identifiers only
            cursor.execute(query, [MIGRATION_APP, MIGRATION_NAME] * len(part))
            recorded += int(cursor.fetchone()[0])
    return columns, recorded


def expect_addfield(schemas: Sequence[str], *, applied: bool, after: str) -> None:
    """Raise BenchmarkError unless the AddField is applied in all (`applied`) or none of `schemas`."""
    columns, recorded = addfield_state(schemas)
    expected = len(schemas) if applied else 0
    if (columns, recorded) != (expected, expected):
        raise BenchmarkError(
            f"after {after}: {columns} of {len(schemas)} schemas have column {TABLE}.{COLUMN} and {recorded} record "
            f"{MIGRATION_APP}.{MIGRATION_NAME}; expected {expected} and {expected}"
        )


def expect_stock_catalog(schemas: Sequence[str], references: dict[str, dict[str, str]], *, after: str) -> None:
    """Raise BenchmarkError unless public and every schema in `schemas` have the catalog that django-tenants' stock
    path builds from the migration files (`references`, from fleet.verification.reference_catalogs)."""
    fleet_verify = from_project("fleet.verification", "fleet_verify")

    drift = fleet_verify(["public", *schemas], references=references)
    if drift:
        shown = "; ".join(str(difference) for differences in list(drift.values())[:3] for difference in differences[:3])
        raise BenchmarkError(f"after {after}: {len(drift)} schema(s) differ from the stock-built catalog: {shown}")


def expect_exact_plan(schemas: Sequence[str]) -> str:
    """P2's exactness, on the measured fleet: delete one tenant-app row from one schema's django_migrations and add
    an unknown row to another's, plan the fleet as `migrate_schemas` does (from the summaries the database keeps,
    fleet/state.py), check that the plan equals one read from every schema directly and names the first schema
    pending, then restore both rows (one transaction, rolled back). Returns a line for the report; raises
    BenchmarkError when the plan misses either change."""
    from django.db import connection, transaction

    plan_fleet = from_project("fleet.plan", "plan_fleet")
    lost, extra = schemas[len(schemas) // 3], schemas[2 * len(schemas) // 3]
    quote = connection.ops.quote_name
    pairs = [(schema, None) for schema in schemas]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quote(lost)}.django_migrations WHERE app = 'customers'")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {quote(extra)}.django_migrations (app, name, applied) "  # noqa: S608
            "VALUES ('customers', '9999_unknown', now())"
        )
        started = time.perf_counter()
        fleet = plan_fleet(pairs)
        seconds = time.perf_counter() - started
        direct = plan_fleet(pairs, use_state=False)
        transaction.set_rollback(True)
    found = [plan.schema for plan in fleet.pending]
    extra_plan = next(plan for plan in fleet.schemas if plan.schema == extra)
    other_plan = next(plan for plan in fleet.schemas if plan.schema not in (lost, extra))
    if fleet != direct or found != [lost] or extra_plan.applied_count != other_plan.applied_count + 1:
        raise BenchmarkError(
            f"the plan from the summaries missed a change: pending {found[:5]} (expected [{lost!r}]), "
            f"{extra} records {extra_plan.applied_count} (expected {other_plan.applied_count + 1}), "
            f"equal to reading every schema: {fleet == direct}"
        )
    return (
        f"a lost row in {lost} and an extra row in {extra} found; {fleet.summarised:,} of {len(schemas):,} "
        f"schemas planned from their summaries in {seconds:.2f} s ({fleet.queries} queries), the plan equal to "
        "reading every schema"
    )


def revert_addfield(schemas: Sequence[str]) -> None:
    """Make the AddField pending again everywhere: drop the column and its django_migrations row, one transaction."""
    from django.db import connection, transaction

    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        for part in chunks(schemas, SCHEMAS_PER_STATEMENT):
            cursor.execute("".join(REVERT_SQL.replace("<schema>", quote(schema)) for schema in part))
        cursor.execute(REVERT_PUBLIC_SQL)


# ----------------------------------------------------------------------------------------------------------------
# Measuring and reporting
# ----------------------------------------------------------------------------------------------------------------


def timed_run(contender: Contender, env: dict[str, str]) -> float:
    """Run `contender` in a fresh process from the project's folder; return its wall time in seconds.

    The command runs in a process group of its own, killed as a whole when we are interrupted, so that no
    executor worker outlives the benchmark. Raises BenchmarkError with the end of its output when it exits non-zero.
    """
    return timed_output(contender, env)[0]


def timed_output(contender: Contender, env: dict[str, str]) -> tuple[float, str]:
    """timed_run, also returning what the command wrote on stdout (its stderr is only shown when it fails):
    (seconds, stdout). Raises BenchmarkError with the end of both when it exits non-zero."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
        contender.argv,
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        output, errors = process.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        both = (output.strip()[-1500:] + "\n" + errors.strip()[-1500:]).strip()
        raise BenchmarkError(f"{contender.name} exited {process.returncode}: {' '.join(contender.argv)}\n{both}")
    return elapsed, output


def measure(
    operation: str,
    paths: Sequence[Contender],
    runs: int,
    env: dict[str, str],
    *,
    after: Callable[[str], None] | None = None,
) -> dict[str, list[float]]:
    """Time every path `runs` times, round-robin; `after` gets the path name after each run.

    Returns seconds per run, by path name.
    """
    seconds: dict[str, list[float]] = {path.name: [] for path in paths}
    for run in range(1, runs + 1):
        for path in paths:
            with console.status(f"{operation}: run {run}/{runs}, {path.name}"):
                elapsed = timed_run(path, env)
            if after is not None:
                after(path.name)
            seconds[path.name].append(elapsed)
            console.print(f"{operation}: run {run}/{runs}, {path.name}: {elapsed:.2f} s")
    return seconds


def machine_facts(tenants: int, runs: int) -> dict[str, str]:
    """Return what the figures depend on: cores, PostgreSQL, versions, tenant count, database."""
    from django.db import connection

    Tenant = from_project("tenancy.models", "Tenant")

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = str(cursor.fetchone()[0])
    settings_dict = connection.settings_dict
    return {
        "cores (usable / total)": f"{usable_cores()} / {os.cpu_count()}",
        "PostgreSQL": server,
        "database": f"{settings_dict['NAME']} on {settings_dict.get('HOST') or 'local socket'}",
        "tenants": f"{tenants} benchmark tenants; {Tenant.objects.count()} tenant rows in all (public included)",
        "runs": f"{runs} per path and operation, interleaved; figures are medians",
        "versions": (
            f"Python {platform.python_version()}, Django {version('django')}, "
            f"django-tenants {version('django-tenants')}, psycopg {version('psycopg')}"
        ),
    }


def ratio(stock: float, project: float) -> float:
    """Return stock / project seconds (inf when the project took no measurable time)."""
    return stock / project if project > 0 else float("inf")


def scale_note(measured: int, target: int | Sequence[int], noun: str = "tenants") -> str:
    """Return "" when `measured` is the target's count (or one of them), else a note for the "measured" column:
    " (at 200 tenants; the target is for 1,000)"."""
    targets = (target,) if isinstance(target, int) else tuple(target)
    if measured in targets:
        return ""
    named = [f"{count:,}" for count in targets]
    sizes = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return f" (at {measured:,} {noun}; the target is for {sizes})"


def verdict(met: bool, measured: int | None = None, target: int | Sequence[int] | None = None) -> str:
    """Return the "result" cell: met / not met. A target judged at another count (`measured`) than its own
    (`target`, one count or several) is never "met" for the count it names: "met at 200 only"."""
    targets = () if target is None else (target,) if isinstance(target, int) else tuple(target)
    if measured is None or not targets or measured in targets:
        return "[green]met" if met else "[red]not met"
    return f"[yellow]met at {measured:,} only" if met else f"[red]not met at {measured:,}"


def report(results: dict[str, dict[str, list[float]]], facts: dict[str, str], tenants: int, exactness: str) -> None:
    """Print the timings table, the P2/P3 targets with met / not met, and the machine facts.

    `results` maps operation -> path name -> seconds per run; `tenants` is the benchmark tenant count;
    `exactness` is expect_exact_plan's line (the check raised before this when it failed).
    """
    medians = {op: {path: statistics.median(runs) for path, runs in by_path.items()} for op, by_path in results.items()}
    table = Table(title="migrate_schemas across the fleet: whole command, fresh process, start-up included")
    table.add_column("operation")
    table.add_column("path")
    for column in ("median s", "runs s", "ms per schema", "stock / project"):
        table.add_column(column, justify="right")
    for operation, by_path in medians.items():
        for path, median in by_path.items():
            runs = " ".join(f"{t:.2f}" for t in results[operation][path])
            shown = "-" if path == PROJECT else f"{ratio(median, by_path[PROJECT]):.1f}x"
            table.add_row(operation, path, f"{median:.2f}", runs, f"{1000 * median / tenants:.1f}", shown)
        table.add_section()
    console.print(table)
    console.print("[dim]ms per schema: the whole command's median divided by the benchmark tenants")

    targets = Table(title="Targets")
    for column in ("id", "target", "measured", "result"):
        targets.add_column(column)
    noop, addfield = medians[NOOP], medians[ADDFIELD]
    parallel = [name for name in noop if name not in (STANDARD, PROJECT, PROJECT_BARE)]
    best_parallel = min(parallel, key=lambda name: addfield[name])
    scale = scale_note(tenants, TARGET_TENANTS)
    noop_ratio = ratio(noop[STANDARD], noop[PROJECT])
    addfield_ratio = ratio(addfield[STANDARD], addfield[PROJECT])
    parallel_ratio = ratio(addfield[best_parallel], addfield[PROJECT])
    bare_noop, bare_addfield = noop[PROJECT_BARE], addfield[PROJECT_BARE]
    per_schema = 1000 * addfield[PROJECT] / tenants
    at, at_large = f"at {TARGET_TENANTS:,} tenants", f"at {TARGET_LARGE_TENANTS:,} tenants"
    rows = [
        (
            "P2",
            f"no-op: project <= {TARGET_NOOP_SECONDS:g} s {at}",
            f"{noop[PROJECT]:.2f} s (bare {bare_noop:.2f} s){scale}",
            verdict(noop[PROJECT] <= TARGET_NOOP_SECONDS, tenants, TARGET_TENANTS),
        ),
        (
            "P2",
            f"no-op: >= {TARGET_NOOP_RATIO:.0f}x stock standard {at}",
            f"{noop_ratio:.1f}x{scale}",
            verdict(noop_ratio >= TARGET_NOOP_RATIO, tenants, TARGET_TENANTS),
        ),
    ]
    rows.append(("P2", "a lost or extra django_migrations row is still found", exactness, "met"))
    large_text = f"no-op: project <= {TARGET_LARGE_NOOP_SECONDS:g} s {at_large}"
    if tenants == TARGET_LARGE_TENANTS:
        large_met = noop[PROJECT] <= TARGET_LARGE_NOOP_SECONDS
        rows.append(("P2", large_text, f"{noop[PROJECT]:.2f} s (bare {bare_noop:.2f} s)", verdict(large_met)))
    else:
        rows.append(("P2", large_text, f"not measured at this size (ran {tenants:,} tenants)", NOT_MEASURED))
    rows += [
        (
            "P3",
            f"AddField: >= {TARGET_ADDFIELD_RATIO:.0f}x stock standard {at}",
            f"{addfield_ratio:.1f}x; project {per_schema:.1f} ms per schema (bare {bare_addfield:.2f} s){scale}",
            verdict(addfield_ratio >= TARGET_ADDFIELD_RATIO, tenants, TARGET_TENANTS),
        ),
        (
            "P3",
            f"AddField: >= {TARGET_ADDFIELD_PARALLEL_RATIO:.0f}x best stock parallel executor {at}",
            f"{parallel_ratio:.1f}x vs {best_parallel}{scale}",
            verdict(parallel_ratio >= TARGET_ADDFIELD_PARALLEL_RATIO, tenants, TARGET_TENANTS),
        ),
    ]
    for target_id, text, measured, result in rows:
        targets.add_row(target_id, text, measured, result)
    console.print(targets)

    facts_table = Table(title="Machine", show_header=False)
    for key, value in facts.items():
        facts_table.add_row(key, value)
    console.print(facts_table)


def child_environment(url: str) -> dict[str, str]:
    """Return the environment for measured commands: ours, with the resolved database and Redis URLs pinned.

    Pinning them keeps every child on the same servers and spares each the embedded-services lookup.
    """
    from django.conf import settings

    env = dict(os.environ)
    if url:
        env["DATABASE_URL"] = url
    redis_url = os.environ.get("REDIS_URL") or str(getattr(settings, "REDIS_URL", "") or "")
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def run(args: argparse.Namespace, env: dict[str, str]) -> None:
    """Create the tenants, measure (a) and (b), print the report. Cleanup is the caller's."""
    others = other_tenants()
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise BenchmarkError(
            f"this database has {len(others)} other tenants ({shown}); every tenant schema is migrated by both paths. "
            "Rerun with --scratch-db, or point DATABASE_URL at a database without other tenants."
        )
    drop_bench_tenants()  # left over by a killed run
    schemas = create_bench_tenants(args.tenants)
    # Creating the tenants drained the spare pool (its refill is off here). A full project run tops the pool up
    # before it exits (fleet_migrated), which once made the first measured no-op 31.5 s while its planning took
    # 0.68 s: the pool is filled here, untimed, so every measured run finds it full, as a deploy usually does.
    spare_pool_fill = from_project("lifecycle.provisioning", "spare_pool_fill")
    started = time.perf_counter()
    console.print(f"spare pool filled: {spare_pool_fill()} spare schema(s) in {time.perf_counter() - started:.1f} s")
    cores = usable_cores()
    paths = contenders(cores, subprocess_executor=not args.skip_subprocess)
    facts = machine_facts(args.tenants, args.runs)
    for path in paths:
        console.print(f"[dim]{path.name}: {' '.join(path.argv)}")
    if args.runs < 3:
        console.print("[yellow]fewer than 3 runs: comparable figures are medians of at least 3")

    reference_catalogs = from_project("fleet.verification", "reference_catalogs")

    before = reference_catalogs()
    results = {
        NOOP: measure(NOOP, paths, args.runs, env, after=lambda name: expect_stock_catalog(schemas, before, after=name))
    }
    exactness = expect_exact_plan(schemas)
    console.print(f"exactness: {exactness}")
    expect_addfield(schemas, applied=False, after="creating the tenants")
    write_migration_file()
    references = reference_catalogs()

    def applied_then_revert(name: str) -> None:
        expect_addfield(schemas, applied=True, after=name)
        expect_stock_catalog(schemas, references, after=name)
        revert_addfield(schemas)

    results[ADDFIELD] = measure(ADDFIELD, paths, args.runs, env, after=applied_then_revert)
    report(results, facts, args.tenants, exactness)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit code (0 done, 1 failed, 130 interrupted)."""
    args = parse_args(argv)
    started = time.perf_counter()
    remove_migration_file()  # left over by a killed run
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    environ_ensure()  # embedded servers for the URLs left unset, as manage.py does
    # Read by config/settings/base.py: creating the benchmark tenants schedules no spare-pool refill (a Celery
    # message no worker would take, or a thread competing with the creation); the measured commands top the
    # pool up themselves after a full run, as before.
    os.environ["TENANCY_SPARE_REFILL"] = "off"
    import django

    django.setup()
    scratch: tuple[str, str, str] | None = None
    try:
        url = database_url()
        if args.scratch_db:
            scratch = create_scratch_database()
            url = scratch[2]
            timed_run(Contender("migrate_schemas --shared", SHARED_MIGRATE), child_environment(url))
        run(args, child_environment(url))
        return 0
    except BenchmarkError as exc:
        console.print(f"[red]benchmark failed: {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; cleaning up")
        return 130
    finally:
        remove_migration_file()
        if scratch is not None:
            drop_scratch_database(scratch[0], scratch[1])
        elif not args.scratch_db:
            drop_bench_tenants()
        # else: the scratch database was never made; nothing of this run is left to clean up
        console.print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
