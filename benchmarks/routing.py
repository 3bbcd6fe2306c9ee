"""Routing benchmark: the project's TenantRoutingMiddleware against django-tenants' stock TenantMainMiddleware (P4).

Command line, at the template root (a fresh bake of the template's working tree; benchmarks/README.md)::

    make benchmark-routing BENCHMARK_ARGS="--tenants 2000 --runs 3 --seconds 10"

or from a baked project's folder, with the template root on PYTHONPATH::

    python -m benchmarks.routing [--tenants 2000] [--hosts 100] [--runs 3] [--seconds 10]

Both run in one gunicorn set-up (`config.wsgi:application`, `--workers` x `--threads` gthread workers, CONN_MAX_AGE=600;
stock's requests on one database connection per thread, the project's on its TENANCY_CONNECTION_SLOTS connections
per process, chosen by host) with the same settings (benchmarks/loadsite/settings.py: the production
settings; only MIDDLEWARE[0] differs) on the same PostgreSQL, and serve the same tenant-routed view, `/__marker__/`,
which reads one row of the tenant's schema (one SQL statement) and answers its marker. For each middleware, `--runs`
times, interleaved (stock, project, then project, stock, ...), each run in a fresh server:

1. warm-up: `--warmup` seconds of requests over `--hosts` tenants' hosts (the project's per-process directory
   and the backends' catalog caches fill);
2. statements at the server: the benchmark's own PostgreSQL logs every statement (log_statement = all) while
   requests are served for `--count-seconds`; statements per request, and beyond the view's own statement
   (routing: the project's reads the routing version and sets the search path in one);
3. req/s: `--connections` HTTP/1.1 connections at once send requests for `--seconds`, round-robin over the hosts;
   each connection carries `--per-connection` requests, then the client opens a new one, which either gunicorn
   worker may accept (with endless keep-alive, how a few connections split between the workers is left to chance,
   and a run where one worker holds most of them measures one core instead of two).

Every response must carry the marker of the tenant it addressed (a mismatch, a 5xx or a missing response stops
the benchmark). In a `tenant_routing=path` bake (`make benchmark-routing BENCHMARK_ROUTING=path`) the project's
requests address tenants by path on the public host (`addressed`); stock's, which routes by host only, by host.
Then the backend memory: a fresh server with one sync worker (stock: one database connection) serves one
`/__tables__/` request (one query on every table of the tenant apps, then the marker) for each of `--tenants`
distinct tenants, in order; after every `--sample-every` tenants the benchmark reads VmRSS and RssAnon
(/proc/<pid>/status) of the PostgreSQL backends serving that server (found by application_name). `--runs` times
per middleware, interleaved.

The statements are counted at the server: the benchmark starts a PostgreSQL of its own (initdb in a temporary
folder, with the embedded server's binaries from pgserver, else /usr/lib/postgresql/<major>/bin, or `--pg-bin`),
creates `--tenants` tenants there (schemas built as benchmarks/provisioning.py builds its fleet, one marker row
each), and removes the server and its folder at the end, also after an error or Ctrl-C. It prints the medians, the
ratio and target P4 (docs/BENCHMARKS.md: routing <= 1 SQL statement per request, stock 3; >= 1.5x stock req/s) and
the memory target (backend memory <= 300 MB after 2,000 tenants), met or not; a memory figure taken after another
number of tenants says so and is never printed as met for 2,000. Needs neither Redis nor Celery unless the project
has them (then REDIS_URL, else the embedded Redis: the project's directory is invalidated through it).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

from loadcheck.harness import DriveResult, MarkedTenant, WebServer, drive, forget_cached, free_port
from rich.table import Table

from benchmarks.harness import (
    DedicatedPostgres,
    backend_memory,
    create_marked_tenants,
    mb,
    median,
    postgres_binaries,
    server_environment,
)
from benchmarks.loadsite import MARKER_PATH, PROJECT_MIDDLEWARE, STOCK_MIDDLEWARE, TABLES_PATH
from benchmarks.migrate_fleet import (
    SHARED_MIGRATE,
    BenchmarkError,
    Contender,
    child_environment,
    console,
    scale_note,
    timed_run,
    verdict,
)
from benchmarks.project import from_project
from benchmarks.stock_manage import usable_cores
from config.devservices import environ_ensure

STOCK, PROJECT = "stock", "project"
FEW_HOSTS = "project, --few-hosts"  # the project's runs over the first --few-hosts hosts only
LABEL = {STOCK: "stock", PROJECT: "project", FEW_HOSTS: "project, fewer hot hosts"}
DATABASE = "routing_bench"
SLUG_FORMAT = "rbench-{:05d}"
SCHEMA_PREFIX = "tenant_rbench_"  # tenancy.domain.schema_name_for: the slug's hyphens become underscores
NAME_FORMAT = "Routing benchmark {:05d}"
# Target P4 (docs/BENCHMARKS.md, issue 20) and the memory target.
TARGET_RATIO = 1.5  # project req/s / stock req/s
TARGET_STATEMENTS = 1.0  # routing SQL statements per request (stock: 3)
TARGET_SPREAD = 1.5  # project req/s over --few-hosts hot hosts / over --hosts hot hosts, at most
TARGET_MEMORY = 300 * 2**20  # bytes: RssAnon of a PostgreSQL backend, median peak and end
TARGET_MEMORY_TENANTS = 2000  # distinct tenants served by one server before the memory is judged
SET_PATH, DOMAIN, VIEW, OTHER = "SET search_path", "domain lookup", "view (marker row)", "other"
KINDS = (SET_PATH, DOMAIN, VIEW, OTHER)
DESCRIPTION = "req/s, SQL statements per request, backend memory: project routing against stock TenantMainMiddleware."


def add_web_run_options(add: Callable[..., Any], *, count_seconds: float) -> None:
    """The options of a routed-request run (throughput_run reads them) and of the benchmark's own PostgreSQL, for
    this benchmark and `scale`: `add` is a parser's add_argument; `count_seconds` the default of --count-seconds."""
    add("--seconds", type=float, default=10.0, help="measured seconds per req/s run (default 10)")
    add("--warmup", type=float, default=3.0, help="unmeasured seconds before each run (default 3)")
    add("--count-seconds", type=float, default=count_seconds,
        help=f"seconds of requests with statements counted (default {count_seconds:g})")  # fmt: skip
    add("--connections", type=int, default=16, help="HTTP connections at once (default 16)")
    add(
        "--per-connection",
        type=int,
        default=10,
        help="requests per HTTP connection before a new one, so that both workers get a share; 0 = no limit "
        "(default 10)",
    )
    add("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    add("--threads", type=int, default=4, help="threads per worker (default 4; stock: one database connection each)")
    add("--port", type=int, default=0, help="port of the web servers on 127.0.0.1 (default: a free one)")
    add("--pg-port", type=int, default=0, help="port of the benchmark's PostgreSQL (default: a free one)")
    add("--pg-bin", default=None, help="folder of initdb, pg_ctl and postgres (default: pgserver's, else the system's)")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.routing", description=DESCRIPTION)
    add = parser.add_argument
    add("--tenants", type=int, default=2000, help="tenants created; distinct tenants for the memory (default 2000)")
    add("--hosts", type=int, default=100, help="tenants whose hosts get the req/s requests (default 100)")
    add("--runs", type=int, default=3, help="runs per middleware, interleaved; medians (default 3)")
    add_web_run_options(add, count_seconds=10.0)
    add("--sample-every", type=int, default=250, help="tenants between two memory readings (default 250)")
    add(
        "--few-hosts",
        type=int,
        default=0,
        help="also measure the project over the first N of the --hosts tenants' hosts, interleaved with the other "
        "runs, and compare (P4 names 50 against 2,000 at 10,000 tenants; default 0: not measured)",
    )
    add("--skip-memory", action="store_true", help="leave out the backend memory measurement")
    args = parser.parse_args(argv)
    if not 1 <= args.tenants <= 99_999:
        parser.error("--tenants must be 1-99999")
    if not 1 <= args.hosts <= args.tenants:
        parser.error("--hosts must be 1 to --tenants")
    if not 0 <= args.few_hosts < args.hosts:
        parser.error("--few-hosts must be 0 (not measured) or 1 to --hosts - 1")
    numbers = (args.runs, args.connections, args.workers, args.threads, args.sample_every)
    if min(numbers) < 1 or min(args.seconds, args.count_seconds) <= 0 or min(args.warmup, args.per_connection) < 0:
        parser.error("--runs, --connections, --workers, --threads, --sample-every must be >= 1, --seconds and "
                     "--count-seconds > 0, --warmup and --per-connection >= 0")  # fmt: skip
    return args


# ----------------------------------------------------------------------------------------------------------------
# Measuring
# ----------------------------------------------------------------------------------------------------------------


def classify(statement: str) -> str:
    """The kind of a logged statement: SET_PATH, DOMAIN (the tenant lookup), VIEW (the marker row) or OTHER."""
    text = statement.lstrip()
    if text[:15].upper() == "SET SEARCH_PATH":
        return SET_PATH
    if '"tenancy_domain"' in text:
        return DOMAIN
    if '"products_product"' in text:
        return VIEW
    return OTHER


@dataclass
class ThroughputRun:
    """One req/s run of one middleware: what the measured drive saw, and the statements of the counted requests."""

    routing: str
    measured: DriveResult
    counted_requests: int
    statements: Counter[str]
    others: Counter[str] = field(default_factory=Counter)  # statements of kind OTHER (first 100 characters)
    backends: int = 0  # database connections (backend pids) that served the counted requests

    def per_request(self, kind: str | None = None) -> float:
        total = self.statements[kind] if kind else sum(self.statements.values())
        return total / self.counted_requests

    @property
    def routing_statements(self) -> float:
        """Statements per request beyond the view's own."""
        return self.per_request() - self.per_request(VIEW)


@dataclass
class MemoryRun:
    """One memory run: (tenants served so far, largest VmRSS, largest RssAnon, backends, RssAnon of all backends)
    after every sample, and the tenants each database connection (backend pid, from the responses) served."""

    routing: str
    samples: list[tuple[int, int, int, int, int]]
    backends: dict[str, int]

    @property
    def most_tenants(self) -> int:
        """The most tenants one database connection served."""
        return max(self.backends.values(), default=0)

    @property
    def final_anon(self) -> int:
        return self.samples[-1][2]

    @property
    def peak_anon(self) -> int:
        return max(sample[2] for sample in self.samples)

    @property
    def final_rss(self) -> int:
        return self.samples[-1][1]

    @property
    def final_total_anon(self) -> int:
        return self.samples[-1][4]


def expect_clean(result: DriveResult, what: str, server: WebServer) -> None:
    """Raise BenchmarkError unless every request of `result` got a 200 with its own tenant's marker."""
    if result.clean:
        return
    problems = "\n".join(result.examples)
    raise BenchmarkError(
        f"{what}: {result.requests} requests, {result.ok} ok, {result.mismatches} mismatches, "
        f"{result.server_errors} 5xx, {result.failures} without response; first problems:\n{problems}\n"
        f"end of the server's output:\n{server.log_tail()}"
    )


def path_routing() -> bool:
    """True when the bake routes tenants by path (settings.TENANCY_ROUTING = "path", `make benchmark-routing
    BENCHMARK_ROUTING=path`)."""
    from django.conf import settings

    return getattr(settings, "TENANCY_ROUTING", "domain") == "path"


def addressed(tenants: Sequence[MarkedTenant], routing: str) -> list[MarkedTenant]:
    """`tenants` as `routing`'s requests address them. Stock's TenantMainMiddleware routes by host only, so its
    requests always go to each tenant's own host; so do the project's in domain routing. In path routing the
    project's requests go to the public host (settings.TENANCY_BASE_DOMAIN, the public tenant's domain:
    ensure_public_host) with `/<TENANCY_PATH_PREFIX>/<slug>` before the path, as its users' browsers send them."""
    from django.conf import settings

    if routing == STOCK or not path_routing():
        return list(tenants)
    host, prefix = str(settings.TENANCY_BASE_DOMAIN), settings.TENANCY_PATH_PREFIX
    return [replace(tenant, host=host, base_path=f"/{prefix}/{tenant.slug}") for tenant in tenants]


def ensure_public_host() -> None:
    """In path routing: create the public tenant with settings.TENANCY_BASE_DOMAIN as its domain (the host the
    project's path-routed requests are sent to). Nothing in domain routing."""
    from django.conf import settings

    if path_routing():
        public_tenant_ensure = from_project("lifecycle.services", "public_tenant_ensure")
        public_tenant_ensure(domain=str(settings.TENANCY_BASE_DOMAIN))


def application_name(routing: str, phase: str) -> str:
    return f"bench-{phase}-{routing}"


def throughput_run(
    routing: str,
    run: int,
    args: argparse.Namespace,
    pg: DedicatedPostgres,
    hosts: Sequence[MarkedTenant],
    logs: Path,
    *,
    database: str = DATABASE,
) -> ThroughputRun:
    """A fresh server for `routing` on `pg`'s database `database`: warm-up, the counted requests (statement log on),
    then the measured seconds. `args` carries the options of parse_args (port, workers, threads, warmup,
    count_seconds, seconds, connections, per_connection, runs). Raises BenchmarkError when a response is wrong."""
    hosts = addressed(hosts, routing)
    app = application_name(routing, "web")
    env = server_environment(pg.url(database), routing=routing, application_name=app)
    log = logs / f"gunicorn-{routing}-{run}.log"
    server = WebServer(port=args.port, env=env, workers=args.workers, threads=args.threads, log=log)
    label = f"run {run}/{args.runs}, {routing}"
    pc = args.per_connection
    with server.start(hosts[0].host, hosts[0].base_path):
        warm_shares = "-"
        if args.warmup:
            with console.status(f"{label}: warm-up {args.warmup:g} s"):
                warm = drive(args.port, hosts, connections=args.connections, seconds=args.warmup, per_connection=pc)
            expect_clean(warm, f"{label}: warm-up", server)
            warm_shares = warm.worker_shares()
        with console.status(f"{label}: {args.count_seconds:g} s with the statement log on"):
            with pg.statement_log() as statement_log:
                counted = drive(
                    args.port, hosts, connections=args.connections, seconds=args.count_seconds, per_connection=pc
                )
            statements = statement_log.statements(app)
        expect_clean(counted, f"{label}: counted requests", server)
        with console.status(f"{label}: {args.seconds:g} s measured"):
            measured = drive(args.port, hosts, connections=args.connections, seconds=args.seconds, per_connection=pc)
        expect_clean(measured, f"{label}: measured requests", server)
    kinds = Counter(classify(statement) for statement in statements)
    if kinds[VIEW] != counted.requests:
        raise BenchmarkError(
            f"{label}: the statement log holds {kinds[VIEW]} statements of the view for {counted.requests} requests; "
            "it did not record every statement"
        )
    others = Counter(statement[:100] for statement in statements if classify(statement) == OTHER)
    result = ThroughputRun(routing, measured, counted.requests, kinds, others, len(counted.hosts_by_backend))
    console.print(
        f"{label}: {measured.rate:,.0f} req/s ({measured.requests:,} requests), "
        f"{result.per_request():.2f} statements per request, {result.routing_statements:.2f} beyond the view's, "
        f"{result.backends} database connections ({', '.join(f'{kind} {n}' for kind, n in kinds.items())}); "
        f"requests per worker: warm-up {warm_shares}, counted {counted.worker_shares()}, "
        f"measured {measured.worker_shares()}"
    )
    return result


def memory_run(
    routing: str,
    run: int,
    args: argparse.Namespace,
    pg: DedicatedPostgres,
    tenants: Sequence[MarkedTenant],
    logs: Path,
    *,
    database: str = DATABASE,
) -> MemoryRun:
    """A fresh server with one sync worker (stock: one database connection; the project: its connection slots) on
    `pg`'s database `database` serves one TABLES_PATH request per tenant, in order; the memory of its backends is
    read after every `--sample-every` tenants (`args`: port, runs, sample_every)."""
    tenants = addressed(tenants, routing)
    app = application_name(routing, "mem")
    env = server_environment(pg.url(database), routing=routing, application_name=app)
    server = WebServer(port=args.port, env=env, workers=1, threads=1, log=logs / f"gunicorn-mem-{routing}-{run}.log")
    samples: list[tuple[int, int, int, int, int]] = []
    backends: Counter[str] = Counter()
    label = f"memory run {run}/{args.runs}, {routing}"
    with server.start(tenants[0].host, tenants[0].base_path):
        for start in range(0, len(tenants), args.sample_every):
            chunk = tenants[start : start + args.sample_every]
            with console.status(f"{label}: tenants {start + 1}-{start + len(chunk)} of {len(tenants)}"):
                result = drive(args.port, chunk, path=TABLES_PATH, connections=1, total=len(chunk))
            expect_clean(result, f"{label}: tenants {start + 1}-{start + len(chunk)}", server)
            for backend, hosts in result.hosts_by_backend.items():
                backends[backend] += len(hosts)
            pids = pg.backend_pids(app)
            readings = [reading for reading in map(backend_memory, pids) if reading is not None]
            rss = max((reading[0] for reading in readings), default=0)
            anon = max((reading[1] for reading in readings), default=0)
            total = sum(reading[1] for reading in readings)
            samples.append((start + len(chunk), rss, anon, len(pids), total))
    memory = MemoryRun(routing, samples, dict(backends))
    console.print(
        f"{label}: RssAnon {mb(memory.final_anon)} after {len(tenants):,} tenants (peak {mb(memory.peak_anon)}), "
        f"{len(backends)} database connections, at most {memory.most_tenants:,} tenants on one"
    )
    return memory


def interleaved(runs: int, *extra: str) -> list[tuple[int, str]]:
    """(run, routing) pairs: stock then project in odd runs, project then stock in even ones; each of `extra`
    (the project over fewer hosts) follows in odd runs and leads in even ones."""
    order: list[tuple[int, str]] = []
    for run in range(1, runs + 1):
        pair = (STOCK, PROJECT, *extra) if run % 2 else (*extra, PROJECT, STOCK)
        order.extend((run, routing) for routing in pair)
    return order


# ----------------------------------------------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    throughput: dict[str, list[ThroughputRun]],
    memory: dict[str, list[MemoryRun]],
    facts: dict[str, str],
) -> None:
    """Print req/s and statements, memory, the targets and the machine."""
    rates = {routing: median([run.measured.rate for run in runs]) for routing, runs in throughput.items()}
    routing_statements = {
        routing: median([run.routing_statements for run in runs]) for routing, runs in throughput.items()
    }
    table = Table(
        title=f"Tenant-routed view {MARKER_PATH}: gunicorn {args.workers} workers x {args.threads} threads, "
        f"{args.connections} connections over {args.hosts} tenants' hosts"
    )
    table.add_column("routing")
    for column in ("req/s (median)", "runs", "project / stock", "SQL / request", "routing SQL / request"):
        table.add_column(column, justify="right")
    for routing in (STOCK, PROJECT, FEW_HOSTS):
        if routing not in throughput:
            continue
        runs = throughput[routing]
        table.add_row(
            LABEL[routing] if routing != FEW_HOSTS else f"project, {args.few_hosts:,} hot hosts",
            f"{rates[routing]:,.0f}",
            " ".join(f"{run.measured.rate:,.0f}" for run in runs),
            "-" if routing == STOCK else f"{rates[routing] / rates[STOCK]:.2f}x",
            f"{median([run.per_request() for run in runs]):.2f}",
            f"{routing_statements[routing]:.2f}",
        )
    console.print(table)
    console.print(
        "[dim]SQL counted at the server (log_statement = all) over each run's counted requests; routing SQL = "
        "statements beyond the view's own one"
    )
    kinds = Table(title="SQL statements per request by kind (median of the runs)")
    kinds.add_column("statement")
    for routing in (STOCK, PROJECT):
        kinds.add_column(LABEL[routing], justify="right")
    for kind in KINDS:
        values = [median([run.per_request(kind) for run in throughput[routing]]) for routing in (STOCK, PROJECT)]
        if any(values):
            kinds.add_row(kind, *(f"{value:.2f}" for value in values))
    console.print(kinds)
    for routing in (STOCK, PROJECT):
        for number, run in enumerate(throughput[routing], start=1):
            for statement, count in run.others.most_common(3):
                console.print(f"[dim]{routing} run {number}: {count} x 'other' statement: {statement}")

    targets = Table(title="Targets")
    for column in ("id", "target", "measured", "result"):
        targets.add_column(column)
    ratio = rates[PROJECT] / rates[STOCK] if rates[STOCK] else 0.0
    targets.add_row(
        "P4",
        f"routing <= {TARGET_STATEMENTS:g} SQL statement per request (stock: 3)",
        f"{routing_statements[PROJECT]:.2f} (stock {routing_statements[STOCK]:.2f})",
        verdict(routing_statements[PROJECT] <= TARGET_STATEMENTS),
    )
    targets.add_row("P4", f"req/s >= {TARGET_RATIO:g}x stock", f"{ratio:.2f}x", verdict(ratio >= TARGET_RATIO))
    if FEW_HOSTS in throughput:
        few_rate = median([run.measured.rate for run in throughput[FEW_HOSTS]])
        spread = few_rate / rates[PROJECT] if rates[PROJECT] else float("inf")
        targets.add_row(
            "P4",
            f"project req/s over {args.hosts:,} hot hosts within {TARGET_SPREAD:g}x of {args.few_hosts:,} hot hosts "
            f"(at {args.tenants:,} tenants; the target names 2,000 and 50 at 10,000)",
            f"{rates[PROJECT]:,.0f} vs {few_rate:,.0f} req/s ({spread:.2f}x; runs "
            + " ".join(f"{run.measured.rate:,.0f}" for run in throughput[FEW_HOSTS])
            + ")",
            verdict(spread <= TARGET_SPREAD),
        )

    if memory:
        tenants = memory[STOCK][0].samples[-1][0]
        mem = Table(
            title=f"PostgreSQL backend memory (RssAnon, the largest web backend; median of {args.runs}) while one "
            f"sync worker serves {tenants:,} distinct tenants ({TABLES_PATH}: every tenant table)"
        )
        mem.add_column("tenants served")
        for routing in (STOCK, PROJECT):
            mem.add_column(LABEL[routing], justify="right")
        for index, sample in enumerate(memory[STOCK][0].samples):
            mem.add_row(
                f"{sample[0]:,}", *(mb(median([run.samples[index][2] for run in memory[r]])) for r in (STOCK, PROJECT))
            )
        mem.add_section()
        mem.add_row("peak", *(mb(median([run.peak_anon for run in memory[r]])) for r in (STOCK, PROJECT)))
        mem.add_row("VmRSS at the end", *(mb(median([run.final_rss for run in memory[r]])) for r in (STOCK, PROJECT)))
        mem.add_row(
            "RssAnon of all its backends at the end",
            *(mb(median([run.final_total_anon for run in memory[r]])) for r in (STOCK, PROJECT)),
        )
        mem.add_row(
            "database connections (per run)",
            *(" ".join(str(len(run.backends)) for run in memory[r]) for r in (STOCK, PROJECT)),
        )
        mem.add_row(
            "most tenants on one connection",
            *(" ".join(f"{run.most_tenants:,}" for run in memory[r]) for r in (STOCK, PROJECT)),
        )
        console.print(mem)
        final = median([run.final_anon for run in memory[PROJECT]])
        peak = median([run.peak_anon for run in memory[PROJECT]])
        scale = scale_note(tenants, TARGET_MEMORY_TENANTS)
        targets.add_row(
            "P4",
            f"backend memory <= {mb(TARGET_MEMORY)} after {TARGET_MEMORY_TENANTS:,} tenants",
            f"{mb(final)}, peak {mb(peak)}{scale} (stock {mb(median([run.final_anon for run in memory[STOCK]]))})",
            verdict(max(final, peak) <= TARGET_MEMORY, tenants, TARGET_MEMORY_TENANTS),
        )
    console.print(targets)

    facts_table = Table(title="Machine and set-up", show_header=False)
    for key, value in facts.items():
        facts_table.add_row(key, value)
    console.print(facts_table)


