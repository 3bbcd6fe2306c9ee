"""Harness of the HTTP benchmark (benchmarks/routing.py), on top of the bake's own load check.

The web server, the load generator and the marked tenants' shape come from `loadcheck.harness`, which every bake
has (`make benchmark-load` there): `WebServer` (a real gunicorn), `drive` (an HTTP/1.1 keep-alive load generator
that checks every body against the marker of the Host it was sent to), `MarkedTenant`, `free_port`. This module
adds what only a comparison with stock needs:

- `create_marked_tenants`: N active tenants with real schemas (built like provisioning.py's fleet, cloned above
  CLONE_ABOVE) and, in each schema, one marker row (products.Product, SKU loadsite.MARKER_SKU); `mark_tenants`
  puts the marker rows into existing tenants' schemas (benchmarks/scale.py);
- `server_environment`: the load check's server environment with the benchmark settings
  (benchmarks/loadsite/settings.py: the project's or the stock routing middleware);
- `DedicatedPostgres`: a throw-away PostgreSQL server (initdb in a temporary folder, the embedded server's binaries)
  whose statement log can be switched on around a batch of requests, so statements are counted at the server;
- `backend_memory`: RSS and RssAnon (/proc/<pid>/status) of the PostgreSQL backends of one application_name.

Everything here is for benchmarks; nothing of it runs in the project or its tests.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadcheck.harness import (
    MarkedTenant,
    expect_schemas_complete,
)
from loadcheck.harness import server_environment as check_environment

from benchmarks.loadsite import (
    MARKER_SKU,
    ROUTING_ENV,
    SETTINGS_MODULE,
)
from benchmarks.migrate_fleet import BenchmarkError, console, progress
from benchmarks.project import from_project
from benchmarks.provisioning import chunks, create_fleet

START_TIMEOUT = 60.0  # seconds for gunicorn or PostgreSQL to answer
REQUEST_TIMEOUT = 30.0  # seconds for one response
STOP_TIMEOUT = 15.0
RELOAD_SETTLE = 0.5  # seconds for a configuration reload to reach every backend
LOG_LINE_PREFIX = "%a|%p|"  # application_name|pid|, parsed by DedicatedPostgres.statements
CLONE_ABOVE = 100  # more tenants than this: one built with migrations, the others cloned from it
CLONES_PER_TRANSACTION = 100


# ----------------------------------------------------------------------------------------------------------------
# Tenants with a marker row
# ----------------------------------------------------------------------------------------------------------------


def create_marked_tenants(count: int, *, slug_format: str, name_format: str) -> tuple[list[MarkedTenant], float]:
    """Create `count` active tenants (slug_format / name_format take the number, from 1) with real schemas, then one
    marker row in each schema; return them by slug and the seconds it took.

    The first tenant's schema is built as benchmarks/provisioning.py builds its fleet (CREATE SCHEMA, then the
    project's `fleet_migrate`, checked afterwards). The others are clones of it (`clone_tenants`), or built the same
    way when there are at most CLONE_ABOVE of them or no pg_dump of the server's version is found. Each marker is
    the slug plus a random suffix, so no one can derive it from the host name.
    """
    BackupError, pg_binary = from_project("lifecycle.pgtools", "BackupError", "pg_binary")

    started = time.perf_counter()
    slugs = [slug_format.format(number) for number in range(1, count + 1)]
    clone = count > CLONE_ABOVE
    if clone:
        try:
            pg_binary("pg_dump")
        except BackupError as exc:
            console.print(f"[yellow]building every schema with migrations (slower): {exc}")
            clone = False
    if clone:
        create_fleet(1, slug_format=slug_format, name_format=name_format)
        clone_tenants(slugs[0], [(slug, name_format.format(number)) for number, slug in enumerate(slugs[1:], start=2)])
    else:
        create_fleet(count, slug_format=slug_format, name_format=name_format)
    return mark_tenants(slugs), time.perf_counter() - started


def mark_tenants(slugs: Sequence[str]) -> list[MarkedTenant]:
    """Insert one marker row (products.Product, SKU loadsite.MARKER_SKU, named by the slug plus a random suffix) in
    the schema of each existing tenant in `slugs`; return them as MarkedTenants, in the order of `slugs`, addressed
    by their primary domains. Raises KeyError for a slug without a tenant or a primary domain."""
    from django.db import transaction
    from django_tenants.utils import schema_context

    Product = from_project("products.models", "Product")
    Domain, Tenant = from_project("tenancy.models", "Domain", "Tenant")

    schemas = dict(Tenant.objects.filter(slug__in=slugs).values_list("slug", "schema_name"))
    hosts = dict(Domain.objects.filter(tenant__slug__in=slugs, is_primary=True).values_list("tenant__slug", "domain"))
    marked = []
    # One transaction per CLONES_PER_TRANSACTION schemas: each insert locks its schema's table, and one
    # transaction over 10,000 schemas runs out of lock slots (max_locks_per_transaction x max_connections).
    for part in chunks(slugs, CLONES_PER_TRANSACTION):
        with transaction.atomic():
            for slug in part:
                marker = f"{slug}:{secrets.token_hex(8)}"
                with schema_context(schemas[slug]):
                    Product.objects.create(name=marker, sku=MARKER_SKU, price=0)
                marked.append(MarkedTenant(slug=slug, schema=schemas[slug], host=hosts[slug], marker=marker))
    return marked


def schema_script(schema: str) -> str:
    """SQL that recreates schema `schema` with its tables, sequences, indexes, constraints and rows (pg_dump of the
    server's major version, `--inserts`), every object qualified by the schema name; no session settings."""
    pg_binary, pg_run = from_project("lifecycle.pgtools", "pg_binary", "pg_run")

    dump = pg_run(
        pg_binary("pg_dump"),
        ["--no-owner", "--no-privileges", "--inserts", "--schema", schema],
        action=f"dumping template schema {schema}",
    ).stdout
    skipped = ("--", "\\", "SET ", "SELECT pg_catalog.set_config(")
    return "\n".join(line for line in dump.splitlines() if not line.startswith(skipped))


def clone_tenants(template_slug: str, tenants: Sequence[tuple[str, str]]) -> None:
    """Create active tenants (slug, name) whose schemas are copies of tenant `template_slug`'s: its pg_dump script
    replayed with the schema name replaced, CLONES_PER_TRANSACTION schemas per transaction, then the tenant rows and
    their domains (the project's default domain). Raises BenchmarkError unless every copy records every migration
    and holds the tenant apps' tables (benchmarks/provisioning.py's check)."""
    from django.db import connection, transaction

    default_domain_for = from_project("lifecycle.services", "default_domain_for")
    schema_name_for = from_project("tenancy.domain", "schema_name_for")
    Domain, Tenant = from_project("tenancy.models", "Domain", "Tenant")

    template = Tenant.objects.get(slug=template_slug).schema_name
    script = schema_script(template)
    pattern = re.compile(rf"\b{re.escape(template)}\b")
    schemas = [schema_name_for(slug) for slug, _name in tenants]
    with progress() as bar:
        task = bar.add_task(f"cloning {template} into {len(schemas)} schemas", total=len(schemas))
        for part in chunks(schemas, CLONES_PER_TRANSACTION):
            with transaction.atomic(), connection.cursor() as cursor:
                for schema in part:
                    cursor.execute(pattern.sub(schema, script))
            bar.advance(task, len(part))
    with transaction.atomic():
        rows = Tenant.objects.bulk_create(
            [
                Tenant(name=name, slug=slug, schema_name=schema, status=Tenant.Status.ACTIVE)
                for (slug, name), schema in zip(tenants, schemas, strict=True)
            ],
            batch_size=1000,
        )
        Domain.objects.bulk_create(
            [Domain(domain=default_domain_for(row.slug), tenant=row, is_primary=True) for row in rows], batch_size=1000
        )
    expect_schemas_complete(schemas)


# ----------------------------------------------------------------------------------------------------------------
# The web server
# ----------------------------------------------------------------------------------------------------------------


def server_environment(database_url: str, *, routing: str, application_name: str) -> dict[str, str]:
    """The load check's server environment (loadcheck.harness.server_environment: database and Redis URLs pinned,
    application_name, secret key, tenant base domain) with the benchmark settings module and the routing
    middleware `routing` ("project" or "stock")."""
    env = check_environment(database_url, application_name=application_name)
    env.update({"DJANGO_SETTINGS_MODULE": SETTINGS_MODULE, ROUTING_ENV: routing})
    return env


# ----------------------------------------------------------------------------------------------------------------
# A dedicated PostgreSQL whose statement log counts statements at the server
# ----------------------------------------------------------------------------------------------------------------


def postgres_binaries(folder: str | None) -> tuple[Path, str | None]:
    """(folder of initdb/pg_ctl/postgres, user to run them as or None): `folder` when given, else the embedded
    server's binaries (config/devservices.py: pgserver), else the newest /usr/lib/postgresql/<major>/bin.

    PostgreSQL refuses to run as root: as root the server runs as devservices' unprivileged system user.
    """
    from config import devservices

    run_as = devservices.POSTGRES_RUN_USER if devservices._is_root() else None
    if folder:
        bindir = Path(folder)
        if run_as is not None:
            devservices._ensure_system_user(run_as)
    else:
        try:
            _pgdata, bindir, run_as = devservices._postgres_layout()
        except devservices.EmbeddedServiceError:
            found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
            if not found:
                raise BenchmarkError("no PostgreSQL binaries: install pgserver or pass --pg-bin") from None
            bindir = found[-1].parent
            if run_as is not None:
                devservices._ensure_system_user(run_as)
    for name in ("initdb", "pg_ctl", "postgres"):
        if not (bindir / name).is_file():
            raise BenchmarkError(f"{bindir} has no {name}")
    return bindir, run_as


@dataclass
class DedicatedPostgres:
    """A PostgreSQL server of the benchmark's own: data in a temporary folder, listening on 127.0.0.1:`port` only,
    removed by stop(). Its statement log (log_statement) is off except inside `statement_log()`."""

    bindir: Path
    run_as: str | None
    port: int
    data: Path = field(init=False)
    log: Path = field(init=False)
    version: str = ""

    def _run(self, binary: str, args: list[str]) -> subprocess.CompletedProcess[str]:
        from config import devservices

        return devservices._run_pg(self.bindir / binary, args, self.run_as, stdin=subprocess.DEVNULL)

    def start(self) -> DedicatedPostgres:
        """initdb into a new temporary folder and start the server; raise BenchmarkError when it does not start."""
        base = "/var/tmp" if self.run_as is not None else None  # noqa: S108 - reachable by the server's user
        self.data = Path(tempfile.mkdtemp(prefix="bench-postgres-", dir=base))
        self.log = self.data / "server.log"
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
        result = self._run(
            "initdb", ["-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-instructions"]
        )
        if result.returncode != 0:
            raise BenchmarkError(f"initdb failed:\n{result.stderr[-2000:]}")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' -c max_connections=100"
        result = self._run(
            "pg_ctl", ["-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"]
        )
        if result.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else result.stderr
            raise BenchmarkError(f"the dedicated PostgreSQL did not start on port {self.port}:\n{tail}")
        self.admin(f"ALTER SYSTEM SET log_line_prefix = '{LOG_LINE_PREFIX}'", "ALTER SYSTEM SET log_statement = 'none'")
        self.version = str(self.query("SHOW server_version")[0][0])
        return self

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, *statements: str) -> None:
        """Run `statements` as the superuser in database postgres (autocommit); after an ALTER SYSTEM, reload the
        configuration and give the running backends RELOAD_SETTLE seconds to read it."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True, application_name="benchmark-admin") as conn:
            for statement in statements:
                conn.execute(statement)
            if any(statement.startswith("ALTER SYSTEM") for statement in statements):
                conn.execute("SELECT pg_reload_conf()")
                time.sleep(RELOAD_SETTLE)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query run as the superuser in database postgres."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True, application_name="benchmark-admin") as conn:
            return conn.execute(sql, params).fetchall()

    def create_database(self, name: str) -> str:
        """Create database `name`; return its URL."""
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    @contextlib.contextmanager
    def statement_log(self) -> Iterator[StatementLog]:
        """Log every statement (log_statement = all, reloaded into running backends) while the block runs; the
        yielded StatementLog reads the lines written meanwhile."""
        offset = self.log.stat().st_size
        self.admin("ALTER SYSTEM SET log_statement = 'all'")
        try:
            yield StatementLog(self.log, offset)
        finally:
            self.admin("ALTER SYSTEM SET log_statement = 'none'")

    def backend_pids(self, application_name: str) -> list[int]:
        """Pids of the client backends whose connections carry `application_name`."""
        rows = self.query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND backend_type = 'client backend'",
            [application_name],
        )
        return sorted(int(row[0]) for row in rows)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        if not getattr(self, "data", None):
            return
        self._run("pg_ctl", ["-D", str(self.data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(self.data, ignore_errors=True)


@dataclass
class StatementLog:
    """The server log from `offset` on: statements logged by log_statement = all."""

    path: Path
    offset: int

    def statements(self, application_name: str) -> list[str]:
        """The statements sent by connections with `application_name` since `offset`, in order (first lines only)."""
        with self.path.open("rb") as log:
            log.seek(self.offset)
            text = log.read().decode(errors="replace")
        prefix = f"{application_name}|"
        found = []
        for line in text.splitlines():
            if not line.startswith(prefix):
                continue
            message = line.split("|", 2)[2]
            for kind in ("LOG:  statement: ", "LOG:  execute "):
                if message.startswith(kind):
                    statement = message[len(kind) :]
                    found.append(statement.split(": ", 1)[1] if kind.endswith("execute ") else statement)
        return found


def backend_memory(pid: int) -> tuple[int, int] | None:
    """(VmRSS, RssAnon) in bytes of process `pid` from /proc/<pid>/status, or None when it is gone.

    RssAnon is the backend's private memory (catalog caches, plans, work memory); VmRSS adds the shared buffers
    and files it touched.
    """
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon"):
            values[key] = int(value.split()[0]) * 1024
    if len(values) != 2:
        return None
    return values["VmRSS"], values["RssAnon"]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def mb(value: float) -> str:
    return f"{value / 2**20:.0f} MB"
