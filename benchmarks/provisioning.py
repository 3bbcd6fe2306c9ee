"""Provisioning benchmark: a new tenant from a warm spare pool, from an empty pool, and by stock django-tenants.

Command line, at the template root (a fresh bake of the template's working tree; benchmarks/README.md)::

    make benchmark-provisioning BENCHMARK_ARGS="--creations 100 --tenants 1000"

or from a baked project's folder, with the template root on PYTHONPATH::

    python -m benchmarks.provisioning [--creations 100] [--tenants 1000] [--scratch-db]

It times provisioning for an existing user, from the call to a committed, active tenant (password hashing
and HTTP are outside the timer), `--creations` times per path, round-robin, for four paths:

- warm pool: `lifecycle.services.tenant_create(name, slug, owner_email)` with one current spare schema in the
  pool (built before the timer starts, on another connection; the pool refill after the claim is off in this
  process);
- empty pool: the same call with no spare, so the schema is built by migrations;
- stock: `Tenant(..., status="active")` with `auto_create_schema = True` and `.save()`: django-tenants creates
  the schema and runs its own `migrate_schemas` command (not the project's override) with its standard
  executor; then the Domain and the owner Membership rows;
- stock clone: the same with django-tenants' TENANT_BASE_SCHEMA (and TENANT_CREATION_FAKES_MIGRATIONS): its
  `clone_schema` SQL function copies `tenant_pbench_base` (built before the timer by django-tenants' own
  per-schema migration step), then its `migrate_schemas --fake` records the migrations.

Each contender keeps a database connection of its own, as separate web processes would: the project's paths run
on the main thread's, the stock paths on one long-lived thread's (`Creator`), so neither leaves its traces (catalog
caches filled by running migrations, cached plans) in the other's session. After each creation, outside the
timer, a request for the tenant's host goes through the project's routing
middleware and must reach the tenant's schema; the tenant must be active, its schema must hold exactly the
tables of the tenant apps and record every migration. The tenant is then dropped again, so the number of
existing tenants stays fixed. Everything runs at 0 benchmark tenants, then at `--tenants` (real schemas,
migrated in groups by `fleet.executor.fleet_migrate`). It prints p50 and p95 per path and
size, the ratios stock / warm and stock / empty, and target P1 (docs/BENCHMARKS.md), met or not, at every
size measured:

- warm pool: p50 <= 10 ms and p95 <= 20 ms;
- warm pool >= 40x the best stock path: the fastest stock p50 of the two stock paths;
- the same warm-pool p50 within 20 % at every size measured (the target names 0, 1,000 and 10,000 tenants),
  relative to the smallest size;
- empty pool >= 1.5x the best stock path's p50 (what a burst of sign-ups meets once the pool is used up).

The target is for 0, 1,000 and 10,000 tenants: a figure at another size says so in the "measured" column and is
never printed as met for those sizes ("met at N only").

Benchmark tenants have slugs starting `pbench-`. The database may hold the demo tenants besides them, nothing
else (`--scratch-db` runs in a new database `<name>_provisioning_bench` instead). The spare pool is emptied at
the start and refilled at the end to its former size (at least settings.TENANCY_SPARE_SCHEMAS). At the end,
also on error or Ctrl-C, every benchmark tenant is dropped with `tenant_drop` (or the scratch database is
dropped); a killed run's leftovers are removed when the next run starts.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

from loadcheck.harness import chunks, expect_schemas_complete, tenant_tables
from rich.table import Table

from benchmarks.migrate_fleet import (
    NOT_MEASURED,
    SHARED_MIGRATE,
    BenchmarkError,
    Contender,
    child_environment,
    console,
    create_scratch_database,
    drop_scratch_database,
    progress,
    scale_note,
    timed_run,
    verdict,
)
from benchmarks.project import from_project
from benchmarks.stock_manage import usable_cores
from config.devservices import environ_ensure

SLUG_PREFIX = "pbench-"
SLUG_REGEX = r"^pbench-"
SCHEMA_LIKE = r"tenant\_pbench\_%"  # schema_name_for() turns the slug's hyphens into underscores
FLEET_SLUG = SLUG_PREFIX + "fleet-{:05d}"
CREATED_SLUG = SLUG_PREFIX + "{path}-{size}-{number}"
OWNER_EMAIL = "pbench-owner@example.com"
MAX_TENANTS = 99_999
WARM, EMPTY, STOCK, STOCK_CLONE = "warm pool", "empty pool", "stock", "stock clone"
PATHS = (WARM, EMPTY, STOCK, STOCK_CLONE)
SLUG_WORD = {WARM: "warm", EMPTY: "empty", STOCK: "stock", STOCK_CLONE: "clone"}
STOCK_PATHS = (STOCK, STOCK_CLONE)  # the stock paths measured; P1's ratios are against the fastest of them
# The schema stock's clone path copies (TENANT_BASE_SCHEMA); named like a benchmark tenant's schema, so a killed
# run's is dropped by the next run (drop_bench_tenants) like other benchmark schemas without a tenant row.
BASE_SCHEMA = "tenant_pbench_base"
# Target P1 (docs/BENCHMARKS.md, issue 20), at every size in TARGET_SIZES (existing tenants).
TARGET_SIZES = (0, 1000, 10_000)
TARGET_P50_MS = 10.0  # warm pool, median
TARGET_P95_MS = 20.0  # warm pool, 95th percentile
TARGET_RATIO = 40.0  # best stock p50 / warm-pool p50
TARGET_SPREAD = 0.20  # warm-pool p50 at every size within 20 % of the smallest size's
TARGET_EMPTY_RATIO = 1.5  # stock p50 / empty-pool p50
SCHEMAS_PER_STATEMENT = 250
SCHEMAS_PER_MIGRATE = 50  # fleet_migrate call; its worker processes finish a started call before Ctrl-C stops it
SCRATCH_SUFFIX = "_provisioning_bench"
DESCRIPTION = (
    "Time tenant provisioning for an existing user: warm spare pool, empty pool and stock django-tenants "
    "(auto_create_schema), at 0 and at N existing tenants."
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line: creations (per path and size), tenants (fleet size, 0 = only at 0), scratch_db."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.provisioning", description=DESCRIPTION)
    parser.add_argument(
        "--creations", type=int, default=100, help="timed creations per path and size; p50 and p95 (default 100)"
    )
    parser.add_argument(
        "--tenants",
        type=int,
        default=1000,
        help="existing tenants for the second measurement (default 1000; 0 measures at 0 tenants only)",
    )
    parser.add_argument(
        "--scratch-db", action="store_true", help=f"run in a new database <name>{SCRATCH_SUFFIX}, dropped at the end"
    )
    args = parser.parse_args(argv)
    if args.creations < 1:
        parser.error("--creations must be at least 1")
    if not 0 <= args.tenants <= MAX_TENANTS:
        parser.error(f"--tenants must be 0-{MAX_TENANTS}")
    return args


# ----------------------------------------------------------------------------------------------------------------
# Database, benchmark tenants and the spare pool
# ----------------------------------------------------------------------------------------------------------------


def demo_slugs() -> set[str]:
    """Return the slugs of the demo tenants (demo/seed.py), which may share the database with the benchmark."""
    DEMO_TENANTS = from_project("demo.seed", "DEMO_TENANTS")

    return {demo.slug for demo in DEMO_TENANTS}


def other_tenants() -> list[str]:
    """Return the slugs of tenants that are neither public, demo nor benchmark tenants."""
    from django_tenants.utils import get_public_schema_name

    Tenant = from_project("tenancy.models", "Tenant")

    others = Tenant.objects.exclude(schema_name=get_public_schema_name()).exclude(slug__regex=SLUG_REGEX)
    return list(others.exclude(slug__in=demo_slugs()).values_list("slug", flat=True))


def existing_tenants() -> int:
    """Return the number of tenants other than the public one."""
    from django_tenants.utils import get_public_schema_name

    Tenant = from_project("tenancy.models", "Tenant")

    return Tenant.objects.exclude(schema_name=get_public_schema_name()).count()


def drop_bench_tenants() -> None:
    """Drop every benchmark tenant (row, domains, memberships, schema) with the project's `tenant_drop`, then
    the schemas with the benchmark prefix that have no tenant row (a killed fleet set-up leaves those)."""
    from django.db import connection

    tenant_drop = from_project("lifecycle.services", "tenant_drop")
    Tenant = from_project("tenancy.models", "Tenant")

    slugs = list(Tenant.objects.filter(slug__regex=SLUG_REGEX).order_by("slug").values_list("slug", flat=True))
    if slugs:
        with progress() as bar:
            task = bar.add_task("dropping benchmark tenants", total=len(slugs))
            for slug in slugs:
                tenant_drop(slug=slug)
                bar.advance(task)
    with connection.cursor() as cursor:
        tenants = connection.ops.quote_name(Tenant._meta.db_table)
        query = (
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s "  # noqa: S608 - a quoted table name only
            f"AND nspname NOT IN (SELECT schema_name FROM {tenants})"
        )
        cursor.execute(query, [SCHEMA_LIKE])
        orphans = [row[0] for row in cursor.fetchall()]
        for schema in orphans:
            cursor.execute(f"DROP SCHEMA IF EXISTS {connection.ops.quote_name(schema)} CASCADE")
    if orphans:
        console.print(f"dropped {len(orphans)} benchmark schemas without a tenant row")


def spare_count() -> int:
    """Return how many spare schemas the pool has registered."""
    SpareSchema = from_project("tenancy.models", "SpareSchema")

    return SpareSchema.objects.count()


def drop_spares(keep: int = 0) -> int:
    """Unregister and drop the pool's spare schemas beyond the oldest `keep`, in one transaction; return how many.

    Only schemas named with the pool's prefix are dropped; the rows are locked first, so a spare being claimed
    concurrently is waited for (and then gone from the list).
    """
    from django.db import connection, transaction

    SPARE_PREFIX = from_project("lifecycle.provisioning", "SPARE_PREFIX")
    SpareSchema = from_project("tenancy.models", "SpareSchema")

    with transaction.atomic():
        spares = list(SpareSchema.objects.select_for_update().order_by("id")[keep:])
        with connection.cursor() as cursor:
            for spare in spares:
                if not spare.schema_name.startswith(SPARE_PREFIX):
                    raise BenchmarkError(f"spare schema {spare.schema_name!r} lacks the prefix {SPARE_PREFIX!r}")
                cursor.execute(f"DROP SCHEMA IF EXISTS {connection.ops.quote_name(spare.schema_name)} CASCADE")
                spare.delete()
    return len(spares)


def restore_spare_pool(before: int) -> None:
    """Leave the pool as the run found it: `before` spare schemas, or settings.TENANCY_SPARE_SCHEMAS when it
    was short of them (a killed run leaves it short). Drops the spares beyond, builds the missing ones."""
    from django.conf import settings

    spare_pool_fill = from_project("lifecycle.provisioning", "spare_pool_fill")

    size = max(before, settings.TENANCY_SPARE_SCHEMAS)
    drop_spares(keep=size)
    spare_pool_fill(target=size)


def owner_ensure() -> str:
    """Create the benchmark's tenant owner (no usable password) when missing; return its email."""
    user_get_or_create = from_project("accounts.services", "user_get_or_create")

    return user_get_or_create(email=OWNER_EMAIL).email


