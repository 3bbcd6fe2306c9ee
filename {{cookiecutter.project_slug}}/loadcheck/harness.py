"""What the load check (loadcheck/__main__.py) is made of.

- A scratch database next to the configured one, its public schema migrated by the project's `migrate_schemas`.
- `create_marked_tenants`: N active tenants with real schemas (migrated by the project's `fleet_migrate`, checked)
  and, in each schema, one marker row (products.Product, SKU loadsite.MARKER_SKU) whose name is a random
  per-tenant marker.
- `WebServer`: a real gunicorn server (`config.wsgi:application`) on 127.0.0.1 with the load check's settings
  (loadcheck/loadsite/settings.py: production settings plus the marker view).
- `drive`: an HTTP/1.1 keep-alive load generator (asyncio, one process) that sends GET requests round-robin over
  the tenants' hosts and checks every response body against the marker of the Host it was sent to.

Nothing of it runs in the project or its tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from loadcheck.loadsite import (
    APPLICATION_NAME_ENV,
    BACKEND_HEADER,
    MARKER_PATH,
    MARKER_SKU,
    SETTINGS_MODULE,
    WORKER_HEADER,
)

if TYPE_CHECKING:
    from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

PROJECT_DIR = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0  # seconds for gunicorn to answer
REQUEST_TIMEOUT = 30.0  # seconds for one response
STOP_TIMEOUT = 15.0
SCHEMAS_PER_STATEMENT = 250
SCHEMAS_PER_MIGRATE = 50  # fleet_migrate call; its worker processes finish a started call before Ctrl-C stops it
# The scratch database's public schema, by the project's own command (what `make migrate` runs first).
SHARED_MIGRATE = (sys.executable, "manage.py", "migrate_schemas", "--shared", "--noinput", "--verbosity", "0")

console = Console()


class CheckError(RuntimeError):
    """The load check cannot run, or something it ran misbehaved."""


def usable_cores() -> int:
    """Return the number of CPU cores this process may run on (>= 1)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def progress() -> Progress:
    """Return a rich progress bar: description, bar, done/total, elapsed."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """Yield consecutive slices of `items` of at most `size` elements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ----------------------------------------------------------------------------------------------------------------
# The scratch database
# ----------------------------------------------------------------------------------------------------------------


def database_url() -> str:
    """Return the URL the project's settings connect with ($DATABASE_URL, else settings.DATABASE_URL), or ''."""
    from django.conf import settings

    return os.environ.get("DATABASE_URL") or str(getattr(settings, "DATABASE_URL", "") or "")


def use_database(name: str) -> None:
    """Point Django's default connection at database `name` (closing the current connection)."""
    from django.conf import settings
    from django.db import connection

    connection.close()
    settings.DATABASES["default"]["NAME"] = name
    connection.settings_dict["NAME"] = name


def create_scratch_database(suffix: str) -> tuple[str, str, str]:
    """Create (after dropping a leftover) database `<name><suffix>` next to the configured one, switch to it and
    migrate its public schema with the project's `migrate_schemas --shared`.

    Returns (configured database name, scratch database name, scratch URL for child processes).
    """
    from django.conf import settings
    from django.db import connection

    url = database_url()
    if not url:
        raise CheckError("the load check needs DATABASE_URL (or settings.DATABASE_URL) to derive its database's URL")
    base = str(settings.DATABASES["default"]["NAME"])
    scratch = f"{base}{suffix}"
    quoted = connection.ops.quote_name(scratch)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {quoted}")
    use_database(scratch)
    scratch_url = urlunsplit(urlsplit(url)._replace(path=f"/{scratch}"))
    result = subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        SHARED_MIGRATE,
        cwd=PROJECT_DIR,
        env=child_environment(scratch_url),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-3000:]
        raise CheckError(f"migrate_schemas --shared exited {result.returncode}:\n{output}")
    return base, scratch, scratch_url


def drop_scratch_database(base: str, scratch: str) -> None:
    """Switch back to database `base` and drop database `scratch` (open sessions are terminated)."""
    from django.db import connection

    use_database(base)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(scratch)} WITH (FORCE)")