def machine_facts(args: argparse.Namespace, pg: DedicatedPostgres, setup_seconds: float) -> dict[str, str]:
    from django.conf import settings

    return {
        "routing": f"stock {STOCK_MIDDLEWARE}, project {PROJECT_MIDDLEWARE}; MIDDLEWARE[0], nothing else differs",
        "addressing": (
            f"stock by host (<slug>.{settings.TENANCY_BASE_DOMAIN}), project by path "
            f"({settings.TENANCY_BASE_DOMAIN}/{settings.TENANCY_PATH_PREFIX}/<slug>/; TENANCY_ROUTING=path)"
            if path_routing()
            else f"both by host (<slug>.{settings.TENANCY_BASE_DOMAIN}; TENANCY_ROUTING=domain)"
        ),
        "cores (usable / total)": f"{usable_cores()} / {os.cpu_count()}",
        "PostgreSQL": f"{pg.version}, the benchmark's own server ({pg.bindir}), port {pg.port}",
        "tenants": f"{args.tenants:,} created in {setup_seconds:.1f} s (not part of the figures)",
        "runs": f"{args.runs} per middleware, interleaved, fresh server each; {args.warmup:g} s warm-up, "
        f"{args.count_seconds:g} s of counted requests, {args.seconds:g} s measured",
        "client": f"{args.connections} HTTP/1.1 connections at once, {args.per_connection or 'unlimited'} requests "
        "each, from one asyncio process on the same machine",
        "settings": f"benchmarks.loadsite.settings (production), CONN_MAX_AGE=600, "
        f"TENANT_LIMIT_SET_CALLS={getattr(settings, 'TENANT_LIMIT_SET_CALLS', False)}, "
        f"TENANCY_CONNECTION_MAX_SCHEMAS={getattr(settings, 'TENANCY_CONNECTION_MAX_SCHEMAS', '-')}, "
        f"TENANCY_CONNECTION_SLOTS={os.environ.get('TENANCY_CONNECTION_SLOTS', 'the production default')} "
        "(the project's middleware only), "
        "directory invalidation: the routing version (database triggers), read with the search path",
        "versions": (
            f"Python {platform.python_version()}, Django {version('django')}, "
            f"django-tenants {version('django-tenants')}, gunicorn {version('gunicorn')}, psycopg {version('psycopg')}"
        ),
    }


