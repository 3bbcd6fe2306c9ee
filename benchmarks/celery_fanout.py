"""Fan-out benchmark: one per-tenant Celery task for every tenant, and finding the tenant on the worker.

Command line, at the template root (a fresh bake with Celery, the default answers; benchmarks/README.md)::

    make benchmark-fanout BENCHMARK_ARGS="--tenants 10000 --runs 3"

or from a bake generated with use_celery=y, with the template root on PYTHONPATH::

    python -m benchmarks.celery_fanout [--tenants 10000] [--runs 3] [--batch-size N] [--scratch-db]

It measures, in one run and on the same PostgreSQL and Redis (REDIS_URL, else the embedded Redis):

1. Enqueueing `tenancy.tenant_ping` for every active tenant, `--tenants` of them:
   - project: `tenancy.celery_tenancy.tenants_fan_out(task)`: one query for the schemas, then one message of
     the batch task `tenancy.run_for_tenants` per `--batch-size` tenants (default: the project's
     FAN_OUT_BATCH_SIZE), each created with `ignore_result=True`, all through one producer;
   - stock: what tenant-schemas-celery offers its users, one message per tenant: a loop over the tenants with
     `with tenant_context(tenant): task.apply_async(ignore_result=True, producer=producer)`, given the same
     help: one producer (`app.producer_or_acquire()`, one connection reused for every message) and
     `ignore_result=True`, so it does not subscribe to a result per message either.
   The messages go to a queue of the benchmark's own that no worker consumes. The stock queue must hold
   exactly one message per tenant with that tenant's schema in its headers. The project queue must hold batch
   messages that name every tenant's schema exactly once; then the benchmark runs them as a worker does, in
   this process (Celery's tracer over each message, `setup_worker_optimizations` as a worker process starts
   with, the project's batch task and its per-tenant tracing), and checks that `tenant_ping` ran exactly once
   for every tenant and answered that tenant's schema. It times that run (informative, not a target) and counts
   its SQL statements and the tenant cache's lookups per tenant; the first run fills the cache, later runs are
   the steady state.
2. Finding the tenant of a task on the worker, per task:
   - project: `TenantCache.tenant(schema)` with a warm cache: no SQL (a worker's `TenantCache.route` adds
     the statement that sets the search path and reads the routing version with it, in place of the
     `SET search_path` a stock worker issues too);
   - stock: tenant-schemas-celery's `TenantTask.get_tenant_for_schema(schema)` with its default
     `task_tenant_cache_seconds` (0): one SQL query per task.
   SQL statements are counted around each (django.test.utils.CaptureQueriesContext).

Tenant rows are enough (their schemas need not exist: `tenant_ping` only reports the search path it was given):
the benchmark inserts `--tenants` rows with slugs `fbench-*` inside a transaction that is rolled back at the
end, so nothing stays behind; a killed run leaves nothing in the database either (an interrupted transaction
rolls back). The batches run on the benchmark's connection, inside that transaction. The database must hold
the project's public schema; `--scratch-db` (what `make benchmark-fanout` passes) runs in a new database
`<name>_fanout_bench` instead, its public schema migrated by django-tenants' own `migrate_schemas --shared`, and
drops it at the end. Each figure is the median of `--runs` runs, stock and project interleaved. Target P5
(docs/BENCHMARKS.md): 10,000 tenants enqueued in at most 1 s, and 0 database queries per task to find the tenant
in steady state (a warm cache). With another `--tenants` the enqueue time is scaled to 10,000 and printed as
such, never as met.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

from rich.table import Table

from benchmarks.migrate_fleet import (
    SHARED_MIGRATE,
    BenchmarkError,
    Contender,
    child_environment,
    console,
    create_scratch_database,
    drop_scratch_database,
    timed_run,
    verdict,
)
from benchmarks.project import from_project, has_celery
from config.devservices import environ_ensure

# Target P5 (docs/BENCHMARKS.md, issue 20).
TARGET_SECONDS = 1.0  # enqueue one task for each of TARGET_TENANTS active tenants, project
TARGET_TENANTS = 10_000
TARGET_QUERIES = 0  # SQL statements per task to find its tenant on the worker, steady state
SCRATCH_SUFFIX = "_fanout_bench"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.celery_fanout", description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=TARGET_TENANTS, help="Active tenants to fan out to (>= 1).")
    parser.add_argument("--runs", type=int, default=3, help="Runs per path; each figure is their median (>= 1).")
    parser.add_argument(
        "--batch-size", type=int, default=None,
        help="Tenants per project message (>= 1); default: the project's FAN_OUT_BATCH_SIZE.",
    )  # fmt: skip
    parser.add_argument(
        "--scratch-db", action="store_true", help=f"run in a new database <name>{SCRATCH_SUFFIX}, dropped at the end"
    )
    args = parser.parse_args(argv)
    if args.tenants < 1 or args.runs < 1:
        parser.error(f"--tenants {args.tenants} and --runs {args.runs} must both be 1 or more")
    if args.batch_size is not None and args.batch_size < 1:
        parser.error(f"--batch-size {args.batch_size} must be 1 or more")
    return args


def insert_tenants(count: int) -> list[str]:
    """Insert `count` active tenant rows (no schemas) in the current transaction; return their schemas."""
    Tenant = from_project("tenancy.models", "Tenant")

    rows = [
        Tenant(name=f"Fan-out {n}", slug=f"fbench-{n:05d}", schema_name=f"tenant_fbench_{n:05d}", status="active")
        for n in range(1, count + 1)
    ]
    Tenant.objects.bulk_create(rows, batch_size=2000)
    return [row.schema_name for row in rows]


def drain(queue: str) -> list[dict[str, Any]]:
    """Delete `queue` (and the bindings kombu stored for its exchange of the same name) from Redis; return the
    messages it held (kombu's JSON envelopes), oldest first."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    messages = client.lrange(queue, 0, -1)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    return [json.loads(raw) for raw in reversed(messages)]  # kombu pushes on the left


def fan_out_project(task: object, queue: str, batch_size: int) -> int:
    tenants_fan_out = from_project("tenancy.celery_tenancy", "tenants_fan_out")

    return tenants_fan_out(task, queue=queue, batch_size=batch_size)


def fan_out_stock(task: Any, queue: str, batch_size: int) -> int:
    """The stock loop with the project's help: one producer (one broker connection) for all the messages and
    `ignore_result=True` (no result subscription per message); tenant-schemas-celery adds the schema header.
    Stock has no batches: `batch_size` is not used."""
    from django_tenants.utils import get_public_schema_name, tenant_context

    Tenant = from_project("tenancy.models", "Tenant")

    sent = 0
    with task.app.producer_or_acquire() as producer:
        for tenant in Tenant.objects.filter(status="active").exclude(schema_name=get_public_schema_name()):
            with tenant_context(tenant):
                task.apply_async(queue=queue, ignore_result=True, producer=producer)
            sent += 1
    return sent


def stock_schemas(messages: list[dict[str, Any]]) -> list[str]:
    """The schemas in the headers of stock's messages, one per message."""
    return [message["headers"]["_schema_name"] for message in messages]


def batch_bodies(messages: list[dict[str, Any]], task_name: str) -> list[tuple[dict[str, Any], list[Any]]]:
    """(headers, args) of each project message: a batch task's message whose args are (`task_name`, schemas,
    args, kwargs). Raises BenchmarkError for any other message."""
    batch_tasks = from_project("tenancy.celery_tenancy", "FAN_OUT_TASK", "FAN_OUT_TASK_ACKS_LATE")
    bodies = []
    for message in messages:
        headers = message["headers"]
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        if headers["task"] not in batch_tasks or args[0] != task_name:
            raise BenchmarkError(f"project queue holds a message of {headers['task']} for {args[0]!r}: expected "
                                 f"{' or '.join(batch_tasks)} for {task_name}")  # fmt: skip
        bodies.append((headers, args))
    return bodies


class BatchRun:
    """Runs the project's batch messages in this process as a worker runs a message (Celery's tracer, worker
    optimizations installed), and collects what each tenant's run of `tenant_ping` answered."""

    def __init__(self, task: Any) -> None:
        self.task = task.app.tasks[task.name]  # the task object itself (signals compare senders by identity)
        self.answers: list[tuple[str, Any]] = []  # (state, return value) of each tenant's run

    def __call__(self, bodies: list[tuple[dict[str, Any], list[Any]]], queue: str) -> tuple[float, int, int]:
        """Run every batch in `bodies`; return (seconds, SQL statements the driver sent, tenant cache lookups) for
        the lot. Raises BenchmarkError when a batch or a tenant's run failed."""
        from celery.app.trace import build_tracer
        from celery.signals import task_postrun
        from django.db import connection

        tenant_cache = from_project("tenancy.celery_tenancy", "tenant_cache")

        app = self.task.app
        self.answers.clear()
        statements = 0
        # Counted at the driver: the statement that routes a task goes through psycopg's own cursor, not Django's.
        connection.ensure_connection()
        raw = connection.connection
        factory = raw.cursor_factory

        class CountingCursor(factory):  # type: ignore[misc, valid-type]
            def execute(self, *args: Any, **kwargs: Any) -> Any:
                nonlocal statements
                statements += 1
                return super().execute(*args, **kwargs)

        def answered(sender=None, retval=None, state=None, **_):
            self.answers.append((state, retval))

        task_postrun.connect(answered, sender=self.task, weak=False)
        lookups = tenant_cache.lookups
        logging.disable(logging.INFO)  # a line per tenant and outcome: the worker's log, not this console
        raw.cursor_factory = CountingCursor
        try:
            started = time.perf_counter()
            for headers, args in bodies:
                name = headers["task"]
                trace = build_tracer(name, app.tasks[name], app=app, hostname="fanout-benchmark")
                request = {**headers, "delivery_info": {"exchange": "", "routing_key": queue},
                           "hostname": "fanout-benchmark"}  # fmt: skip
                counts, failure, _, _ = trace(headers["id"], args, {}, request)
                if failure is not None:
                    raise BenchmarkError(f"batch {headers['id']} failed: {failure.retval!r}")
                if counts["ok"] != len(args[1]):
                    raise BenchmarkError(f"batch {headers['id']} of {len(args[1])} tenants ended {counts}")
            elapsed = time.perf_counter() - started
            if connection.connection is not raw:
                raise BenchmarkError("the database connection was replaced during the run: statements not counted")
        finally:
            raw.cursor_factory = factory
            logging.disable(logging.NOTSET)
            task_postrun.disconnect(answered, sender=self.task)
        return elapsed, statements, tenant_cache.lookups - lookups


def measure_fan_out(
    runs: int, expected: list[str], batch_size: int, paths: Sequence[str] = ("stock", "project")
) -> dict[str, Any]:
    """Enqueue and verify `runs` times per path in `paths` ("stock", "project"; benchmarks/scale.py times the
    project's alone); run the project's batches after each of its runs. `expected`: the sorted schemas of every
    active tenant. Returns {"stock": [seconds], "project": [seconds], "messages": int, "worker": [(seconds,
    statements, lookups)]}. Raises BenchmarkError when a queue or a batch run misses a tenant or repeats one."""
    from celery.app.trace import reset_worker_optimizations, setup_worker_optimizations

    tenant_ping = from_project("lifecycle.tasks", "tenant_ping")

    times: dict[str, list[float]] = {"stock": [], "project": []}
    worker: list[tuple[float, int, int]] = []
    messages = 0
    senders = {"stock": fan_out_stock, "project": fan_out_project}
    # What a worker process starts with: the task modules (autodiscovered), the worker's optimizations.
    tenant_ping.app.loader.import_default_modules()
    setup_worker_optimizations(tenant_ping.app, "fanout-benchmark")
    run_batches = BatchRun(tenant_ping)
    try:
        for run in range(runs):
            for name in paths:
                send = senders[name]
                queue = f"fbench-{uuid.uuid4().hex[:8]}"
                started = time.perf_counter()
                sent = send(tenant_ping, queue, batch_size)
                times[name].append(time.perf_counter() - started)
                queued = drain(queue)
                if name == "stock":
                    schemas = stock_schemas(queued)
                else:
                    bodies = batch_bodies(queued, tenant_ping.name)
                    schemas = [schema for _, args in bodies for schema in args[1]]
                    messages = len(bodies)
                if sent != len(expected) or sorted(schemas) != expected:
                    raise BenchmarkError(
                        f"{name} run {run + 1}: sent {sent}, queued {len(schemas)} tenants; expected each active "
                        f"tenant ({len(expected)}) exactly once, with its schema"
                    )
                console.print(f"fan-out {name} run {run + 1}: {times[name][-1]:.3f} s for {sent} tenants"
                              f" in {len(queued)} messages")  # fmt: skip
                if name == "project":
                    worker.append(run_batches(bodies, queue))
                    answers = sorted(str(retval) for state, retval in run_batches.answers if state == "SUCCESS")
                    if len(run_batches.answers) != len(expected) or answers != expected:
                        raise BenchmarkError(
                            f"project run {run + 1}: the batches ran tenant_ping {len(run_batches.answers)} times, "
                            f"{len(answers)} succeeded; expected once in each of the {len(expected)} tenants, "
                            "answering its schema"
                        )
                    seconds, statements, lookups = worker[-1]
                    console.print(f"  ran every tenant's task once, in its schema: {seconds:.2f} s, {statements} SQL "
                                  f"statements, {lookups} tenant lookups")  # fmt: skip
    finally:
        reset_worker_optimizations(tenant_ping.app)
    return {**times, "messages": messages, "worker": worker}


def measure_resolution(schemas: list[str], runs: int) -> dict[str, list[tuple[float, float]]]:
    """Per-task seconds and SQL statements per task, for each path and run."""
    from django.db import connection
    from tenant_schemas_celery.task import TenantTask

    TenantCache = from_project("tenancy.celery_tenancy", "TenantCache")

    sample = schemas[: min(len(schemas), 2000)]
    results: dict[str, list[tuple[float, float]]] = {"stock": [], "project": []}
    cache = TenantCache()
    for schema in sample:  # warm: a worker meets each tenant once, then keeps it
        cache.tenant(schema)
    for _ in range(runs):
        for name, resolve in (("stock", TenantTask.get_tenant_for_schema), ("project", cache.tenant)):
            statements: list[str] = []

            def count(execute, sql, params, many, context, statements=statements):
                statements.append(sql)
                return execute(sql, params, many, context)

            with connection.execute_wrapper(count):
                started = time.perf_counter()
                for schema in sample:
                    resolve(schema)
                elapsed = time.perf_counter() - started
            results[name].append((elapsed / len(sample), len(statements) / len(sample)))
    return results


def machine_facts(tenants: int, runs: int) -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    return {
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "postgresql": server,
        "celery / tenant-schemas-celery / redis-py": (
            f"{version('celery')} / {version('tenant-schemas-celery')} / {version('redis')}"
        ),
        "tenants / runs": f"{tenants:,} / {runs}",
    }


def report(fan_out: dict[str, Any], resolution: dict[str, list[tuple[float, float]]], tenants: int, batch_size: int,
           facts: dict[str, str]) -> None:  # fmt: skip
    stock, project = statistics.median(fan_out["stock"]), statistics.median(fan_out["project"])
    runs = len(fan_out["project"])
    table = Table(title=f"Fan-out to {tenants:,} active tenants (median of {runs} runs)")
    for column in ("measure", "stock", "project", "stock / project"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    table.add_row(
        "enqueue a task for every tenant",
        f"{stock:.3f} s ({tenants:,} messages)",
        f"{project:.3f} s ({fan_out['messages']:,} messages of <= {batch_size} tenants)",
        f"{stock / project:.1f}x",
    )
    per_task = {name: statistics.median(run[0] for run in runs) for name, runs in resolution.items()}
    queries = {name: statistics.median(run[1] for run in runs) for name, runs in resolution.items()}
    table.add_row(
        "find the tenant of a task (worker)",
        f"{per_task['stock'] * 1e6:.0f} µs, {queries['stock']:.0f} SQL",
        f"{per_task['project'] * 1e6:.0f} µs, {queries['project']:.0f} SQL",
        f"{per_task['stock'] / per_task['project']:.1f}x",
    )
    # The first run fills the worker's tenant cache; the later ones are the steady state.
    cold, warm = fan_out["worker"][0], fan_out["worker"][1:]
    table.add_row(
        "run every tenant's task from the batches (worker code, this process), first run",
        "not run",
        f"{cold[0] / tenants * 1e6:.0f} µs, {cold[1] / tenants:.2f} SQL, {cold[2] / tenants:.2f} tenant lookups "
        "per tenant",
        "",
    )
    warm_lookups = None
    if warm:
        seconds = statistics.median(run[0] for run in warm)
        sql = statistics.median(run[1] for run in warm)
        warm_lookups = max(run[2] for run in warm)
        table.add_row(
            f"  later runs (steady state, median of {len(warm)})",
            "not run",
            f"{seconds / tenants * 1e6:.0f} µs, {sql / tenants:.2f} SQL, {warm_lookups / tenants:.2f} tenant lookups "
            "per tenant",
            "",
        )
    console.print(table)
    targets = Table(title="Targets")
    for column in ("id", "target", "measured", "result"):
        targets.add_column(column)
    scaled = project * TARGET_TENANTS / tenants
    enqueue = (f"enqueue {TARGET_TENANTS:,} tenants <= {TARGET_SECONDS:g} s (both sides: ignore_result, one "
               "producer; every tenant's task then ran once)")  # fmt: skip
    if tenants == TARGET_TENANTS:
        targets.add_row("P5", enqueue, f"{project:.3f} s", verdict(project <= TARGET_SECONDS))
    else:
        within = "within" if scaled <= TARGET_SECONDS else "over"
        targets.add_row(
            "P5",
            enqueue,
            f"{scaled:.3f} s scaled from {project:.3f} s at {tenants:,} tenants (the target is for {TARGET_TENANTS:,})",
            f"[yellow]not measured at {TARGET_TENANTS:,} (scaled: {within})",
        )
    targets.add_row(
        "P5",
        f"{TARGET_QUERIES} database queries per task to find the tenant (steady state, warm cache)",
        f"{queries['project']:.0f} per task (stock {queries['stock']:.0f})",
        verdict(queries["project"] <= TARGET_QUERIES),
    )
    if warm_lookups is None:
        targets.add_row("P5", "the same, for tenants run from the batches", "one run only: no steady state",
                        "[yellow]not measured")  # fmt: skip
    else:
        targets.add_row(
            "P5",
            "the same, for tenants run from the batches (tenant cache lookups, later runs)",
            f"{warm_lookups} lookups for {tenants:,} tenants in the worst run",
            verdict(warm_lookups <= TARGET_QUERIES),
        )
    console.print(targets)
    for key, value in facts.items():
        console.print(f"  {key}: {value}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit code (0 done, 1 failed, 130 interrupted)."""
    args = parse_args(argv)
    if not has_celery():
        console.print("[red]benchmark failed: this project was generated without Celery; bake it with use_celery=y")
        return 1
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    environ_ensure()  # embedded servers for the URLs left unset, as manage.py does
    import django

    django.setup()
    from django.db import transaction

    scratch: tuple[str, str, str] | None = None
    try:
        if args.scratch_db:
            scratch = create_scratch_database(SCRATCH_SUFFIX)
            timed_run(Contender("migrate_schemas --shared", SHARED_MIGRATE), child_environment(scratch[2]))
        with transaction.atomic():
            started = time.perf_counter()
            schemas = sorted(insert_tenants(args.tenants))
            console.print(f"inserted {args.tenants:,} tenant rows in {time.perf_counter() - started:.1f} s")
            from django_tenants.utils import get_public_schema_name

            Tenant = from_project("tenancy.models", "Tenant")

            expected = sorted(
                Tenant.objects.filter(status="active").exclude(schema_name=get_public_schema_name())
                .values_list("schema_name", flat=True)
            )  # fmt: skip
            batch_size = args.batch_size or from_project("tenancy.celery_tenancy", "FAN_OUT_BATCH_SIZE")
            fan_out = measure_fan_out(args.runs, expected, batch_size)
            resolution = measure_resolution(schemas, args.runs)
            report(fan_out, resolution, args.tenants, batch_size, machine_facts(args.tenants, args.runs))
            transaction.set_rollback(True)  # the tenant rows were only for the measurement
        return 0
    except BenchmarkError as exc:
        console.print(f"[red]benchmark failed: {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; the tenant rows are rolled back")
        return 130
    finally:
        if scratch is not None:
            drop_scratch_database(scratch[0], scratch[1])


if __name__ == "__main__":
    sys.exit(main())