def child_environment(url: str) -> dict[str, str]:
    """Return the environment for child processes: ours, with the resolved database and Redis URLs pinned.

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


# ----------------------------------------------------------------------------------------------------------------
# Tenants with a marker row
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkedTenant:
    """A load check tenant: its schema, where it answers and the marker stored in its schema's marker row.

    Requests for it go to Host `host` with `base_path` before the path: its own host and "" in domain routing, the
    public host and `/<prefix>/<slug>` in path routing (tenancy.addressing.tenant_base_path).
    """

    slug: str
    schema: str
    host: str
    marker: str
    base_path: str = ""

    @property
    def address(self) -> str:
        """`<host><base_path>`, e.g. `acme.localhost` or `localhost/clinic/acme`: how reports name the tenant."""
        return f"{self.host}{self.base_path}"


def create_tenants(slugs: Sequence[str], names: Sequence[str]) -> list[str]:
    """Create active tenants `slugs` (named `names`) with real schemas; return their schema names.

    The empty schemas are created first, then migrated by the project's `fleet_migrate` in groups of
    SCHEMAS_PER_MIGRATE (one worker process per usable core), then the tenant rows and their domains (the project's
    default domain for the slug) are inserted in one transaction. Raises CheckError when a schema fails, or when a
    schema does not then record every migration and hold the tenant apps' tables.
    """
    from django.db import connection, transaction

    from {{ cookiecutter.project_slug }}.fleet.executor import SchemaResult, fleet_migrate
    from {{ cookiecutter.project_slug }}.lifecycle.services import default_domain_for
    from {{ cookiecutter.project_slug }}.tenancy.domain import schema_name_for
    from {{ cookiecutter.project_slug }}.tenancy.models import Domain, Tenant

    schemas = [schema_name_for(slug) for slug in slugs]
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        for part in chunks(schemas, SCHEMAS_PER_STATEMENT):
            cursor.execute("".join(f"CREATE SCHEMA {quote(schema)}; " for schema in part))
    with progress() as bar:
        task = bar.add_task(f"migrating {len(schemas)} tenant schemas", total=len(schemas))

        def advance(_result: SchemaResult) -> None:
            bar.advance(task)

        # In parts: Ctrl-C lets the worker processes finish the part they have, not the whole set.
        for part in chunks(schemas, SCHEMAS_PER_MIGRATE):
            pairs = [(schema, None) for schema in part]
            report = fleet_migrate(schemas=pairs, parallel=usable_cores(), progress=advance)
            if not report.ok:
                failed = report.failed[0] if report.failed else None
                detail = f"{failed.schema}: {failed.error}" if failed else "not every schema ran"
                raise CheckError(f"migrating the tenant schemas failed: {detail}")
    with transaction.atomic():
        tenants = Tenant.objects.bulk_create(
            [
                Tenant(name=name, slug=slug, schema_name=schema, status=Tenant.Status.ACTIVE)
                for slug, name, schema in zip(slugs, names, schemas, strict=True)
            ],
            batch_size=1000,
        )
        Domain.objects.bulk_create(
            [Domain(domain=default_domain_for(tenant.slug), tenant=tenant, is_primary=True) for tenant in tenants],
            batch_size=1000,
        )
    expect_schemas_complete(schemas)
    return schemas


def tenant_tables(schema: str) -> set[str]:
    """Return the tables a tenant schema must hold: every managed, concrete model table the database router
    places in a tenant schema (tenant apps), plus `django_migrations`."""
    from django.apps import apps
    from django.db import DEFAULT_DB_ALIAS, router
    from django_tenants.utils import schema_context

    with schema_context(schema):
        return {
            model._meta.db_table
            for model in apps.get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy and router.allow_migrate_model(DEFAULT_DB_ALIAS, model)
        } | {"django_migrations"}


def expect_schemas_complete(schemas: Sequence[str]) -> None:
    """Raise CheckError unless every schema records every migration and holds the tenant apps' tables."""
    from django.db import connection

    from {{ cookiecutter.project_slug }}.fleet.plan import is_current, read_applied

    applied, _ = read_applied(schemas)
    stale = [schema for schema in schemas if not is_current(applied[schema])]
    if stale:
        raise CheckError(f"{len(stale)} tenant schemas miss migrations after set-up, e.g. {stale[0]}")
    expected = len(tenant_tables(schemas[0]))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schemaname, count(*) FROM pg_tables WHERE schemaname = ANY(%s) GROUP BY schemaname",
            [list(schemas)],
        )
        counts = dict(cursor.fetchall())
    wrong = [schema for schema in schemas if counts.get(schema) != expected]
    if wrong:
        raise CheckError(
            f"{len(wrong)} tenant schemas do not hold the {expected} tenant tables, e.g. {wrong[0]}: "
            f"{counts.get(wrong[0], 0)}"
        )


def tenant_address(tenant: Tenant) -> tuple[str, str]:
    """(Host, base path) of the requests for `tenant` (a Tenant), the project's way: its primary domain and "" in
    domain routing; the public host (tenancy.addressing.public_host) and `/<prefix>/<slug>` in path routing. One
    query. Raises CheckError when a domain-routed tenant has no primary domain."""
    from {{ cookiecutter.project_slug }}.tenancy.addressing import public_host, routing_mode, tenant_base_path

    if routing_mode() == "path":
        return public_host(), tenant_base_path(tenant)
    domain = tenant.get_primary_domain()
    if domain is None:
        raise CheckError(f"tenant {tenant.slug!r} has no primary domain to send its requests to")
    return str(domain.domain), ""