# ----------------------------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, pg: DedicatedPostgres, logs: Path) -> None:
    """Create the tenants, measure throughput and statements, then memory, print the report."""
    load_start = os.getloadavg()[0]
    tenants, setup_seconds = create_marked_tenants(args.tenants, slug_format=SLUG_FORMAT, name_format=NAME_FORMAT)
    console.print(f"created {args.tenants:,} tenants with a marker row each in {setup_seconds:.1f} s")
    ensure_public_host()
    facts = machine_facts(args, pg, setup_seconds)
    hosts = tenants[: args.hosts]
    if args.runs < 3:
        console.print("[yellow]fewer than 3 runs: comparable figures are medians of at least 3")
    throughput: dict[str, list[ThroughputRun]] = {STOCK: [], PROJECT: []}
    extra = (FEW_HOSTS,) if args.few_hosts else ()
    for number, routing in interleaved(args.runs, *extra):
        if routing == FEW_HOSTS:
            few = throughput_run(PROJECT, number, args, pg, tenants[: args.few_hosts], logs)
            throughput.setdefault(FEW_HOSTS, []).append(few)
        else:
            throughput[routing].append(throughput_run(routing, number, args, pg, hosts, logs))
    cpu = median([run.measured.client_cpu_per_request for runs in throughput.values() for run in runs])
    facts["client CPU per request"] = f"{1e6 * cpu:.0f} µs (taken from the same cores as the server)"
    memory: dict[str, list[MemoryRun]] = {}
    if not args.skip_memory:
        memory = {STOCK: [], PROJECT: []}
        for number, routing in interleaved(args.runs):
            memory[routing].append(memory_run(routing, number, args, pg, tenants, logs))
    facts["load average (1 min), start / end"] = f"{load_start:.2f} / {os.getloadavg()[0]:.2f}"
    report(args, throughput, memory, facts)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit code (0 done, 1 failed, 130 interrupted)."""
    args = parse_args(argv)
    started = time.perf_counter()
    args.port = args.port or free_port()
    pg: DedicatedPostgres | None = None
    try:
        bindir, run_as = postgres_binaries(args.pg_bin)
        pg = DedicatedPostgres(bindir=bindir, run_as=run_as, port=args.pg_port or free_port())
        with console.status(f"starting the benchmark's PostgreSQL ({bindir})"):
            pg.start()
        url = pg.create_database(DATABASE)
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        environ_ensure()  # embedded servers for the URLs left unset, as manage.py does
        import django

        django.setup()
        timed_run(Contender("migrate_schemas --shared", SHARED_MIGRATE), child_environment(url))
        with tempfile.TemporaryDirectory(prefix="routing-bench-") as logs:
            run(args, pg, Path(logs))
        return 0
    except BenchmarkError as exc:
        console.print(f"[red]benchmark failed: {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; cleaning up")
        return 130
    finally:
        if pg is not None:
            from django.apps import apps
            from django.db import connections

            if apps.ready:
                connections.close_all()
                forget_cached(SCHEMA_PREFIX)
            pg.stop()
        console.print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