def owner_delete() -> None:
    """Delete the benchmark's tenant owner, if present, as the project deletes a user (accounts.services.user_delete:
    its memberships go, its row stays as an anonymous tombstone; the database refuses to delete a user row)."""
    User = from_project("accounts.models", "User")
    user_delete = from_project("accounts.services", "user_delete")

    for user in User.objects.filter(email=OWNER_EMAIL):
        user_delete(user=user)


# ----------------------------------------------------------------------------------------------------------------
# Existing tenants: the fleet
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class FleetSetup:
    """Seconds spent creating the fleet, by step, for the report."""

    tenants: int
    create_schemas: float = 0.0
    migrate: float = 0.0
    rows: float = 0.0
    parallel: int = 1

    @property
    def total(self) -> float:
        return self.create_schemas + self.migrate + self.rows


def create_fleet(
    count: int, *, slug_format: str = FLEET_SLUG, name_format: str = "Benchmark fleet {:05d}"
) -> FleetSetup:
    """Create `count` active tenants pbench-fleet-00001 ... with real schemas, faster than one `tenant_create` each.

    `slug_format` and `name_format` (str.format with the tenant's number, from 1) name them; the domain is the
    project's default for the slug (`<slug>.<TENANCY_BASE_DOMAIN>`).

    The empty schemas are created first, then migrated by the project's `fleet_migrate` in groups of 50 (it
    plans and prepares each migration once per group and replays the shareable ones' SQL per schema, one worker
    process per usable core), then the tenant rows and their domains are inserted in one transaction.
    Raises BenchmarkError when a schema fails.
    """
    from django.db import connection, transaction

    SchemaResult, fleet_migrate = from_project("fleet.executor", "SchemaResult", "fleet_migrate")
    default_domain_for = from_project("lifecycle.services", "default_domain_for")
    schema_name_for = from_project("tenancy.domain", "schema_name_for")
    Domain, Tenant = from_project("tenancy.models", "Domain", "Tenant")

    setup = FleetSetup(tenants=count, parallel=usable_cores())
    slugs = [slug_format.format(number) for number in range(1, count + 1)]
    schemas = [schema_name_for(slug) for slug in slugs]
    quote = connection.ops.quote_name

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for part in chunks(schemas, SCHEMAS_PER_STATEMENT):
            cursor.execute("".join(f"CREATE SCHEMA {quote(schema)}; " for schema in part))
    setup.create_schemas = time.perf_counter() - started

    started = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(f"migrating {count} fleet schemas", total=count)

        def advance(_result: SchemaResult) -> None:
            bar.advance(task)

        # In parts: Ctrl-C lets the worker processes finish the part they have, not the whole fleet.
        for part in chunks(schemas, SCHEMAS_PER_MIGRATE):
            pairs = [(schema, None) for schema in part]
            report = fleet_migrate(schemas=pairs, parallel=setup.parallel, progress=advance)
            if not report.ok:
                failed = report.failed[0] if report.failed else None
                detail = f"{failed.schema}: {failed.error}" if failed else "not every schema ran"
                raise BenchmarkError(f"migrating the fleet schemas failed: {detail}")
    setup.migrate = time.perf_counter() - started

    started = time.perf_counter()
    with transaction.atomic():
        tenants = Tenant.objects.bulk_create(
            [
                Tenant(name=name_format.format(number), slug=slug, schema_name=schema, status=Tenant.Status.ACTIVE)
                for number, (slug, schema) in enumerate(zip(slugs, schemas, strict=True), start=1)
            ],
            batch_size=1000,
        )
        Domain.objects.bulk_create(
            [Domain(domain=default_domain_for(tenant.slug), tenant=tenant, is_primary=True) for tenant in tenants],
            batch_size=1000,
        )
    setup.rows = time.perf_counter() - started
    expect_schemas_complete(schemas)
    return setup


