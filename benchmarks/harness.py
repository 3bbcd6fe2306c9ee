"""Harness of the HTTP benchmark (benchmarks/routing.py); a bake's own load check has a copy of what it needs.

- `create_marked_tenants`: N active tenants with real schemas (built like provisioning.py's fleet) and, in each
  schema, one marker row (products.Product, SKU loadsite.MARKER_SKU) whose name is a random per-tenant marker.
- `WebServer`: a real gunicorn server (`config.wsgi:application`) on 127.0.0.1 with the benchmark settings
  (benchmarks/loadsite/settings.py: production settings, the project's or the stock routing middleware).
- `drive`: an HTTP/1.1 keep-alive load generator (asyncio, one process) that sends GET requests round-robin over
  the tenants' hosts and checks every response body against the marker of the Host it was sent to.
- `DedicatedPostgres`: a throw-away PostgreSQL server (initdb in a temporary folder, the embedded server's binaries)
  whose statement log can be switched on around a batch of requests, so statements are counted at the server.
- `backend_memory`: RSS and RssAnon (/proc/<pid>/status) of the PostgreSQL backends of one application_name.

Everything here is for benchmarks; nothing of it runs in the project or its tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.loadsite import (
    APPLICATION_NAME_ENV,
    BACKEND_HEADER,
    MARKER_PATH,
    MARKER_SKU,
    ROUTING_ENV,
    SETTINGS_MODULE,
    WORKER_HEADER,
)
from benchmarks.migrate_fleet import BenchmarkError, child_environment, console, progress
from benchmarks.project import PROJECT_DIR, from_project
from benchmarks.provisioning import chunks, create_fleet, expect_fleet_complete

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


@dataclass(frozen=True)
class MarkedTenant:
    """A benchmark tenant: its schema, the host it answers on and the marker stored in its schema's marker row."""

    slug: str
    schema: str
    host: str
    marker: str


def create_marked_tenants(count: int, *, slug_format: str, name_format: str) -> tuple[list[MarkedTenant], float]:
    """Create `count` active tenants (slug_format / name_format take the number, from 1) with real schemas, then one
    marker row in each schema; return them by slug and the seconds it took.

    The first tenant's schema is built as benchmarks/provisioning.py builds its fleet (CREATE SCHEMA, then the
    project's `fleet_migrate`, checked afterwards). The others are clones of it (`clone_tenants`), or built the same
    way when there are at most CLONE_ABOVE of them or no pg_dump of the server's version is found. Each marker is
    the slug plus a random suffix, so no one can derive it from the host name.
    """
    from django.db import transaction
    from django_tenants.utils import schema_context

    BackupError, pg_binary = from_project("lifecycle.pgtools", "BackupError", "pg_binary")
    Product = from_project("products.models", "Product")
    Domain, Tenant = from_project("tenancy.models", "Domain", "Tenant")

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
    tenants = {tenant.slug: tenant for tenant in Tenant.objects.filter(slug__in=slugs)}
    hosts = dict(Domain.objects.filter(tenant__slug__in=slugs, is_primary=True).values_list("tenant__slug", "domain"))
    marked = []
    with transaction.atomic():
        for slug in slugs:
            tenant = tenants[slug]
            marker = f"{slug}:{secrets.token_hex(8)}"
            with schema_context(tenant.schema_name):
                Product.objects.create(name=marker, sku=MARKER_SKU, price=0)
            marked.append(MarkedTenant(slug=slug, schema=tenant.schema_name, host=hosts[slug], marker=marker))
    return marked, time.perf_counter() - started


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
    expect_fleet_complete(schemas)


