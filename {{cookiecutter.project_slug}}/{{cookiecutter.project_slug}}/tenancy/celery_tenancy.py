"""Celery tasks that run in exactly the tenant they were sent from, or fail loudly.

The project builds on tenant-schemas-celery (the app puts the sender's schema in each task's
`_schema_name` header) and changes three of its defaults (config/celery_app.py installs this):

- A tenant task whose header names no tenant (it was sent from the public schema), a tenant that
  no longer exists, a tenant that is not active, or one its subscription makes read-only or suspended
  (Tenant.access, tenancy.domain.access_for), is rejected: TenantTaskRejected is logged and
  raised before the task body runs, so the task fails once and is not retried (`autoretry_for`
  wraps the body only). The stock behaviour runs such a task in the public schema.
  Tasks that work on the platform itself (migrating schemas, the spare pool) are declared
  with `base=PlatformTask` and always run in the public schema.
- The tenant of a task is resolved from a bounded in-process cache (TENANT_CACHE_SIZE entries),
  not by a query per task. Each entry holds the routing version it was loaded at; the statement that
  points the connection at the task's schema reads the current version too (the one statement
  django-tenants would issue anyway), and a moved version empties the cache. Database triggers move
  the version with every committed change to tenants or domains, whatever wrote it, so a tenant
  suspended, archived or deleted after a task was queued is refused by the next task, Redis or not.
- Periodic tasks (ActiveTenantScheduler) go to active tenants only, never to one that is still
  provisioning, suspended or archived, nor to one its subscription makes read-only or suspended
  (tenancy.selectors.billing_blocked_q).

`tenants_fan_out` sends a task to every active tenant with full access in messages that each carry a batch of
tenants (FAN_OUT_BATCH_SIZE): one message of the batch task `tenancy.run_for_tenants` (tenancy/tasks.py) names the
task and up to FAN_OUT_BATCH_SIZE schemas. The worker (`tenants_batch_run`) runs the task once per schema, each run
traced by Celery as if it had come in a message of its own: routed and refused by `TenantScopedTask.__call__`
(the same code as a single message, with the same tenant cache), retried alone (a retry is a single-tenant message
of the task), reported alone (Celery's task signals and log lines, and one line per tenant from the batch). The
schema is restored after every task, so nothing leaks into the next one.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Any

from celery import states
from celery.app import trace as celery_trace
from celery.utils import uuid
from celery.utils.time import get_exponential_backoff_interval
from django.db import connection
from django.db.models import Subquery
from django.utils import timezone
from django_tenants.utils import get_public_schema_name
from tenant_schemas_celery.scheduler import TenantAwarePersistentScheduler
from tenant_schemas_celery.task import TenantTask

from .domain import Access
from .routing import NO_VERSION, connection_schema_visited, routing_version_switch

logger = logging.getLogger(__name__)

SCHEMA_HEADER = "_schema_name"  # set by tenant-schemas-celery's CeleryApp.send_task
TENANT_CACHE_SIZE = 10_000
#: Tenants per message of tenants_fan_out. 10,000 tenants are 100 messages, enqueued in about 0.1 s, while a batch
#: stays small enough to spread over the workers and to redo after a redelivery (the template repository's
#: fan-out benchmark has the figures for other sizes).
FAN_OUT_BATCH_SIZE = 100
#: The batch tasks (tenancy/tasks.py): acknowledged on receipt, or after the batch ran (`acks_late`) for tasks
#: that are acknowledged late themselves, so a batch keeps the delivery promise of the task it carries.
FAN_OUT_TASK = "tenancy.run_for_tenants"
FAN_OUT_TASK_ACKS_LATE = "tenancy.run_for_tenants_acks_late"


class TenantTaskRejected(Exception):
    """A tenant task that cannot run: no tenant in its headers, the tenant is gone, not active, or read-only or
    suspended by its subscription."""


def _schema_of(request: Any) -> str | None:
    headers = getattr(request, "headers", None) or {}
    return headers.get(SCHEMA_HEADER) or request.get(SCHEMA_HEADER)


def billing_check(tenant: Any) -> None:
    """Raise TenantTaskRejected when the subscription of `tenant` (a Tenant) makes it read-only (payment overdue
    past the grace period) or suspended (canceled, the paid period over) now. Reads the tenant row's billing
    columns only: checked for every task, since time alone moves a tenant into these states."""
    access = tenant.access()
    if access is not Access.FULL:
        state = "read-only" if access is Access.READ_ONLY else "suspended"
        raise TenantTaskRejected(
            f"tenant {tenant.slug!r} (schema {tenant.schema_name!r}) is {state} by its subscription "
            f"(billing status {tenant.billing_status}); its tasks run again once it is paid"
        )


class TenantCache:
    """schema name -> active Tenant, least recently used first out, each entry valid for the routing version it
    was loaded at (tenancy.models.RoutingVersion, moved by database triggers with every committed change to
    tenants or domains, whatever wrote it).

    One per worker process (thread-safe). `lookups` counts database queries made to fill it.
    """

    def __init__(self, size: int = TENANT_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.lookups = 0

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def tenant(self, schema_name: str) -> Any:
        """Return the active tenant whose schema is `schema_name`, from the cache when it holds it (whatever its
        version: `route` checks that), else from the database; raise TenantTaskRejected when there is none
        (unknown, deleted) or it is not active."""
        return self._entry(schema_name)[0]

    def _entry(self, schema_name: str) -> tuple[Any, int]:
        # app loading: Celery loads this module before Django's models are ready
        from .models import RoutingVersion, Tenant

        with self._lock:
            entry = self._items.get(schema_name)
            if entry is not None:
                self._items.move_to_end(schema_name)
                return entry
        self.lookups += 1
        version = RoutingVersion.objects.filter(id=1).values("version")
        tenant = Tenant.objects.filter(schema_name=schema_name).annotate(routing_version=Subquery(version[:1])).first()
        if tenant is None:
            raise TenantTaskRejected(f"tenant with schema {schema_name!r} does not exist (deleted?)")
        if tenant.status != Tenant.Status.ACTIVE:
            raise TenantTaskRejected(f"tenant {tenant.slug!r} (schema {schema_name!r}) is {tenant.status}, not active")
        entry = (tenant, NO_VERSION if tenant.routing_version is None else int(tenant.routing_version))
        with self._lock:
            self._items[schema_name] = entry
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return entry

    def route(self, schema_name: str, connection: Any) -> Any:
        """The active tenant for a task sent from `schema_name`, with `connection` pointed at its schema. While the
        cached entry is current this costs one statement, the one that sets the search path and reads the routing
        version with it (routing.routing_version_switch); when the version moved, the cache is emptied and the
        tenant looked up again, so a tenant suspended, archived or deleted after the task was queued is refused
        (TenantTaskRejected) by the next task, whatever wrote the change. A tenant its subscription makes
        read-only or suspended at this moment is refused too (billing_check, on the current row). A refused
        task leaves `connection` in the public schema."""
        tenant, loaded = self._entry(schema_name)
        try:
            if routing_version_switch(tenant, connection) != loaded:
                self.clear()
                tenant, _ = self._entry(schema_name)
                connection.set_tenant(tenant)
            billing_check(tenant)
        except TenantTaskRejected:
            connection.set_schema_to_public()
            raise
        return tenant


tenant_cache = TenantCache()


class TenantScopedTask(TenantTask):
    """Base class of every task: runs in the tenant named by the task's headers, or is rejected."""

    abstract = True
    #: False for tasks about the platform itself, which run in the public schema (see PlatformTask).
    tenant_scoped = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        public = get_public_schema_name()
        previous = connection.schema_name  # type: ignore[attr-defined]  # added by django-tenants' backend
        if not self.tenant_scoped:
            connection.set_schema_to_public()  # type: ignore[attr-defined]
        else:
            schema = _schema_of(self.request)
            try:
                if not schema or schema == public:
                    raise TenantTaskRejected(
                        f"task {self.name} needs a tenant, but was sent from the public schema; send it inside "
                        "a tenant (a request on its host, `shell --tenant`, tenant_context) or use tenants_fan_out"
                    )
                tenant_cache.route(schema, connection)
            except TenantTaskRejected as exc:
                logger.error("rejected task %s[%s]: %s", self.name, self.request.id, exc)
                raise
            except tuple(self.autoretry_for or ()) as exc:
                # Finding the tenant needs the database before the body runs, outside Celery's autoretry,
                # which wraps the body only: retry here with the task's own backoff (config.celery_app).
                connection.close()
                countdown = get_exponential_backoff_interval(
                    factor=int(self.retry_backoff), retries=self.request.retries,
                    maximum=int(self.retry_backoff_max), full_jitter=bool(self.retry_jitter),
                )  # fmt: skip
                raise self.retry(exc=exc, countdown=countdown) from exc
        try:
            return super().__call__(*args, **kwargs)
        finally:
            served = connection.schema_name  # type: ignore[attr-defined]
            if previous == public:
                connection.set_schema_to_public()  # type: ignore[attr-defined]
            else:
                connection.set_schema(previous)  # type: ignore[attr-defined]
            # A worker serves every tenant: bound the catalog cache its connection accumulates.
            connection_schema_visited(connection, served)