# ----------------------------------------------------------------------------------------------------------------
# The three paths and the checks after each creation
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class StockProbe:
    """Records which `migrate_schemas` command class and which executor ran, to prove the stock path is stock.

    `install()` wraps django-tenants' `MigrateSchemasCommand.handle` and `StandardExecutor.run_migrations`
    (each records, then calls the library's method); `uninstall()` puts the originals back.
    """

    commands: list[type] = field(default_factory=list)
    standard_runs: list[str] = field(default_factory=list)
    originals: dict[str, Any] = field(default_factory=dict)

    def install(self) -> None:
        from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
        from django_tenants.migration_executors import StandardExecutor

        handle, run_migrations = MigrateSchemasCommand.handle, StandardExecutor.run_migrations
        self.originals = {"handle": handle, "run_migrations": run_migrations}
        probe = self

        def recording_handle(command: Any, *args: Any, **options: Any) -> Any:
            probe.commands.append(type(command))
            return handle(command, *args, **options)

        def recording_run(executor: Any, tenants: Any = None) -> Any:
            probe.standard_runs.extend(tenants or [])
            return run_migrations(executor, tenants)

        MigrateSchemasCommand.handle = recording_handle  # type: ignore[method-assign]
        StandardExecutor.run_migrations = recording_run  # type: ignore[method-assign]

    def uninstall(self) -> None:
        from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
        from django_tenants.migration_executors import StandardExecutor

        if self.originals:
            MigrateSchemasCommand.handle = self.originals["handle"]  # type: ignore[method-assign]
            StandardExecutor.run_migrations = self.originals["run_migrations"]  # type: ignore[method-assign]
            self.originals = {}

    def expect_stock_run(self, schema: str) -> None:
        """Raise BenchmarkError unless exactly django-tenants' own command and standard executor migrated `schema`."""
        from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

        commands, runs = self.commands, self.standard_runs
        self.commands, self.standard_runs = [], []
        if commands != [MigrateSchemasCommand] or runs != [schema]:
            names = [f"{cls.__module__}.{cls.__qualname__}" for cls in commands]
            raise BenchmarkError(
                f"the stock path did not run django-tenants' own migrate_schemas with its standard executor on "
                f"{schema!r}: commands run {names or 'none'}, standard executor schemas {runs or 'none'}"
            )