def create_marked_tenants(count: int, *, slug_format: str, name_format: str) -> tuple[list[MarkedTenant], float]:
    """Create `count` active tenants (slug_format / name_format take the number, from 1) with real schemas, then one
    marker row in each schema; return them by slug and the seconds it took.

    Each marker is the slug plus a random suffix, so no one can derive it from the host name. In path routing
    (settings.TENANCY_ROUTING = "path") the public tenant is created too, with settings.TENANCY_BASE_DOMAIN as its
    domain, and each tenant is addressed as `<base domain>/<prefix>/<slug>` (MarkedTenant.base_path).
    """
    from django.conf import settings
    from django.db import transaction
    from django_tenants.utils import schema_context

    from {{ cookiecutter.project_slug }}.lifecycle.services import public_tenant_ensure
    from {{ cookiecutter.project_slug }}.products.models import Product
    from {{ cookiecutter.project_slug }}.tenancy.addressing import routing_mode
    from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

    started = time.perf_counter()
    numbers = range(1, count + 1)
    slugs = [slug_format.format(number) for number in numbers]
    create_tenants(slugs, [name_format.format(number) for number in numbers])
    tenants = {tenant.slug: tenant for tenant in Tenant.objects.filter(slug__in=slugs)}
    if routing_mode() == "path":
        public_tenant_ensure(domain=str(settings.TENANCY_BASE_DOMAIN))
    marked = []
    with transaction.atomic():
        for slug in slugs:
            tenant = tenants[slug]
            marker = f"{slug}:{secrets.token_hex(8)}"
            with schema_context(tenant.schema_name):
                Product.objects.create(name=marker, sku=MARKER_SKU, price=0)
            host, base_path = tenant_address(tenant)
            marked.append(
                MarkedTenant(slug=slug, schema=tenant.schema_name, host=host, marker=marker, base_path=base_path)
            )
    return marked, time.perf_counter() - started


# ----------------------------------------------------------------------------------------------------------------
# The web server
# ----------------------------------------------------------------------------------------------------------------


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 chosen by the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def expect_port_free(port: int) -> None:
    """Raise CheckError when something listens on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise CheckError(f"port {port} on 127.0.0.1 is in use; pass another --port")


def server_environment(database_url: str, *, application_name: str) -> dict[str, str]:
    """The environment of the load check's web server: ours with the database (and Redis) URLs pinned, the load
    check's settings module, the connections' application_name, a secret key and the base domain of the tenant
    hosts this process created."""
    from django.conf import settings

    env = child_environment(database_url)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            APPLICATION_NAME_ENV: application_name,
            "TENANCY_BASE_DOMAIN": str(settings.TENANCY_BASE_DOMAIN),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    return env


@dataclass
class WebServer:
    """gunicorn serving `config.wsgi:application` with the load check's settings on 127.0.0.1:`port`.

    gthread workers when `threads` > 1 (keep-alive connections), sync workers otherwise; requests run on each
    process's TENANCY_CONNECTION_SLOTS database connections (tenancy.routing.ConnectionSlots), or on their
    thread's own while their slot is busy. Output goes to `log`. Use as a context manager, or call start() and stop().
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

    def start(self, probe_host: str, probe_base_path: str = "") -> WebServer:
        """Start gunicorn and wait until GET `probe_base_path` + MARKER_PATH for `probe_host` answers 200 (raise
        CheckError with the end of the server's output when it does not within START_TIMEOUT seconds or the
        server exits). Pass a MarkedTenant's host and base_path."""
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
                raise CheckError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _body = http_get(self.port, probe_host, probe_base_path + MARKER_PATH, timeout=5)
            except OSError as exc:
                last = repr(exc)
            else:
                if status == 200:
                    return self
                last = f"status {status}"
            time.sleep(0.2)
        self.stop()
        raise CheckError(f"gunicorn on port {self.port} did not answer 200 ({last}):\n{self.log_tail()}")

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
    template = "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: loadcheck\r\nAccept: */*\r\n{extra}\r\n"
    requests = [
        template.format(path=target.base_path + path, host=target.host, extra="").encode() for target in targets
    ]
    last_requests = [  # the last request on a connection: the server closes it after the response
        template.format(path=target.base_path + path, host=target.host, extra="Connection: close\r\n").encode()
        for target in targets
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
                    result.note(f"{target.address}: no response ({exc!r})")
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
                        result.hosts_by_backend[outcome.backend].add(target.address)
                else:
                    result.mismatches += 1
                    result.note(f"{target.address}: expected {target.marker!r}, got {text[:80]!r}")
            elif status >= 500:
                result.server_errors += 1
                result.note(f"{target.address}: {status}")
            else:
                result.other_status[status] += 1
                result.note(f"{target.address}: {status} {body[:80]!r}")
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
    or until `total` requests were sent; request n goes to targets[n % len(targets)] (its host, its base path
    before `path`), so consecutive requests on one connection are for different tenants. Every 200 body must be
    that tenant's marker.

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


def forget_cached(schema_prefix: str) -> int:
    """Delete the cache entries of the load check's tenants (their keys start with the schema name, as
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


def print_examples(result: DriveResult) -> None:
    for example in result.examples:
        console.print(f"  [red]{example}")
