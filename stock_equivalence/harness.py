"""Differential migration harness: the same starting fleet migrated by stock django-tenants and by the project.

- `Databases`: scratch databases on the test database's server, named `<test database>_vm<hex>_<n>_<role>`,
  created empty or as a copy (`CREATE DATABASE ... TEMPLATE`), the default connection moved between them
  and back, all dropped at the end.
- `fleet_build()`: the starting fleet in a database of its own: the public schema and the tenants made by
  the project's services at the shipped migrations, then moved to mixed states of the release: up to
  date, behind, rolled back and forward, part of a squashed migration applied, and one tenant whose
  history lost a middle row (inconsistent). Its catalog (`verification.catalog_read(data=True)`) is kept.
- `stock_migrate()`: django-tenants' StandardExecutor, one schema at a time, as its migrate_schemas runs it.
- `project_migrate()`: the project's `migrate_schemas` through `call_command`, with MIGRATION_SABOTAGE
  applied (sabotage.py).
- `fleet_differences()`: every schema's catalog against its expected catalog (`verification.catalog_diff`),
  plus schemas missing or extra in the database.
"""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import psycopg
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrateCommand
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import StateApps
from django_tenants.migration_executors.standard import StandardExecutor
from django_tenants.utils import get_public_schema_name, schema_context

from . import sabotage
from .project import project_module
from .release import Release

select_schemas = project_module("fleet.plan").select_schemas
_verification = project_module("fleet.verification")
Catalog, Difference = _verification.Catalog, _verification.Difference
catalog_diff, catalog_read = _verification.catalog_diff, _verification.catalog_read
spare_pool_fill = project_module("lifecycle.provisioning").spare_pool_fill
public_tenant_ensure = project_module("lifecycle.services").public_tenant_ensure
tenant_create = project_module("lifecycle.services").tenant_create

SHOWN = 60  # differences printed in a failure message
# Where the project's migrate_schemas stops at an inconsistent history (fleet/plan.py).
INCONSISTENT_ERROR = "InconsistentMigrationHistory"
LATEST = ("", "")  # a state step: migrate the schema to the latest migrations
_LIVE: set[str] = set()  # prefixes of the Databases of this process not dropped yet


def _admin() -> psycopg.Connection:
    """An autocommit connection to the `postgres` database of the test database's server."""
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings.get("HOST") or "127.0.0.1", port=settings.get("PORT") or 5432, user=settings.get("USER") or None,
        password=settings.get("PASSWORD") or None, dbname="postgres", autocommit=True,
    )  # fmt: skip


class Databases:
    """Scratch databases next to the test database. `use(name)` points the default connection at one."""

    def __init__(self) -> None:
        self.home = str(connection.settings_dict["NAME"])
        self.prefix = f"{self.home[:40]}_vm{secrets.token_hex(3)}"
        self.created: list[str] = []
        _LIVE.add(self.prefix)

    def create(self, role: str, *, template: str | None = None) -> str:
        """Create database `<prefix>_<n>_<role>` (a copy of `template` when given; nobody may be connected to
        it); return its name, cut to PostgreSQL's 63 characters (the counter n keeps it unique)."""
        name = f"{self.prefix}_{len(self.created)}_{role}"[:63]
        copy = f' TEMPLATE "{template}"' if template else ""
        self.use(self.home)  # never connected to a template
        with _admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"{copy}')  # type: ignore[arg-type]
        self.created.append(name)
        return name

    def use(self, name: str) -> None:
        """Close the default connection and point it at database `name`."""
        connection.close()
        connection.settings_dict["NAME"] = name
        ContentType.objects.clear_cache()  # ids are per database (and per schema)

    @contextlib.contextmanager
    def on(self, name: str) -> Iterator[None]:
        """The default connection on database `name` while the block runs, back home afterwards."""
        self.use(name)
        try:
            yield
        finally:
            self.use(self.home)

    def drop_leftovers(self) -> None:
        """Drop the scratch databases left by an earlier run on the same test database that was killed."""
        with _admin() as admin:
            ours = f"{self.home[:40]}_vm"
            rows = admin.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [ours])
            for (name,) in rows.fetchall():
                if not any(name.startswith(prefix) for prefix in _LIVE):
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]

    def drop_all(self) -> None:
        self.use(self.home)
        with _admin() as admin:
            for name in reversed(self.created):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        self.created.clear()
        _LIVE.discard(self.prefix)


@dataclass(frozen=True)
class FleetSpec:
    """States of the starting fleet, as steps applied (in this order) after the shipped migrations.

    A step is (app label, migration name), or LATEST. tenants: slug -> steps; spares: steps of the
    spare schemas in pool order (missing ones stay at the shipped migrations); broken: the slug of a
    tenant whose `django_migrations` loses the row `missing_row`.
    """

    tenants: dict[str, list[tuple[str, str]]]
    spares: list[list[tuple[str, str]]] = field(default_factory=list)
    broken: str = "vm-broken"
    missing_row: tuple[str, str] = ("products", "0002_product_low_stock")