@contextlib.contextmanager
def stock_migrate_schemas() -> Iterator[None]:
    """Make `call_command("migrate_schemas")` load django-tenants' command instead of the project's override.

    Django resolves a command name through `get_commands()`, a cached dict of name -> app; the entry points at
    `django_tenants` while the block runs and at its former app afterwards.
    """
    from django.core.management import get_commands

    commands = get_commands()
    previous = commands["migrate_schemas"]
    commands["migrate_schemas"] = "django_tenants"
    try:
        yield
    finally:
        commands["migrate_schemas"] = previous


def create_warm_or_empty(slug: str, owner_email: str) -> None:
    """The project's path: `tenant_create` for an existing user (a spare is claimed when the pool has one)."""
    tenant_create = from_project("lifecycle.services", "tenant_create")

    tenant_create(name=f"Benchmark {slug}", slug=slug, owner_email=owner_email)


def create_base_schema() -> None:
    """Create BASE_SCHEMA and migrate it by django-tenants' own per-schema step (fleet.executor.stock_migrate), for
    the stock clone path; committed, dropped at the end with the other benchmark schemas."""
    from django.db import connection

    stock_migrate = from_project("fleet.executor", "stock_migrate")

    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {BASE_SCHEMA} CASCADE")
        cursor.execute(f"CREATE SCHEMA {BASE_SCHEMA}")
    stock_migrate(BASE_SCHEMA)
    connection.set_schema_to_public()  # type: ignore[attr-defined]


