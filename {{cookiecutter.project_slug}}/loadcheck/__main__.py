"""Load check: 50 tenants at once through a real gunicorn server; every response must carry its own tenant's marker.

Command line, from the project root::

    make benchmark-load BENCHMARK_ARGS="--tenants 50 --seconds 30"
    uv run python -m loadcheck [--tenants 50] [--seconds 30] [--workers 2] [--threads 4] [--port 8100]

It creates a scratch database `<name>_loadcheck` next to the configured one (DATABASE_URL, else the embedded
PostgreSQL; the database user needs CREATEDB), migrates its public schema with the project's `migrate_schemas
--shared`, and creates `--tenants` active tenants (`lcheck-00001`, ...) with real schemas (migrated by the
project's `fleet_migrate`, then checked); each schema gets one marker row (products.Product, SKU
`loadcheck-marker`) named with a random per-tenant marker. Then it starts gunicorn (`config.wsgi:application`,
`--workers` x `--threads` gthread workers; each worker process keeps its TENANCY_CONNECTION_SLOTS database connections
(production: 16, a tenant's requests on the one its host hashes to, or while that one is busy on the thread's own),
CONN_MAX_AGE=600, across tenants) with the load check's settings (loadcheck/loadsite/settings.py: production settings,
the project's routing middleware, plus the view `/__marker__/`, which answers the marker READ FROM THE MARKER ROW of
the schema the request was served in).

`--connections` HTTP/1.1 connections at once (default: one per tenant; each carries `--per-connection` requests,
then a new one is opened) send requests for `--seconds`, request n for tenant n mod N, so every tenant is in flight
all the time and consecutive requests on one connection, and on one database connection (50 tenants share 16
slots), are for different tenants.
Requests address the tenants the project's way: `Host: lcheck-00001.<TENANCY_BASE_DOMAIN>` in domain routing,
`Host: <TENANCY_BASE_DOMAIN>` and `/<TENANCY_PATH_PREFIX>/lcheck-00001/__marker__/` in path routing (the public
tenant is created for it). It prints requests, req/s, mismatches (a 200 whose marker is not that of the tenant
addressed), 5xx, other statuses, requests without a response, and how many tenants each database connection
served. Exit status 0 when every request got its own tenant's marker, 1 otherwise.

The scratch database is dropped at the end, also after an error or Ctrl-C. Needs neither Redis nor Celery unless
the project has them (then REDIS_URL, else the embedded Redis, as for the project itself).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from rich.table import Table

from config.devservices import environ_ensure
from loadcheck.harness import (
    CheckError,
    DriveResult,
    WebServer,
    console,
    create_marked_tenants,
    create_scratch_database,
    drive,
    drop_scratch_database,
    forget_cached,
    free_port,
    print_examples,
    server_environment,
    usable_cores,
)
from loadcheck.loadsite import MARKER_PATH

SCRATCH_SUFFIX = "_loadcheck"
SLUG_FORMAT = "lcheck-{:05d}"
SCHEMA_PREFIX = "tenant_lcheck_"  # tenancy.domain.schema_name_for: the slug's hyphens become underscores
NAME_FORMAT = "Load check {:05d}"
APPLICATION_NAME = "loadcheck"
DESCRIPTION = "Drive N tenants at once through gunicorn; every response must carry its own tenant's marker."


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line: tenants, seconds, connections, workers, threads, port."""
    parser = argparse.ArgumentParser(prog="python -m loadcheck", description=DESCRIPTION)
    parser.add_argument("--tenants", type=int, default=50, help="tenants driven at once (default 50)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to drive them (default 30)")
    parser.add_argument("--connections", type=int, default=0, help="HTTP connections at once (default: one per tenant)")
    parser.add_argument(
        "--per-connection",
        type=int,
        default=10,
        help="requests per HTTP connection before a new one (any worker may accept it); 0 = no limit (default 10)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    parser.add_argument("--port", type=int, default=0, help="port of the server on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    if not 1 <= args.tenants <= 99_999:
        parser.error("--tenants must be 1-99999")
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    if args.connections < 0 or args.per_connection < 0 or args.workers < 1 or args.threads < 1:
        parser.error("--connections and --per-connection must be 0 or more, --workers and --threads 1 or more")
    args.connections = args.connections or args.tenants
    return args


def routing_described() -> str:
    """How the load check's requests address their tenants, e.g. "path: localhost/clinic/<slug>/"."""
    from django.conf import settings

    if settings.TENANCY_ROUTING == "path":
        return f"path: {settings.TENANCY_BASE_DOMAIN}/{settings.TENANCY_PATH_PREFIX}/<slug>/ (one Host for all)"
    return f"domain: <slug>.{settings.TENANCY_BASE_DOMAIN} (a Host per tenant)"


def report(args: argparse.Namespace, result: DriveResult, setup_seconds: float) -> None:
    """Print the load figures, the verdict and the machine."""
    table = Table(title=f"Load check: {args.tenants} tenants at once for {args.seconds:g} s")
    table.add_column("measure")
    table.add_column("value", justify="right")
    per_backend = sorted(len(hosts) for hosts in result.hosts_by_backend.values())
    rows = [
        ("requests", f"{result.requests:,}"),
        ("requests per second", f"{result.rate:,.0f}"),
        ("mismatches (marker is not the addressed tenant's)", f"{result.mismatches:,}"),
        ("5xx", f"{result.server_errors:,}"),
        ("other statuses", ", ".join(f"{s}: {n}" for s, n in sorted(result.other_status.items())) or "0"),
        ("no response (connection error, timeout)", f"{result.failures:,}"),
        ("latency p50 / p99", f"{result.latency_ms(0.5):.1f} ms / {result.latency_ms(0.99):.1f} ms"),
        ("responses per server worker process", result.worker_shares()),
        ("database connections that answered", f"{len(per_backend)}"),
        (
            "tenants served per database connection (min / median / max)",
            f"{per_backend[0]} / {statistics.median(per_backend):g} / {per_backend[-1]}" if per_backend else "-",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if result.clean:
        console.print(f"[green]PASS: all {result.requests:,} responses carried their own tenant's marker")
    else:
        console.print("[red]FAIL: not every request got its own tenant's marker; first problems:")
        print_examples(result)

    facts = Table(title="Set-up", show_header=False)
    for key, value in {
        "server": f"gunicorn, {args.workers} workers x {args.threads} threads "
        f"({'gthread' if args.threads > 1 else 'sync'}), CONN_MAX_AGE=600, loadcheck.loadsite.settings",
        "client": f"{args.connections} HTTP/1.1 connections at once, {args.per_connection or 'unlimited'} requests "
        f"each; request n for tenant n mod {args.tenants}",
        "tenants": f"{args.tenants} created in {setup_seconds:.1f} s (not part of the figures)",
        "routing": routing_described(),
        "cores (usable / total)": f"{usable_cores()} / {os.cpu_count()}",
        "versions": (
            f"Python {platform.python_version()}, Django {version('django')}, "
            f"django-tenants {version('django-tenants')}, gunicorn {version('gunicorn')}"
        ),
    }.items():
        facts.add_row(key, value)
    console.print(facts)


def run(args: argparse.Namespace, scratch_url: str, logs: Path) -> DriveResult:
    """Create the tenants, serve them, drive them, print the report; return what the client saw."""
    tenants, setup_seconds = create_marked_tenants(args.tenants, slug_format=SLUG_FORMAT, name_format=NAME_FORMAT)
    console.print(f"created {args.tenants} tenants in {setup_seconds:.1f} s")
    env = server_environment(scratch_url, application_name=APPLICATION_NAME)
    port = args.port or free_port()
    server = WebServer(port=port, env=env, workers=args.workers, threads=args.threads, log=logs / "gunicorn.log")
    with server.start(tenants[0].host, tenants[0].base_path):
        console.print(f"gunicorn on 127.0.0.1:{port}; driving {args.tenants} tenants for {args.seconds:g} s")
        result = drive(
            port,
            tenants,
            path=MARKER_PATH,
            connections=args.connections,
            seconds=args.seconds,
            per_connection=args.per_connection,
        )
    report(args, result, setup_seconds)
    if result.server_errors:
        console.print(f"[dim]end of the server's output:\n{server.log_tail()}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load check; return the exit code (0 clean, 1 a mismatch, error or failure, 130 interrupted)."""
    args = parse_args(argv)
    started = time.perf_counter()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    environ_ensure()  # embedded servers for the URLs left unset, as manage.py does
    import django

    django.setup()
    scratch: tuple[str, str, str] | None = None
    try:
        scratch = create_scratch_database(SCRATCH_SUFFIX)
        with tempfile.TemporaryDirectory(prefix="loadcheck-") as logs:
            result = run(args, scratch[2], Path(logs))
        return 0 if result.clean else 1
    except CheckError as exc:
        console.print(f"[red]load check failed: {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; cleaning up")
        return 130
    finally:
        if scratch is not None:
            drop_scratch_database(scratch[0], scratch[1])
            forget_cached(SCHEMA_PREFIX)
        console.print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