# ----------------------------------------------------------------------------------------------------------------
# The web server
# ----------------------------------------------------------------------------------------------------------------


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 chosen by the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def expect_port_free(port: int) -> None:
    """Raise BenchmarkError when something listens on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise BenchmarkError(f"port {port} on 127.0.0.1 is in use; pass another --port")


def server_environment(database_url: str, *, routing: str, application_name: str) -> dict[str, str]:
    """The environment of a benchmark web server: ours with the database (and Redis) URLs pinned, the benchmark
    settings module, the routing middleware, the connections' application_name, a secret key and the base domain
    of the tenant hosts this process created."""
    from django.conf import settings

    env = child_environment(database_url)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            ROUTING_ENV: routing,
            APPLICATION_NAME_ENV: application_name,
            "TENANCY_BASE_DOMAIN": str(settings.TENANCY_BASE_DOMAIN),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    return env


@dataclass
class WebServer:
    """gunicorn serving `config.wsgi:application` with the benchmark settings on 127.0.0.1:`port`.

    gthread workers when `threads` > 1 (keep-alive connections, one database connection per thread), sync
    workers otherwise. Output goes to `log`. Use as a context manager, or call start() and stop().
    """

    port: int
    env: dict[str, str]
    workers: int
    threads: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        worker_class = "gthread" if self.threads > 1 else "sync"
        return [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers), "--threads", str(self.threads),
            "--worker-class", worker_class, "--keep-alive", "30", "--backlog", "2048", "--graceful-timeout", "5",
            "--log-level", "warning", "--error-logfile", "-",
        ]  # fmt: skip

    def start(self, probe_host: str) -> WebServer:
        """Start gunicorn and wait until GET MARKER_PATH for `probe_host` answers 200 (raise BenchmarkError with the
        end of the server's output when it does not within START_TIMEOUT seconds or the server exits)."""
        expect_port_free(self.port)
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
                self.argv(),
                cwd=PROJECT_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _body = http_get(self.port, probe_host, MARKER_PATH, timeout=5)
            except OSError as exc:
                last = repr(exc)
            else:
                if status == 200:
                    return self
                last = f"status {status}"
            time.sleep(0.2)
        self.stop()
        raise BenchmarkError(f"gunicorn on port {self.port} did not answer 200 ({last}):\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop gunicorn (TERM to its master, then KILL to its process group after STOP_TIMEOUT seconds)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no output)"

    def __enter__(self) -> WebServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def http_get(port: int, host: str, path: str, *, timeout: float) -> tuple[int, str]:
    """One GET to 127.0.0.1:`port` with Host `host`; return (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


# ----------------------------------------------------------------------------------------------------------------
# The load generator
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class DriveResult:
    """What one `drive` saw. A mismatch is a 200 whose body is not the marker of the Host the request was sent to."""

    seconds: float = 0.0
    requests: int = 0
    ok: int = 0
    mismatches: int = 0
    server_errors: int = 0  # 5xx
    other_status: Counter[int] = field(default_factory=Counter)  # neither 200 nor 5xx
    failures: int = 0  # no response: connection error or timeout
    latencies: list[float] = field(default_factory=list)
    client_cpu: float = 0.0  # CPU seconds the client (this process) used
    examples: list[str] = field(default_factory=list)  # the first few mismatches, errors and failures
    hosts_by_backend: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    requests_by_worker: Counter[str] = field(default_factory=Counter)  # responses by server process (pid)

    @property
    def rate(self) -> float:
        """Responses per second."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def client_cpu_per_request(self) -> float:
        """The client's CPU seconds per request: what the load generator takes from the machine's cores."""
        return self.client_cpu / self.requests if self.requests else 0.0

    def worker_shares(self) -> str:
        """The share of responses each server worker process gave, largest first, e.g. "52% / 48%"."""
        total = sum(self.requests_by_worker.values())
        shares = sorted(self.requests_by_worker.values(), reverse=True)
        return " / ".join(f"{100 * share / total:.0f}%" for share in shares) if total else "-"

    @property
    def clean(self) -> bool:
        """True when every request got a 200 with its own tenant's marker."""
        return self.requests > 0 and self.ok == self.requests

    def latency_ms(self, quantile: float) -> float:
        """The `quantile` (0-1) of the response times in milliseconds (nearest rank), 0 when there are none."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[ \t]*chunked", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.IGNORECASE)
_BACKEND = re.compile(rb"\r\n" + BACKEND_HEADER.encode() + rb":[ \t]*([^\r]*)", re.IGNORECASE)
_WORKER = re.compile(rb"\r\n" + WORKER_HEADER.encode() + rb":[ \t]*([^\r]*)", re.IGNORECASE)


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    close: bool  # the server closes the connection after it
    backend: str  # BACKEND_HEADER, or ""
    worker: str  # WORKER_HEADER, or ""


def _header(pattern: re.Pattern[bytes], head: bytes) -> str:
    found = pattern.search(head)
    return found.group(1).decode() if found else ""


async def _read_response(reader: asyncio.StreamReader) -> _Response:
    """Read one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = _CONTENT_LENGTH.search(head)
    if length is not None:
        body = await reader.readexactly(int(length.group(1)))
    elif _CHUNKED.search(head):
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body = await reader.read()
        return _Response(status, body, True, _header(_BACKEND, head), _header(_WORKER, head))
    return _Response(status, body, _CLOSE.search(head) is not None, _header(_BACKEND, head), _header(_WORKER, head))


async def _drive(
    port: int,
    targets: Sequence[MarkedTenant],
    path: str,
    connections: int,
    seconds: float | None,
    total: int | None,
    per_connection: int,
) -> DriveResult:
    result = DriveResult()
    template = "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: benchmark\r\nAccept: */*\r\n{extra}\r\n"
    requests = [template.format(path=path, host=target.host, extra="").encode() for target in targets]
    last_requests = [  # the last request on a connection: the server closes it after the response
        template.format(path=path, host=target.host, extra="Connection: close\r\n").encode() for target in targets
    ]
    issued = 0
    started = time.perf_counter()
    deadline = started + seconds if seconds is not None else None

    async def client() -> None:
        nonlocal issued
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        served = 0  # responses on the current connection
        while (deadline is None or time.perf_counter() < deadline) and (total is None or issued < total):
            index = issued % len(targets)
            issued += 1
            target = targets[index]
            outcome: _Response | None = None
            sent = time.perf_counter()
            for attempt in (1, 2):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                        served = 0
                    assert reader is not None
                    sent = time.perf_counter()
                    last = per_connection > 0 and served + 1 >= per_connection
                    writer.write(last_requests[index] if last else requests[index])
                    outcome = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT)
                    break
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    # A keep-alive connection the server closed between requests: retry once on a new one.
                    if attempt == 1 and served > 0 and not isinstance(exc, TimeoutError):
                        continue
                    result.failures += 1
                    result.note(f"{target.host}: no response ({exc!r})")
                    break
            result.requests += 1
            if outcome is None:
                continue
            result.latencies.append(time.perf_counter() - sent)
            status, body = outcome.status, outcome.body
            served += 1
            result.requests_by_worker[outcome.worker] += 1
            if status == 200:
                text = body.decode(errors="replace")
                if text == target.marker:
                    result.ok += 1
                    if outcome.backend:
                        result.hosts_by_backend[outcome.backend].add(target.host)
                else:
                    result.mismatches += 1
                    result.note(f"{target.host}: expected {target.marker!r}, got {text[:80]!r}")
            elif status >= 500:
                result.server_errors += 1
                result.note(f"{target.host}: {status}")
            else:
                result.other_status[status] += 1
                result.note(f"{target.host}: {status} {body[:80]!r}")
            if outcome.close and writer is not None:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


def drive(
    port: int,
    targets: Sequence[MarkedTenant],
    *,
    path: str = MARKER_PATH,
    connections: int,
    seconds: float | None = None,
    total: int | None = None,
    per_connection: int = 0,
) -> DriveResult:
    """Send GET `path` requests to 127.0.0.1:`port` over `connections` HTTP/1.1 connections at once, for `seconds`
    or until `total` requests were sent; request n goes to the host of targets[n % len(targets)], so consecutive
    requests on one connection are for different tenants. Every 200 body must be that host's marker.

    Each connection carries at most `per_connection` requests (0: no limit), the last one with `Connection: close`;
    the next request opens a new connection, which any server worker may accept. Without a limit, gunicorn keeps
    each connection on the worker process that accepted it, and the split of a few connections between workers
    is left to chance.
    """
    if not targets or (seconds is None) == (total is None):
        raise ValueError("drive needs targets and exactly one of seconds, total")
    cpu = time.process_time()
    result = asyncio.run(_drive(port, targets, path, connections, seconds, total, per_connection))
    result.client_cpu = time.process_time() - cpu
    return result


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


def forget_cached(schema_prefix: str) -> int:
    """Delete the cache entries of the benchmark's tenants (their keys start with the schema name, as
    django_tenants.cache.make_key builds them) from the project's Redis; return how many. Nothing without Redis."""
    from django.conf import settings

    url = str(getattr(settings, "REDIS_URL", "") or "")
    if not url:
        return 0
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{schema_prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    return len(keys)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def mb(value: float) -> str:
    return f"{value / 2**20:.0f} MB"


def print_examples(result: DriveResult) -> None:
    for example in result.examples:
        console.print(f"  [red]{example}")