def drop_base_schema() -> None:
    """Drop BASE_SCHEMA when present."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {BASE_SCHEMA} CASCADE")


def stock_clone_settings() -> Any:
    """The settings under which django-tenants creates a schema by cloning BASE_SCHEMA (override_settings)."""
    from django.test import override_settings

    return override_settings(TENANT_BASE_SCHEMA=BASE_SCHEMA, TENANT_CREATION_FAKES_MIGRATIONS=True)


def create_stock(slug: str, owner_email: str) -> None:
    """The stock django-tenants path: tenant row with auto_create_schema (schema + stock migrate_schemas, verbosity
    0 as tenant_create's default), then the primary domain and the owner membership, each committed on its own."""
    Membership, User = from_project("accounts.models", "Membership", "User")
    default_domain_for = from_project("lifecycle.services", "default_domain_for")
    schema_name_for = from_project("tenancy.domain", "schema_name_for")
    Domain, Tenant = from_project("tenancy.models", "Domain", "Tenant")

    tenant = Tenant(name=f"Benchmark {slug}", slug=slug, schema_name=schema_name_for(slug), status=Tenant.Status.ACTIVE)
    tenant.auto_create_schema = True
    tenant.save(verbosity=0)
    Domain.objects.create(domain=default_domain_for(slug), tenant=tenant, is_primary=True)
    owner = User.objects.get(email=owner_email)
    Membership.objects.create(user=owner, tenant=tenant, role="owner")


def expect_routable(slug: str, expected_tables: set[str]) -> None:
    """Raise BenchmarkError unless tenant `slug` is active, its host is routed to its schema by the project's
    middleware, its schema holds exactly `expected_tables` and records every migration."""
    from django.db import connection
    from django.http import HttpRequest, HttpResponse
    from django.test import RequestFactory, override_settings

    is_current, read_applied = from_project("fleet.plan", "is_current", "read_applied")
    TenantRoutingMiddleware = from_project("tenancy.middleware", "TenantRoutingMiddleware")
    Tenant = from_project("tenancy.models", "Tenant")

    connection.set_schema_to_public()  # type: ignore[attr-defined]
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None or tenant.status != Tenant.Status.ACTIVE:
        raise BenchmarkError(f"tenant {slug!r} is {'missing' if tenant is None else tenant.status}, not active")
    domain = tenant.domains.filter(is_primary=True).values_list("domain", flat=True).first()
    if domain is None:
        raise BenchmarkError(f"tenant {slug!r} has no primary domain")
    routed: dict[str, object] = {}

    def view(request: HttpRequest) -> HttpResponse:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_schema(), count(*) FROM django_migrations")
            row = cursor.fetchone()
        routed["schema"] = row[0] if row else None
        routed["tenant"] = getattr(request, "tenant", None)
        return HttpResponse("routed")

    request = RequestFactory().get("/", HTTP_HOST=domain)
    try:
        with override_settings(ALLOWED_HOSTS=[domain]):
            response = TenantRoutingMiddleware(view)(request)
    finally:
        connection.set_schema_to_public()  # type: ignore[attr-defined]
    routed_tenant = routed.get("tenant")
    if response.status_code != 200 or getattr(routed_tenant, "pk", None) != tenant.pk:
        raise BenchmarkError(f"host {domain!r} of tenant {slug!r} is not routed to it (HTTP {response.status_code})")
    if routed["schema"] != tenant.schema_name:
        raise BenchmarkError(f"host {domain!r} is routed to schema {routed['schema']!r}, not {tenant.schema_name!r}")
    tables = schema_table_names(tenant.schema_name)
    if tables != expected_tables:
        raise BenchmarkError(
            f"schema {tenant.schema_name!r} misses tables {sorted(expected_tables - tables)} and has extra "
            f"tables {sorted(tables - expected_tables)}"
        )
    applied, _ = read_applied([tenant.schema_name])
    if not is_current(applied[tenant.schema_name]):
        raise BenchmarkError(f"schema {tenant.schema_name!r} does not record every migration")


def schema_table_names(schema: str) -> set[str]:
    """Return the names of the tables in `schema`."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


@dataclass
class Statements:
    """Counts SQL statements sent through Django's connection (an execute wrapper; BEGIN and COMMIT not seen)."""

    count: int = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def fill_pool_to_one(failure: list[BaseException]) -> None:
    """Thread body: fill the spare pool to one spare on this thread's own connection, then close it; an error
    is appended to `failure`."""
    from django.db import connection

    spare_pool_fill = from_project("lifecycle.provisioning", "spare_pool_fill")

    try:
        spare_pool_fill(target=1)
    except BaseException as exc:
        failure.append(exc)
    finally:
        connection.close()


def close_connection() -> None:
    """Close this thread's database connection (for a thread that is about to end)."""
    from django.db import connection

    connection.close()


class Creator:
    """Creates, checks and drops one tenant by a given path; only the creation itself is timed.

    Each contender keeps a database connection of its own, as it would in separate web processes: the project's
    paths run on this thread's connection, the stock paths on the connection of one long-lived thread (the stock
    lane), so neither path's creations leave their traces in the other's session (catalog caches filled by
    running migrations, cached plans). Each tenant is checked and dropped, untimed, on its creator's connection.
    Call close() at the end: it closes the stock lane's connection and ends its thread.
    """

    def __init__(self, owner_email: str, probe: StockProbe) -> None:
        self.owner_email = owner_email
        self.probe = probe
        self.expected_tables: set[str] | None = None
        self._stock_lane: ThreadPoolExecutor | None = None

    def close(self) -> None:
        """Close the stock lane's connection and end its thread (nothing when no stock path ran)."""
        if self._stock_lane is not None:
            self._stock_lane.submit(close_connection).result()
            self._stock_lane.shutdown()
            self._stock_lane = None

    def _create_stock(self, path: str, slug: str, statements: Statements | None) -> float:
        """On the stock lane: create tenant `slug` by stock path `path`; return the creation's seconds."""
        from django.db import connection

        connection.set_schema_to_public()  # type: ignore[attr-defined]
        connection.ensure_connection()
        wrapper = connection.execute_wrapper(statements) if statements else contextlib.nullcontext()
        clone = stock_clone_settings() if path == STOCK_CLONE else contextlib.nullcontext()
        with stock_migrate_schemas(), clone, wrapper:
            started = time.perf_counter()
            create_stock(slug, self.owner_email)
            return time.perf_counter() - started

    def prepare(self, path: str) -> None:
        """Outside the timer: one current spare in the pool for the warm path, none for the others.

        The spare is built in a thread, on a database connection of its own, as the project's background
        refill builds it: the creation's connection meets the spare's schema for the first time when it claims it.
        """
        if path == WARM:
            failure: list[BaseException] = []
            thread = threading.Thread(target=fill_pool_to_one, args=(failure,), name="benchmark-spare")
            thread.start()
            thread.join()
            if failure:
                raise BenchmarkError(f"building a spare schema failed: {failure[0]!r}") from failure[0]
            if spare_count() != 1:
                raise BenchmarkError(f"the spare pool holds {spare_count()} spares before a warm-pool creation, not 1")
        elif spare_count():
            drop_spares()

    def create(self, path: str, slug: str, *, statements: Statements | None = None) -> float:
        """Create tenant `slug` by `path`, check it and drop it again; return the creation's seconds."""
        from django.db import connection

        schema_name_for = from_project("tenancy.domain", "schema_name_for")

        self.prepare(path)
        if path in STOCK_PATHS:
            if self._stock_lane is None:
                self._stock_lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="benchmark-stock")
            elapsed = self._stock_lane.submit(self._create_stock, path, slug, statements).result()
            self.probe.expect_stock_run(schema_name_for(slug))
            self._stock_lane.submit(self._check_and_drop, slug).result()
            return elapsed
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        connection.ensure_connection()
        wrapper = connection.execute_wrapper(statements) if statements else contextlib.nullcontext()
        with wrapper:
            started = time.perf_counter()
            create_warm_or_empty(slug, self.owner_email)
            elapsed = time.perf_counter() - started
        if spare_count():
            raise BenchmarkError(f"{path}: the pool holds a spare after creating {slug!r}; expected none")
        self._check_and_drop(slug)
        return elapsed

    def _check_and_drop(self, slug: str) -> None:
        """Check tenant `slug` (expect_routable) and drop it, on the calling thread's connection."""
        from django.db import connection

        tenant_drop = from_project("lifecycle.services", "tenant_drop")
        schema_name_for = from_project("tenancy.domain", "schema_name_for")

        connection.set_schema_to_public()  # type: ignore[attr-defined]
        if self.expected_tables is None:
            self.expected_tables = tenant_tables(schema_name_for(slug))
        expect_routable(slug, self.expected_tables)
        tenant_drop(slug=slug)