@dataclass
class Fleet:
    """A starting fleet: `database` holds it, `database_without_broken` the same without the broken tenant's
    rows (its schema stays, outside the fleet). schemas: in migrate_schemas' order; start: their catalogs."""

    database: str
    database_without_broken: str
    schemas: list[str]
    tenants: dict[str, str]  # slug -> schema
    spares: list[str]  # in pool order (FleetSpec.spares)
    broken: str  # schema of the inconsistent tenant
    start: dict[str, Catalog]

    @property
    def consistent(self) -> list[str]:
        return [schema for schema in self.schemas if schema != self.broken]


def sql(statement: str, params: Sequence[object] | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def schemas_present() -> set[str]:
    """Every schema of the current database other than PostgreSQL's own."""
    rows = sql("SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'")
    return {name for (name,) in rows}


def project_migrate(*args: str) -> tuple[str, CommandError | None]:
    """Run the project's `migrate_schemas *args` (MIGRATION_SABOTAGE applied); return (output, its error or None)."""
    out = io.StringIO()
    with sabotage.applied():
        try:
            call_command("migrate_schemas", *args, stdout=out, stderr=io.StringIO())
        except CommandError as exc:
            return out.getvalue(), exc
    return out.getvalue(), None


# The system checks change nothing in the database; skipped to keep the stock runs short.
STOCK_OPTIONS = vars(
    DjangoMigrateCommand()
    .create_parser("manage.py", "migrate")
    .parse_args(["--noinput", "--verbosity", "0", "--skip-checks"])
)


def stock_migrate(schemas: Sequence[str], app_label: str | None = None, migration_name: str | None = None) -> None:
    """Migrate each schema in `schemas` (to `app_label migration_name` when given) by django-tenants' own
    StandardExecutor, one schema per call as its migrate_schemas does for a selected schema: Django's
    `migrate` in that schema, committed, connection closed."""
    options = {**STOCK_OPTIONS, "app_label": app_label, "migration_name": migration_name}
    for schema in schemas:
        StandardExecutor([], options).run_migrations(tenants=[schema])


def _step(schema: str, step: tuple[str, str]) -> None:
    args = ("--schema", schema, *(part for part in step if part), "--verbosity", "0", "--skip-checks")
    call_command("migrate_schemas", *args, stdout=io.StringIO(), stderr=io.StringIO())


def _products(schema: str, apps: StateApps) -> None:
    """A category and two products in `schema`, so that column changes meet rows. Written through `apps`, the
    models as the project's migrations leave them, so fields the project added get their defaults."""
    category_model, product_model = apps.get_model("products", "Category"), apps.get_model("products", "Product")
    with schema_context(schema):
        category = category_model.objects.create(name="Rooms")
        product_model.objects.bulk_create(
            [product_model(name=name, sku=name, price=10, stock=1, category=category) for name in ("small", "large")]
        )


def fleet_build(databases: Databases, release: Release, spec: FleetSpec) -> Fleet:
    """Build the starting fleet of `spec` in a new database (see FleetSpec); return it. Leaves the default
    connection at home."""
    database = databases.create("start")
    with databases.on(database):
        call_command("migrate_schemas", "--noinput", "--verbosity", "0", stdout=io.StringIO())  # with spares
        public_tenant_ensure(domain="localhost")
        apps = MigrationLoader(None, ignore_no_migrations=True).project_state().apps
        for slug in spec.tenants:
            tenant_create(name=slug.title(), slug=slug)
            _products(f"tenant_{slug.replace('-', '_')}", apps)
        spare_pool_fill()  # the tenants claimed spares
        selected = select_schemas()
        tenants = {slug: f"tenant_{slug.replace('-', '_')}" for slug in spec.tenants}
        spares = [schema for schema, slug in selected if slug is None and schema != get_public_schema_name()]
        steps = {tenants[slug]: tenant_steps for slug, tenant_steps in spec.tenants.items()}
        steps.update(zip(spares, spec.spares, strict=False))
        with release.installed("release"):
            for schema, schema_steps in steps.items():
                for step in schema_steps:
                    _step(schema, step)
        broken = tenants[spec.broken]
        sql(f"DELETE FROM {connection.ops.quote_name(broken)}.django_migrations WHERE app = %s AND name = %s",
            list(spec.missing_row))  # fmt: skip
        schemas = [schema for schema, _ in selected]
        start = catalog_read(schemas, data=True)
    without_broken = databases.create("start_clean", template=database)
    with databases.on(without_broken):
        for table in ("tenancy_domain", "billing_subscription"):
            sql(f"DELETE FROM {table} WHERE tenant_id IN (SELECT id FROM tenancy_tenant WHERE schema_name = %s)",
                [broken])  # fmt: skip
        sql("DELETE FROM tenancy_tenant WHERE schema_name = %s", [broken])
    return Fleet(database, without_broken, schemas, tenants, spares, broken, start)


def fleet_differences(expected: dict[str, Catalog], present: set[str], expected_present: set[str]) -> list[Difference]:
    """What the current database's schemas in `expected` lack, add or define differently (catalog_diff), and
    the schemas it lacks or adds compared with `expected_present` (object `schema`)."""
    found = catalog_read(list(expected), data=True)
    differences = [d for schema in expected for d in catalog_diff(schema, expected[schema], found[schema])]
    differences += [Difference(s, "missing", "schema", "schema", None) for s in sorted(expected_present - present)]
    differences += [Difference(s, "extra", "schema", None, "schema") for s in sorted(present - expected_present)]
    return differences


def report(label: str, differences: Sequence[Difference], error: BaseException | None = None) -> str:
    """A failure message: the path, each difference (schema, object, both definitions), the command's error."""
    lines = [f"{label}: {len(differences)} difference(s) between stock django-tenants and the project's executor"]
    lines += [f"  {difference}" for difference in differences[:SHOWN]]
    if len(differences) > SHOWN:
        lines.append(f"  ... and {len(differences) - SHOWN} more")
    if error is not None:
        lines.append(f"migrate_schemas failed: {error}")
    return "\n".join(lines)


Snapshot = tuple[dict[str, Catalog], set[str]]  # (catalog per schema of the fleet, schemas present)


@dataclass(repr=False)  # its catalogs would fill every traceback
class Comparison:
    """A starting fleet, what stock django-tenants made of it with one variant of the release (database
    `stock`, `reference` its snapshot), and `clone()`s of the start for the project's paths."""

    databases: Databases
    release: Release
    fleet: Fleet
    variant: str = "release"
    stock: str = ""
    reference: Snapshot = field(default_factory=lambda: ({}, set()))

    def stock_build(self) -> None:
        """Migrate a copy of the start by django-tenants (every consistent schema) and keep its snapshot."""
        self.stock = self.databases.create(f"stock_{self.variant}", template=self.fleet.database)
        with self.databases.on(self.stock), self.release.installed(self.variant):
            stock_migrate(self.fleet.consistent)
            self.reference = self.snapshot()

    def with_variant(self, variant: str) -> Comparison:
        """The same starting fleet against `variant` of the release (a stock run of its own)."""
        other = Comparison(self.databases, self.release, self.fleet, variant)
        other.stock_build()
        return other

    @contextlib.contextmanager
    def clone(self, role: str, *, without_broken: bool = False, template: str | None = None) -> Iterator[str]:
        """A fresh copy of the starting fleet (or of database `template`), the connection on it and the release
        installed while the block runs; yields its name."""
        source = template or (self.fleet.database_without_broken if without_broken else self.fleet.database)
        name = self.databases.create(f"{role}_{self.variant}", template=source)
        with self.databases.on(name), self.release.installed(self.variant):
            connection.set_schema_to_public()  # type: ignore[attr-defined]
            yield name

    def snapshot(self) -> Snapshot:
        """The current database's catalog of every schema of the fleet, and the schemas present."""
        return catalog_read(self.fleet.schemas, data=True), schemas_present()

    def all_but(self, *schemas: str) -> list[str]:
        """Every schema of the fleet except `schemas`."""
        return [schema for schema in self.fleet.schemas if schema not in schemas]

    def expected(self, *, untouched: Sequence[str] = ()) -> dict[str, Catalog]:
        """The stock catalog of every schema; the starting one for the broken schema and for `untouched`."""
        keep = {self.fleet.broken, *untouched}
        return {s: (self.fleet.start[s] if s in keep else self.reference[0][s]) for s in self.fleet.schemas}

    def check(
        self,
        label: str,
        *,
        untouched: Sequence[str] = (),
        error: BaseException | None = None,
        reference: Snapshot | None = None,
    ) -> None:
        """Fail, naming every difference and `error`, unless the current database matches stock (`expected`),
        or `reference` (a `snapshot()` of another database) when given."""
        expected, present = reference or (self.expected(untouched=untouched), self.reference[1])
        differences = fleet_differences(expected, schemas_present(), present)
        assert not differences and error is None, report(label, differences, error)


@contextlib.contextmanager
def comparison(spec: FleetSpec, *, full: bool) -> Iterator[Comparison]:
    """Build the starting fleet of `spec` with the full or the small release, migrate a copy of it by stock
    django-tenants and read its catalogs; drop every database and remove the release afterwards."""
    databases = Databases()
    databases.drop_leftovers()
    release = Release(full=full)
    try:
        built = Comparison(databases, release, fleet_build(databases, release, spec))
        built.stock_build()
        yield built
    finally:
        databases.drop_all()
        release.remove()