class PlatformTask(TenantScopedTask):
    """Base class of tasks about the platform (schemas, the spare pool): they run in the public schema
    whatever schema they were sent from."""

    abstract = True
    tenant_scoped = False


def tenants_fan_out(
    task: Any,
    *,
    args: Iterable[Any] = (),
    kwargs: dict[str, Any] | None = None,
    slugs: Iterable[str] | None = None,
    queue: str | None = None,
    batch_size: int = FAN_OUT_BATCH_SIZE,
) -> int:
    """Run `task` (a tenant task: a TenantScopedTask, not a PlatformTask) with `args` and `kwargs` once in every
    active tenant, or in the active tenants among `slugs`; return how many tenants it was sent to (not messages).

    Provisioning, suspended and archived tenants, tenants their subscription makes read-only or suspended
    (tenancy.selectors.billing_blocked_q) and the public tenant are skipped. The tenants go out `batch_size` (>= 1)
    to a message of the batch task FAN_OUT_TASK (FAN_OUT_TASK_ACKS_LATE for a task with `acks_late`), whose
    arguments are (task name, schema names, args, kwargs) and whose result is not stored; the messages are
    routed as `task` would be (task_routes, or `queue`) and published through one broker connection. The worker
    runs the task once per schema, each run routed, refused, retried and reported alone (`tenants_batch_run`).
    A batch message runs under the time limits of the batch task (the app's, CELERY_TASK_TIME_LIMIT), which
    bound the whole batch, not each tenant: give a task that takes minutes per tenant a smaller `batch_size`.

    Raises ValueError for a task that is not tenant-scoped (it would run in the public schema) or a
    `batch_size` below 1; kombu's errors when the broker cannot be reached. The template repository's fan-out
    benchmark (`make benchmark-fanout` there) measures it against stock tenant-schemas-celery, which sends one
    message per tenant (both without results, through one producer), and runs every batch it sent: 0.085 s
    to enqueue 10,000 tenants in 100 messages, stock 10.85 s, on 2 shared cores (2026-12-06; its
    benchmarks/README.md has the runs and other batch sizes).
    """
    if not getattr(task, "tenant_scoped", False):
        raise ValueError(
            f"task {task.name} runs in the public schema (base=PlatformTask), not in tenants: send it once "
            "with apply_async; tenants_fan_out takes tenant tasks"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size {batch_size!r} is not a number of tenants per message (1 or more)")
    tenants = ActiveTenantScheduler.get_queryset().exclude(schema_name=get_public_schema_name())
    if slugs is not None:
        tenants = tenants.filter(slug__in=list(slugs))
    schemas = iter(tenants.order_by("pk").values_list("schema_name", flat=True).iterator(chunk_size=2000))
    args, kwargs = list(args), kwargs or {}
    batch_task = FAN_OUT_TASK_ACKS_LATE if task.acks_late else FAN_OUT_TASK
    amqp = task.app.amqp
    # Routed once for all messages (task_routes for the task's name, or `queue`), as apply_async would route it.
    route = amqp.router.route({"queue": queue} if queue else {}, task.name, args, kwargs)
    sent = 0
    # Celery's own message format and publishing (app.amqp), without apply_async's per-message settings lookups;
    # kombu's publish batch pipelines the round trips to Redis.
    with task.app.producer_or_acquire() as producer, producer.batch(max_size=100):
        while batch := list(islice(schemas, batch_size)):
            message = amqp.create_task_message(uuid(), batch_task, (task.name, batch, args, kwargs), {},
                                               ignore_result=True)  # fmt: skip
            amqp.send_task_message(producer, batch_task, message, **route)
            sent += len(batch)
    return sent


#: Outcomes of one tenant's run in a batch, as counted by tenants_batch_run.
FAN_OUT_OUTCOMES = ("ok", "refused", "retried", "failed")
_tracers: dict[str, Callable[..., Any]] = {}  # task name -> Celery's tracer of that task, built once per process


def tenants_batch_run(
    batch: Any, task_name: str, schemas: Sequence[str], args: Sequence[Any], kwargs: dict[str, Any]
) -> dict[str, int]:
    """Run the tenant task named `task_name` with `args` and `kwargs` once in each schema of `schemas`, in order,
    for `batch`, the running batch task (tenancy/tasks.py; its request gives the message's id, queue and worker).
    Return how many runs ended each way, {"ok": n, "refused": n, "retried": n, "failed": n}, and "tenant_lookups":
    the database lookups of this process's tenant cache meanwhile (0 when every tenant was cached and no tenant
    or domain changed).

    Each run is traced by Celery as a message of its own would be (celery.app.trace.build_tracer, what a worker
    runs for every message): a task id of its own, the batch as its parent, the schema in its headers. So
    TenantScopedTask.__call__ routes it through the tenant cache, or refuses it (no such active tenant, blocked by
    billing, the public schema), and restores the schema after it, exactly as for a single-tenant message;
    Celery sends the task's signals and logs its outcome; its result is not stored. A run that retries
    (Task.retry, or an exception of the task's `autoretry_for`, with its backoff) sends a single-tenant message
    of the task for its schema alone (to the queue the batch came from), with the run's task id. A refused or
    failed run is logged and the next schema runs; every run adds a log line naming its schema and outcome.
    Raises celery.exceptions.NotRegistered for an unknown task and TenantTaskRejected for a task that is not
    tenant-scoped, before any run.
    """
    task = batch.app.tasks[task_name]
    if not getattr(task, "tenant_scoped", False):
        raise TenantTaskRejected(f"fan-out batch names {task_name}, which is not a tenant task (base=PlatformTask)")
    parent = batch.request
    trace = _tracers.get(task_name)
    if trace is None:
        # Looked up when used: error trackers (Sentry's Celery integration) wrap celery.app.trace.build_tracer.
        trace = _tracers[task_name] = celery_trace.build_tracer(task_name, task, app=task.app, hostname=parent.hostname)
    counts = dict.fromkeys(FAN_OUT_OUTCOMES, 0)
    lookups = tenant_cache.lookups
    for schema in schemas:
        task_id = uuid()
        request = {
            "id": task_id, "task": task_name, "root_id": parent.root_id or parent.id, "parent_id": parent.id,
            "headers": {SCHEMA_HEADER: schema}, "delivery_info": parent.delivery_info or {},
            "hostname": parent.hostname, "retries": 0, "ignore_result": True,
        }  # fmt: skip
        # A copy each: one tenant's run must not see what another's did to its arguments.
        _, info, _, _ = trace(task_id, copy.deepcopy(list(args)), copy.deepcopy(dict(kwargs)), request)
        if info is None or info.state == states.IGNORED:  # IGNORED: the task ended itself (Task.replace)
            outcome, detail, level = "ok", "ok", logging.INFO
        elif info.state == states.RETRY:
            outcome, detail, level = "retried", f"retried alone: {info.retval}", logging.INFO
        elif isinstance(info.retval, TenantTaskRejected):
            outcome, detail, level = "refused", f"refused: {info.retval}", logging.WARNING
        else:
            outcome, detail, level = "failed", f"failed: {info.retval!r}", logging.ERROR
        counts[outcome] += 1
        logger.log(level, "fan-out %s[%s] in schema %s: %s", task_name, task_id, schema, detail)
    counts["tenant_lookups"] = tenant_cache.lookups - lookups
    logger.info("fan-out batch %s of %s: %s", parent.id, task_name, counts)
    return counts


class ActiveTenantScheduler(TenantAwarePersistentScheduler):
    """tenant-schemas-celery's tenant-aware beat scheduler, sending to active tenants only, and of those to the ones
    with full access (not read-only or suspended by their subscription: tenancy.selectors.billing_blocked_q, at
    each tick).

    A beat entry without `tenant_schemas` runs once per active tenant (the public schema excluded);
    with `tenant_schemas: [...]` once per named schema that is an active tenant's (`["public"]` for
    platform tasks). See BEAT_SCHEDULE in config/celery_app.py.
    """

    @classmethod
    def get_queryset(cls) -> Any:
        """Tenants that are active and whose subscription allows full access now."""
        # app loading: Celery loads this module before Django's models are ready
        from .models import Tenant, billing_grace
        from .selectors import billing_blocked_q

        blocked = billing_blocked_q(timezone.now(), billing_grace())
        return Tenant.objects.filter(status=Tenant.Status.ACTIVE).exclude(blocked)