# ----------------------------------------------------------------------------------------------------------------
# Measuring and reporting
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class SizeResult:
    """Seconds per creation by path, SQL statements of the untimed warm-up creation by path, tenants present."""

    fleet: int
    tenants: int
    seconds: dict[str, list[float]]
    statements: dict[str, int]


def measure(creator: Creator, fleet: int, creations: int, paths: Sequence[str] = PATHS) -> SizeResult:
    """One untimed warm-up creation per path (it also counts the SQL statements), then `creations` timed ones per
    path, round-robin over `paths` (default: warm, empty, stock, stock clone; benchmarks/scale.py times the
    project's two)."""
    tenants = existing_tenants()
    statements: dict[str, int] = {}
    for path in paths:
        counter = Statements()
        creator.create(path, CREATED_SLUG.format(path=SLUG_WORD[path], size=fleet, number="warmup"), statements=counter)
        statements[path] = counter.count
    seconds: dict[str, list[float]] = {path: [] for path in paths}
    with progress() as bar:
        task = bar.add_task(f"creations at {fleet} benchmark tenants", total=creations * len(paths))
        for number in range(1, creations + 1):
            for path in paths:
                slug = CREATED_SLUG.format(path=SLUG_WORD[path], size=fleet, number=f"{number:05d}")
                seconds[path].append(creator.create(path, slug))
                bar.advance(task)
    if existing_tenants() != tenants:
        raise BenchmarkError(f"{existing_tenants()} tenants after the creations at {fleet}; expected {tenants}")
    medians = ", ".join(f"{path} {1000 * statistics.median(seconds[path]):.1f} ms" for path in paths)
    console.print(f"at {fleet} benchmark tenants: p50 {medians}")
    return SizeResult(fleet=fleet, tenants=tenants, seconds=seconds, statements=statements)


def p95(samples: Sequence[float]) -> float:
    """Return the 95th percentile of `samples` (nearest rank)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def ratio(stock: float, project: float) -> float:
    """Return stock / project seconds (inf when the project took no measurable time)."""
    return stock / project if project > 0 else float("inf")


def machine_facts(creations: int) -> dict[str, str]:
    """Return what the figures depend on: cores, PostgreSQL and its commit setting, versions, creations, database."""
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version'), current_setting('synchronous_commit')")
        server, synchronous_commit = cursor.fetchone()
    settings_dict = connection.settings_dict
    return {
        "cores (usable / total)": f"{usable_cores()} / {os.cpu_count()}",
        "PostgreSQL": f"{server} (synchronous_commit {synchronous_commit})",
        "database": f"{settings_dict['NAME']} on {settings_dict.get('HOST') or 'local socket'}",
        "creations": (
            f"{creations} timed per path and size, round-robin warm / empty / stock / stock clone, "
            "after one untimed each"
        ),
        "connections": "one per contender: the project's paths on one, the stock paths on another (a thread's)",
        "timer": "the creation call only; spare refill (TENANCY_SPARE_REFILL=off), checks and drop are outside",
        "spare pool setting": f"TENANCY_SPARE_SCHEMAS={settings.TENANCY_SPARE_SCHEMAS} (emptied during the run)",
        "versions": (
            f"Python {platform.python_version()}, Django {version('django')}, "
            f"django-tenants {version('django-tenants')}, psycopg {version('psycopg')}"
        ),
    }


def target_rows(results: Sequence[SizeResult]) -> list[tuple[str, str, str]]:
    """Return target P1 as (target, measured, result) rows: latency and ratios at every size measured, then the
    warm-pool p50's spread across the sizes."""
    rows = []
    for result in results:
        medians = {path: statistics.median(result.seconds[path]) for path in PATHS}
        warm_ms, warm_p95_ms = 1000 * medians[WARM], 1000 * p95(result.seconds[WARM])
        best_stock = min(STOCK_PATHS, key=lambda path: medians[path])
        stock_ratio = ratio(medians[best_stock], medians[WARM])
        empty_ratio = ratio(medians[best_stock], medians[EMPTY])
        at = f"at {result.fleet:,} tenants"
        scale = scale_note(result.fleet, TARGET_SIZES)
        checks = [
            (f"warm-pool p50 <= {TARGET_P50_MS:.0f} ms {at}", f"{warm_ms:.1f} ms", warm_ms <= TARGET_P50_MS),
            (f"warm-pool p95 <= {TARGET_P95_MS:.0f} ms {at}", f"{warm_p95_ms:.1f} ms", warm_p95_ms <= TARGET_P95_MS),
            (
                f"warm pool >= {TARGET_RATIO:.0f}x the best stock path (p50) {at}",
                f"{stock_ratio:.1f}x vs {best_stock} {1000 * medians[best_stock]:.1f} ms",
                stock_ratio >= TARGET_RATIO,
            ),
            (
                f"empty pool >= {TARGET_EMPTY_RATIO:g}x the best stock path (p50) {at}",
                f"{empty_ratio:.2f}x ({1000 * medians[EMPTY]:.1f} ms vs {best_stock} "
                f"{1000 * medians[best_stock]:.1f} ms)",
                empty_ratio >= TARGET_EMPTY_RATIO,
            ),
        ]
        rows += [(text, measured + scale, verdict(met, result.fleet, TARGET_SIZES)) for text, measured, met in checks]

    sizes = " / ".join(f"{size:,}" for size in TARGET_SIZES)
    text = f"same warm-pool p50 (+/- {100 * TARGET_SPREAD:.0f} %) at {sizes} tenants"
    ordered = sorted(results, key=lambda result: result.fleet)
    if len(ordered) < 2:
        at = f"{ordered[0].fleet:,}" if ordered else "no"
        rows.append((text, f"one size measured ({at} tenants): nothing to compare", NOT_MEASURED))
        return rows
    base = statistics.median(ordered[0].seconds[WARM])
    spreads = [(result.fleet, statistics.median(result.seconds[WARM]) / base - 1) for result in ordered[1:]]
    shown = f"{1000 * base:.1f} ms at {ordered[0].fleet:,}; " + ", ".join(
        f"{100 * spread:+.0f} % at {size:,}" for size, spread in spreads
    )
    measured_sizes = sorted(result.fleet for result in ordered)
    missing = [size for size in TARGET_SIZES if size not in measured_sizes]
    others = [size for size in measured_sizes if size not in TARGET_SIZES]
    notes = []
    if missing:
        notes.append("not measured at " + ", ".join(f"{size:,}" for size in missing))
    if others:
        notes.append("the target is for " + sizes + ", not " + ", ".join(f"{size:,}" for size in others))
    if notes:
        shown += " (" + "; ".join(notes) + ")"
    met = all(abs(spread) <= TARGET_SPREAD for _, spread in spreads)
    if notes and met:
        outcome = "[yellow]met at " + " and ".join(f"{size:,}" for size in measured_sizes) + " only"
    else:
        outcome = verdict(met)
    rows.append((text, shown, outcome))
    return rows


def report(results: Sequence[SizeResult], setups: Sequence[FleetSetup], facts: dict[str, str]) -> None:
    """Print the latency table (p50, p95, ratios), the P1 targets with met / not met, set-up costs and the machine."""
    table = Table(title="Provisioning latency: call to committed, routable, active tenant (ms)")
    table.add_column("existing tenants")
    table.add_column("path")
    for column in ("p50 ms", "p95 ms", "min ms", "SQL statements", "best stock / this (p50)"):
        table.add_column(column, justify="right")
    for result in results:
        medians = {path: statistics.median(result.seconds[path]) for path in PATHS}
        best_stock = min(STOCK_PATHS, key=lambda path: medians[path])
        others = result.tenants - result.fleet
        size = f"{result.fleet:,}" + (f" + {others} demo" if others else "")
        for path in PATHS:
            samples = result.seconds[path]
            shown = "-" if path in STOCK_PATHS else f"{ratio(medians[best_stock], medians[path]):.1f}x"
            table.add_row(
                size,
                path,
                f"{1000 * medians[path]:.1f}",
                f"{1000 * p95(samples):.1f}",
                f"{1000 * min(samples):.1f}",
                str(result.statements[path]),
                shown,
            )
        table.add_section()
    console.print(table)
    console.print(
        "[dim]SQL statements: sent by Django during the untimed warm-up creation (execute wrapper; "
        "BEGIN/COMMIT not counted)"
    )

    targets = Table(title="Targets")
    for column in ("id", "target", "measured", "result"):
        targets.add_column(column)
    for row in target_rows(results):
        targets.add_row("P1", *row)
    console.print(targets)

    if setups:
        costs = Table(title="Set-up of the existing tenants (not part of the figures)")
        for column in ("tenants", "CREATE SCHEMA", "fleet_migrate", "rows + domains", "total", "per tenant"):
            costs.add_column(column, justify="right")
        for setup in setups:
            costs.add_row(
                f"{setup.tenants:,}",
                f"{setup.create_schemas:.1f} s",
                f"{setup.migrate:.1f} s ({setup.parallel} workers)",
                f"{setup.rows:.1f} s",
                f"{setup.total:.1f} s",
                f"{1000 * setup.total / setup.tenants:.0f} ms",
            )
        console.print(costs)

    facts_table = Table(title="Machine", show_header=False)
    for key, value in facts.items():
        facts_table.add_row(key, value)
    console.print(facts_table)


# ----------------------------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class RunState:
    """What cleanup needs to know: the spare pool's size before the run (None: not touched yet)."""

    spares_before: int | None = None


def run(args: argparse.Namespace, state: RunState) -> None:
    """Check the database, measure at 0 and at `--tenants` tenants, print the report. Cleanup is the caller's."""
    from django.conf import settings

    if settings.TENANCY_SPARE_REFILL != "off":
        raise BenchmarkError(
            f"settings.TENANCY_SPARE_REFILL is {settings.TENANCY_SPARE_REFILL!r}; the benchmark needs 'off' "
            "(read from the environment by config/settings/base.py) so that no refill runs inside the timer"
        )
    if os.environ.get("EXECUTOR", "standard") != "standard":
        raise BenchmarkError(f"$EXECUTOR is {os.environ['EXECUTOR']!r}; unset it: the stock path uses 'standard'")
    others = other_tenants()
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise BenchmarkError(
            f"this database has {len(others)} tenants besides the demo ones ({shown}); the figures at 0 tenants "
            "would not be at 0. Rerun with --scratch-db, or point DATABASE_URL at a database without other tenants."
        )
    provisioning = from_project("lifecycle", "provisioning")

    # One "spare schema created" line per warm-pool creation would bury the progress bars.
    logging.getLogger(provisioning.__name__).setLevel(logging.WARNING)
    drop_bench_tenants()  # left over by a killed run
    state.spares_before = spare_count()
    dropped = drop_spares()
    if dropped:
        console.print(f"emptied the spare pool ({dropped} spares; refilled at the end)")
    owner_email = owner_ensure()
    if args.creations < 100:
        console.print("[yellow]fewer than 100 creations per path: P1 is judged on at least 100")
    facts = machine_facts(args.creations)

    create_base_schema()  # for the stock clone path, before the probe watches django-tenants' commands
    probe = StockProbe()
    probe.install()
    creator = Creator(owner_email, probe)
    try:
        results = [measure(creator, 0, args.creations)]
        setups = []
        if args.tenants:
            setup = create_fleet(args.tenants)
            setups.append(setup)
            console.print(
                f"created {args.tenants} existing tenants in {setup.total:.1f} s "
                f"({1000 * setup.total / args.tenants:.0f} ms per tenant)"
            )
            results.append(measure(creator, args.tenants, args.creations))
    finally:
        creator.close()
        probe.uninstall()
        drop_base_schema()
    report(results, setups, facts)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit code (0 done, 1 failed, 130 interrupted)."""
    args = parse_args(argv)
    started = time.perf_counter()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    environ_ensure()  # embedded servers for the URLs left unset, as manage.py does
    # Read by config/settings/base.py: no spare-pool refill after a claim, so none runs inside the timer.
    os.environ["TENANCY_SPARE_REFILL"] = "off"
    import django

    django.setup()
    scratch: tuple[str, str, str] | None = None
    state = RunState()
    try:
        if args.scratch_db:
            scratch = create_scratch_database(SCRATCH_SUFFIX)
            timed_run(Contender("migrate_schemas --shared", SHARED_MIGRATE), child_environment(scratch[2]))
        run(args, state)
        return 0
    except BenchmarkError as exc:
        console.print(f"[red]benchmark failed: {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; cleaning up")
        return 130
    finally:
        if scratch is not None or not args.scratch_db:  # else the scratch database was never made
            cleanup(scratch, state)
        console.print(f"total {time.perf_counter() - started:.0f} s")


def cleanup(scratch: tuple[str, str, str] | None, state: RunState) -> None:
    """Drop the scratch database, or the benchmark tenants, spares beyond the former pool and the owner user."""
    from django.db import connection

    connection.close()  # an interrupted statement may have left it unusable: start over on a fresh one
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    if scratch is not None:
        drop_scratch_database(scratch[0], scratch[1])
        return
    started = time.perf_counter()
    drop_bench_tenants()
    if state.spares_before is not None:
        restore_spare_pool(state.spares_before)
    owner_delete()
    console.print(f"cleaned up in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
