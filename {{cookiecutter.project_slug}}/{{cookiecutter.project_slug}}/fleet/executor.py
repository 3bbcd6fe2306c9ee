"""Applying migrations to a fleet of schemas: the project's migration executor.

`fleet_migrate()` is the Python API behind `migrate_schemas` (and usable from deploy scripts
and tasks). It plans once (fleet/plan.py), then works per group of schemas that share the
same pending plan and the same kind (the public schema is always alone: django-tenants' router
runs shared apps' operations there and tenant apps' operations in tenant schemas):

- the migration graph is loaded once and the project state at the group's starting point is
  rendered once;
- a migration made only of operations whose SQL does not depend on what is in the database
  (creating models, adding fields, indexes and constraints, raw SQL) has its SQL generated
  once, as `sqlmigrate` would, in a schema of the group, and run in every schema of the group
  (table names are unqualified, so each schema's search_path resolves them). The SQL is generated
  a second time in another schema of the group and shared only when both are equal;
- any other migration (RunPython, AlterField, ...) is applied per schema by Django's own
  `Migration.apply`, on a copy of the shared state, exactly as `migrate` would.

Each migration runs in its own transaction and is recorded in the schema's
`django_migrations`, so a schema that fails stays at its last fully applied migration and a
rerun applies only what is pending. Lock waits are bounded by `lock_timeout`; transient
errors (deadlock, lock timeout, serialization failure, lost connection) are retried with
exponential backoff. post_migrate handlers run per schema when its plan creates, deletes or
renames models or runs Python (content types change only then); schemas with nothing to
apply are not touched at all.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, fields
from typing import Any

from django.core.management.commands.migrate import Command as MigrateCommand
from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
from django.db import OperationalError, connection, connections, transaction
from django.db.migrations import operations as ops
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration as DjangoMigration
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django.utils import timezone
from django_tenants.migration_executors.base import run_migrations
from django_tenants.utils import get_public_schema_name

from .plan import FleetPlan, Migration, forward_plan, plan_fleet
from .state import state_watch

# Operations whose generated SQL is the same for every schema: generating it reads nothing from
# the database, and it names tables without a schema. Others are applied per schema.
SHAREABLE_OPERATIONS = (
    ops.CreateModel, ops.DeleteModel, ops.AddField, ops.AddIndex, ops.RemoveIndex, ops.AddConstraint,
    ops.RemoveConstraint, ops.RunSQL, ops.AlterModelOptions, ops.AlterModelManagers,
)  # fmt: skip
MODEL_OPERATIONS = (ops.CreateModel, ops.DeleteModel, ops.RenameModel)
# SQLSTATEs worth a retry (PostgreSQL appendix A): serialization_failure, deadlock_detected,
# lock_not_available (lock_timeout), admin/crash shutdown, cannot_connect_now; class 08 is connection loss.
TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03"}
DEFAULT_LOCK_TIMEOUT_MS = 10_000
DEFAULT_RETRIES = 2
BACKOFF_BASE_SECONDS = 0.5
# Condition names of the retried SQLSTATEs (PostgreSQL appendix A), for retry messages.
CONDITION_NAMES = {
    "40001": "serialization_failure", "40P01": "deadlock_detected", "55P03": "lock_not_available",
    "57P01": "admin_shutdown", "57P02": "crash_shutdown", "57P03": "cannot_connect_now",
    "08000": "connection_exception", "08001": "sqlclient_unable_to_establish_sqlconnection",
    "08003": "connection_does_not_exist", "08004": "sqlserver_rejected_establishment_of_sqlconnection",
    "08006": "connection_failure", "08007": "transaction_resolution_unknown", "08P01": "protocol_violation",
}  # fmt: skip
BATCH_SIZE = 25  # schemas per worker task; a worker opens a fresh connection per batch
# parallel_auto(): below this many schemas to migrate, forking workers costs more than it saves.
AUTO_PARALLEL_MIN_SCHEMAS = 2 * BATCH_SIZE
# parallel_auto() takes at most this share of the connections the server has free (one per worker).
AUTO_PARALLEL_CONNECTION_SHARE = 0.25

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retry:
    """One transient failure of a schema, retried after `backoff_seconds`.

    attempt: the failed attempt's number (1 = the first); sqlstate / condition: PostgreSQL's code and
    condition name ("55P03", "lock_not_available"), None for a connection lost without one; error: the
    error's first line. Prints as `attempt 1 failed (SQLSTATE 55P03 lock_not_available), retrying in 0.5 s`.
    """

    attempt: int
    sqlstate: str | None
    condition: str | None
    backoff_seconds: float
    error: str

    def __str__(self) -> str:
        cause = (
            f"SQLSTATE {self.sqlstate} {self.condition or 'unknown condition'}" if self.sqlstate else "connection lost"
        )
        return f"attempt {self.attempt} failed ({cause}), retrying in {self.backoff_seconds:g} s"


@dataclass
class SchemaResult:
    """What happened to one schema. status: migrated, up_to_date, failed or not_run.

    applied: migration names ("app.name") applied in this run; attempts: 0 when not tried; seconds: wall
    time over all attempts; retries: the transient failures that were retried; retry_seconds: the part of
    `seconds` lost to failed attempts and their backoff (lock waits included); post_migrate_seconds: the part
    spent in post_migrate handlers. `dataclasses.asdict()`
    gives JSON-serialisable fields (sent by the Celery task), `from_fields()` reads them back.
    """

    schema: str
    status: str
    applied: list[str] = field(default_factory=list)
    error: str | None = None
    attempts: int = 0
    seconds: float = 0.0
    backend_pid: int | None = None
    retries: list[Retry] = field(default_factory=list)
    retry_seconds: float = 0.0
    post_migrate_seconds: float = 0.0

    @classmethod
    def from_fields(cls, values: dict[str, Any]) -> SchemaResult:
        """The SchemaResult whose `asdict()` is `values`; keys this version does not know are ignored (a worker
        running another release may send them)."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in values.items() if key in known}
        retries = [Retry(**retry) if isinstance(retry, dict) else retry for retry in values.pop("retries", [])]
        return cls(**values, retries=retries)


@dataclass
class FleetReport:
    """Per-schema results of a fleet migration, in the order the schemas were selected."""

    results: list[SchemaResult]
    plan: FleetPlan
    canary_failed: bool = False

    def with_status(self, status: str) -> list[SchemaResult]:
        return [result for result in self.results if result.status == status]

    @property
    def failed(self) -> list[SchemaResult]:
        return self.with_status("failed")

    @property
    def ok(self) -> bool:
        return not self.failed and not self.with_status("not_run")


@dataclass
class Step:
    """One migration of a group's plan: shared SQL, or None to apply it per schema from `state_before`."""

    key: Migration
    migration: DjangoMigration
    sql: list[str] | None
    state_before: ProjectState | None


@dataclass
class Group:
    """Schemas with identical pending plans, and the work prepared once for all of them."""

    schemas: list[str]
    steps: list[Step]
    start_state: ProjectState | None
    final_state: ProjectState | None
    emit_post_migrate: bool
    # squashed migration -> the migrations it replaces (MigrationLoader.replacements), for recording them
    replacements: dict[Migration, list[Migration]] = field(default_factory=dict)
    # Migrated one by one through django-tenants' own per-schema path (schemas holding part of a squash).
    stock: bool = False


class TransientError(Exception):
    """Wraps an error worth retrying."""


def _error_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then the errors it was raised from or while handling (Django wraps the driver's error), each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _sqlstate(error: BaseException) -> str | None:
    sqlstate = getattr(error, "sqlstate", None) or getattr(getattr(error, "diag", None), "sqlstate", None)
    return str(sqlstate) if sqlstate else None


def is_transient(exc: BaseException) -> bool:
    """True for deadlocks, lock and statement timeouts on locks, serialization failures and lost connections."""
    for error in _error_chain(exc):
        sqlstate = _sqlstate(error)
        if sqlstate and (sqlstate in TRANSIENT_SQLSTATES or sqlstate.startswith("08")):
            return True
        if isinstance(error, OperationalError) and "connection" in str(error).lower():
            return True
    return False


def _shareable(migration: DjangoMigration) -> bool:
    return migration.atomic and all(type(op) in SHAREABLE_OPERATIONS for op in migration.operations)


def _state_at(loader: MigrationLoader, applied: set[Migration]) -> ProjectState:
    """The project state after exactly the `applied` migrations (as MigrationExecutor builds it)."""
    state = ProjectState(real_apps=loader.unmigrated_apps)
    for key in forward_plan(loader):
        if key in applied:
            loader.graph.nodes[key].mutate_state(state, preserve=False)
    return state


def collect_sql(migration: DjangoMigration, state: ProjectState, schema: str) -> tuple[ProjectState, list[str]]:
    """Generate `migration`'s SQL as `sqlmigrate` would, with the connection in `schema`, touching nothing.

    Returns (the state after the migration, its SQL statements without comments). `state` is consumed
    (mutated in place). django-tenants' router decides per schema which apps' operations produce SQL,
    which is why the schema matters. Restores the connection's schema afterwards.
    """
    previous = connection.schema_name  # type: ignore[attr-defined]
    connection.set_schema(schema)  # type: ignore[attr-defined]
    try:
        with connection.schema_editor(collect_sql=True, atomic=False) as editor:
            state = migration.apply(state, editor)
    finally:
        connection.set_schema(previous)  # type: ignore[attr-defined]
    return state, [statement for statement in editor.collected_sql if not statement.startswith("--")]


def prepare_group(
    loader: MigrationLoader, schemas: list[str], pending: Sequence[Migration], announced: set[Migration]
) -> Group:
    """Render the group's state once and generate the SQL of its shareable migrations once.

    `schemas` must all be of one kind: the public schema alone, or tenant (and spare) schemas only
    (FleetPlan.groups() groups them so). SQL is shared only when it is proven the same for the group:
    generated in its first and in its last schema, the two must be equal; otherwise that migration is
    applied per schema, like RunPython. `announced` holds the migrations already passed to pre_migrate
    handlers in this run (they may edit a migration's operations, so each migration object is
    announced once). Generating SQL reads nothing from the database.
    """
    public = get_public_schema_name()
    if len(schemas) > 1 and public in schemas:
        raise ValueError(f"the public schema cannot share SQL with tenant schemas: {schemas[:3]}...")
    pending_set = set(pending)
    applied = {key for key in loader.graph.nodes if key not in pending_set}
    migrations = [loader.graph.nodes[key] for key in pending]
    start = _state_at(loader, applied)
    # pre_migrate lets contenttypes add its RenameContentType steps after RenameModel operations.
    new = [(m, False) for key, m in zip(pending, migrations, strict=True) if key not in announced]
    announced.update(pending)
    emit_pre_migrate_signal(0, False, connection.alias, apps=start.apps, plan=new)
    share = len(schemas) > 1
    state = start.clone()
    steps: list[Step] = []
    for key, migration in zip(pending, migrations, strict=True):
        sql: list[str] | None = None
        if share and _shareable(migration):
            before, probe = state.clone(), state.clone()
            after, sql = collect_sql(migration, state, schemas[0])
            _, check = collect_sql(migration, probe, schemas[-1])
            state = after if check == sql else before
            sql = sql if check == sql else None
        if sql is not None:
            steps.append(Step(key=key, migration=migration, sql=sql, state_before=None))
        elif share:
            before = state.clone()
            before.apps  # noqa: B018 - render once here, not once per schema
            steps.append(Step(key=key, migration=migration, sql=None, state_before=before))
            state = migration.mutate_state(state, preserve=True)
        else:
            # A lone schema advances one state through its plan, as `migrate` does.
            steps.append(Step(key=key, migration=migration, sql=None, state_before=None))
            state = migration.mutate_state(state, preserve=False)
    emit = not share or any(
        step.sql is None or any(isinstance(op, MODEL_OPERATIONS) for op in step.migration.operations) for step in steps
    )
    replacements = {key: list(migration.replaces) for key, migration in loader.replacements.items()}
    return Group(
        schemas=schemas, steps=steps, start_state=start, final_state=state, emit_post_migrate=emit,
        replacements=replacements,
    )  # fmt: skip


def _state_before(group: Group, index: int) -> ProjectState:
    """A private copy of the project state just before step `index` of `group`."""
    prepared = group.steps[index].state_before
    if prepared is not None:
        return prepared.clone()
    assert group.start_state is not None
    state = group.start_state.clone()
    for earlier in group.steps[:index]:
        state = earlier.migration.mutate_state(state, preserve=False)
    return state


def _record(keys: Sequence[Migration]) -> None:
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)", [(*key, now) for key in keys]
        )


def _replacements_to_record(group: Group, recorded: set[Migration]) -> list[Migration]:
    """Squashed migrations whose replaced migrations are all in `recorded` but which are not recorded
    themselves. Django's `migrate` records them at the end of every run (MigrationExecutor.check_replacements)."""
    return sorted(
        key for key, replaced in group.replacements.items() if key not in recorded and set(replaced) <= recorded
    )


def stock_migrate(schema: str) -> None:
    """Migrate `schema` to the latest migrations by django-tenants' own per-schema step (what its standard
    executor runs for each schema: Django's `migrate` with the connection in that schema), silently. Commits
    and closes the connection when called outside a transaction, as django-tenants does."""
    parser = MigrateCommand().create_parser("manage.py", "migrate")
    options = vars(parser.parse_args(["--noinput", "--verbosity", "0", "--skip-checks"]))
    run_migrations([], options, "standard", schema)


def _recorded(schema: str) -> set[Migration]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app, name FROM {connection.ops.quote_name(schema)}.django_migrations")  # noqa: S608
        return {(app, name) for app, name in cursor.fetchall()}


def _migrate_schema_stock(schema: str) -> tuple[list[str], int, float]:
    """A schema of a stock group: django-tenants' per-schema `migrate`; return (newly recorded names, pid, 0.0:
    its post_migrate time is not told apart)."""
    before = _recorded(schema)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = int(cursor.fetchone()[0])
    stock_migrate(schema)
    added = sorted(_recorded(schema) - before)
    return [f"{app}.{name}" for app, name in added], pid, 0.0


def _migrate_schema(group: Group, schema: str, lock_timeout_ms: int) -> tuple[list[str], int, float]:
    """Apply the group's pending steps that `schema` has not recorded yet; return (applied names, backend pid,
    seconds spent in post_migrate handlers)."""
    if group.stock:
        with connection.cursor() as cursor:  # per attempt: a retry may be on a new connection
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [f"{lock_timeout_ms}ms"])
        return _migrate_schema_stock(schema)
    connection.set_schema(schema)  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        # One statement: the lock timeout (per attempt: a retry may be on a new connection), the backend, and
        # whether the schema has its own django_migrations. to_regclass of the qualified name is one index
        # lookup; MigrationRecorder.ensure_schema() lists every table visible on the search path, a scan of
        # pg_class whose cost grows with the whole fleet's catalog (17.6 ms with 2,000 schemas), per schema.
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, false), pg_backend_pid(),"
            " to_regclass(format('%%I.django_migrations', %s::text)) IS NOT NULL",
            [f"{lock_timeout_ms}ms", schema],
        )
        _timeout, pid, has_recorder_table = cursor.fetchone()
    if not has_recorder_table:  # a schema no migration has reached yet: Django creates the table
        connection.set_schema(schema, include_public=False)  # type: ignore[attr-defined]
        MigrationRecorder(connection).ensure_schema()
        connection.set_schema(schema)  # type: ignore[attr-defined]
        # Its summary is kept by the database from the first row on (fleet/state.py); the lock timeout set above
        # applies.
        state_watch([schema], lock_timeout_ms=None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations")
        recorded = {(app, name) for app, name in cursor.fetchall()}
    pid = int(pid)
    applied: list[str] = []
    lone = len(group.schemas) == 1
    state: ProjectState | None = None
    for index, step in enumerate(group.steps):
        if step.key in recorded:
            continue
        atomic = transaction.atomic() if step.migration.atomic else contextlib.nullcontext()
        with atomic:
            if step.sql is not None:
                with connection.cursor() as cursor:
                    for statement in step.sql:
                        cursor.execute(statement)
            else:
                if state is None or not lone:
                    state = _state_before(group, index)
                # The transaction is ours (above): the schema editor runs its deferred SQL in __exit__
                # before closing its own atomic block, which would stay open when that SQL fails.
                with connection.schema_editor(atomic=False) as editor:
                    state = step.migration.apply(state, editor)
            # As Django's executor records a squashed migration: the migrations it replaces (the squashed
            # one itself is recorded below, once all it replaces is).
            _record(group.replacements.get(step.key) or [step.key])
        recorded.update(group.replacements.get(step.key) or [step.key])
        applied.append(f"{step.key[0]}.{step.key[1]}")
    squashed = _replacements_to_record(group, recorded)
    if squashed:
        with transaction.atomic():
            _record(squashed)
    post_migrate_seconds = 0.0
    if applied and group.emit_post_migrate:
        plan = [(step.migration, False) for step in group.steps]
        final = state if lone and state is not None else group.final_state
        assert final is not None
        post_started = time.monotonic()
        emit_post_migrate_signal(0, False, connection.alias, apps=final.apps, plan=plan)
        post_migrate_seconds = time.monotonic() - post_started
    return applied, pid, post_migrate_seconds


def sqlstate_of(exc: BaseException) -> str | None:
    """The first SQLSTATE in `exc`'s chain (Django wraps the driver's error), or None."""
    return next((sqlstate for sqlstate in map(_sqlstate, _error_chain(exc)) if sqlstate), None)


RetryCallback = Callable[[str, Retry], None]


def _attempt_schema(
    group: Group, schema: str, *, retries: int, lock_timeout_ms: int, on_retry: RetryCallback | None = None
) -> SchemaResult:
    """Migrate `schema`, retrying transient errors up to `retries` times with exponential backoff.

    Before each backoff the Retry is recorded in the result and passed to `on_retry(schema, retry)`, or,
    without a callback, logged as a warning on this module's logger (workers, tasks).
    """
    started = time.monotonic()
    applied: list[str] = []
    notes: list[Retry] = []
    for attempt in range(1, retries + 2):
        attempt_started = time.monotonic()
        try:
            done, pid, post_seconds = _migrate_schema(group, schema, lock_timeout_ms)
            applied.extend(done)
            return SchemaResult(
                schema, "migrated", applied, None, attempt, time.monotonic() - started, pid, notes,
                retry_seconds=attempt_started - started, post_migrate_seconds=post_seconds,
            )  # fmt: skip
        except Exception as exc:
            if not is_transient(exc) or attempt > retries:
                error = f"{type(exc).__name__}: {str(exc).strip()}"
                return SchemaResult(
                    schema, "failed", applied, error, attempt, time.monotonic() - started, None, notes,
                    retry_seconds=attempt_started - started,
                )  # fmt: skip
            if connection.in_atomic_block:
                raise  # an outer transaction cannot be retried from inside
            connection.close()
            sqlstate = sqlstate_of(exc)
            lines = str(exc).strip().splitlines()
            note = Retry(
                attempt=attempt,
                sqlstate=sqlstate,
                condition=CONDITION_NAMES.get(sqlstate or ""),
                backoff_seconds=BACKOFF_BASE_SECONDS * 2 ** (attempt - 1),
                error=f"{type(exc).__name__}: {lines[0] if lines else ''}",
            )
            notes.append(note)
            if on_retry is not None:
                on_retry(schema, note)
            else:
                logger.warning("%s: %s", schema, note)
            time.sleep(note.backoff_seconds)
    raise AssertionError("unreachable")


def _reset_lock_timeout() -> None:
    if connection.connection is not None and not connection.needs_rollback:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


# State shared with forked worker processes (set in the parent right before the pool starts).
_GROUPS: dict[int, Group] = {}


def _run_batch(group_id: int, schemas: list[str], retries: int, lock_timeout_ms: int) -> list[SchemaResult]:
    """Worker process: migrate `schemas` of group `group_id` on a fresh connection, closed afterwards.

    Retries are logged here as they happen (the parent's callback cannot reach this process) and come
    back to the parent in each SchemaResult's `retries`."""
    group = _GROUPS[group_id]
    results = []
    try:
        for schema in schemas:
            results.append(_attempt_schema(group, schema, retries=retries, lock_timeout_ms=lock_timeout_ms))
    finally:
        connection.close()
    return results


@dataclass(frozen=True)
class Parallelism:
    """How many worker processes a fleet migration uses, and why (printed by migrate_schemas).

    workers: 1 or more; cores: usable cores of this machine (os.sched_getaffinity); free_connections: the
    server's max_connections less superuser_reserved_connections less the client connections open now, None when
    not read; reason: one line, e.g. "auto: 2 usable cores, 94 free connections".
    """

    workers: int
    cores: int
    free_connections: int | None
    reason: str


def parallel_auto(schemas_to_migrate: int) -> Parallelism:
    """The worker processes fleet_migrate should use for `schemas_to_migrate` schemas when no one chose.

    1 (in this process, nothing read) below AUTO_PARALLEL_MIN_SCHEMAS schemas, or when the default connection is
    inside a transaction (fleet_migrate's workers cannot run there). Otherwise the usable cores of
    this machine, capped by AUTO_PARALLEL_CONNECTION_SHARE of the connections the server has free (each worker
    holds one connection) and by the number of BATCH_SIZE batches; at least 1. One statement on the default
    connection. Measured on 2 cores (benchmarks/README.md): one AddField over 1,000 tenants takes about half
    as long with 2 workers as with 1, so the default is what the machine allows.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if schemas_to_migrate < AUTO_PARALLEL_MIN_SCHEMAS:
        reason = f"auto: {schemas_to_migrate} schema(s), fewer than {AUTO_PARALLEL_MIN_SCHEMAS}"
        return Parallelism(1, cores, None, reason)
    if connection.in_atomic_block:  # workers need connections of their own; this transaction must see the work
        return Parallelism(1, cores, None, "auto: called inside a transaction")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int"
            " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
        )
        free = int(cursor.fetchone()[0])
    batches = -(-schemas_to_migrate // BATCH_SIZE)
    workers = max(1, min(cores, int(free * AUTO_PARALLEL_CONNECTION_SHARE), batches))
    return Parallelism(workers, cores, free, f"auto: {cores} usable core(s), {free} free connection(s)")


def fleet_migrate(
    *,
    schemas: Sequence[tuple[str, str | None]],
    parallel: int = 1,
    continue_on_error: bool = False,
    canary: Sequence[str] = (),
    retries: int = DEFAULT_RETRIES,
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS,
    progress: Callable[[SchemaResult], None] | None = None,
    on_retry: RetryCallback | None = None,
) -> FleetReport:
    """Migrate every (schema, tenant slug or None) in `schemas` to the latest migrations.

    - parallel: number of worker processes (1 = in this process); each opens its own connections.
    - continue_on_error: record a failing schema and go on; otherwise stop at the first failure and
      report the rest as `not_run`.
    - canary: schema names migrated first (in this process); if any fails, nothing else runs.
    - retries: extra attempts per schema after a transient error, waiting 0.5 s, 1 s, 2 s, ...
    - lock_timeout_ms: PostgreSQL `lock_timeout` while migrating, so a blocked schema fails (and is
      retried) instead of hanging the fleet.
    - progress: called with each schema's result as it finishes.
    - on_retry: called with (schema, Retry) before each backoff, in this process; without it, and always
      in worker processes (parallel > 1), each retry is logged as a warning on this module's logger.
      Either way every result carries its retries (SchemaResult.retries).

    Returns a FleetReport; raises nothing for a failing schema (see FleetReport.failed).
    """
    plan = plan_fleet(schemas)
    results: dict[str, SchemaResult] = {
        p.schema: SchemaResult(p.schema, "up_to_date" if p.up_to_date else "not_run") for p in plan.schemas
    }
    loader = MigrationLoader(None, ignore_no_migrations=True)
    groups: list[Group] = []
    announced: set[Migration] = set()
    for pending_plan, group_schemas in plan.groups(consistent_only=True):
        # pre_migrate handlers run with the connection in a schema of the group.
        connection.set_schema(group_schemas[0])  # type: ignore[attr-defined]
        groups.append(prepare_group(loader, group_schemas, pending_plan, announced))
    stock_schemas = plan.stock_planned()
    if stock_schemas:
        groups.append(Group(stock_schemas, [], None, None, emit_post_migrate=False, stock=True))
    group_of = {schema: index for index, group in enumerate(groups) for schema in group.schemas}

    def finish(result: SchemaResult) -> None:
        results[result.schema] = result
        if progress is not None:
            progress(result)

    for schema_plan in plan.schemas:
        if schema_plan.inconsistent is not None:
            finish(SchemaResult(schema_plan.schema, "failed", error=schema_plan.inconsistent, attempts=0))
    canary_set = [schema for schema in canary if schema in group_of]
    rest = [p.schema for p in plan.pending if p.schema not in canary_set and p.inconsistent is None]
    inconsistent = {p.schema for p in plan.schemas if p.inconsistent is not None}
    canary_failed = bool(inconsistent & set(canary))
    if inconsistent and not continue_on_error:
        canary_set, rest = [], []  # a broken history stops the run before any schema is touched
    try:
        for schema in canary_set:
            group = groups[group_of[schema]]
            result = _attempt_schema(group, schema, retries=retries, lock_timeout_ms=lock_timeout_ms, on_retry=on_retry)
            finish(result)
            canary_failed = canary_failed or result.status == "failed"
        if not canary_failed:
            if parallel > 1 and len(rest) > 1:
                _run_parallel(groups, group_of, rest, parallel, continue_on_error, retries, lock_timeout_ms, finish)
            else:
                for schema in rest:
                    group = groups[group_of[schema]]
                    result = _attempt_schema(
                        group, schema, retries=retries, lock_timeout_ms=lock_timeout_ms, on_retry=on_retry
                    )
                    finish(result)
                    if result.status == "failed" and not continue_on_error:
                        break
    finally:
        _reset_lock_timeout()
        connection.set_schema_to_public()  # type: ignore[attr-defined]
    ordered = [results[p.schema] for p in plan.schemas]
    return FleetReport(results=ordered, plan=plan, canary_failed=canary_failed)


def _run_parallel(
    groups: list[Group],
    group_of: dict[str, int],
    schemas: list[str],
    parallel: int,
    continue_on_error: bool,
    retries: int,
    lock_timeout_ms: int,
    finish: Callable[[SchemaResult], None],
) -> None:
    if connection.in_atomic_block:
        raise RuntimeError("--parallel needs its own connections: it cannot run inside a transaction")
    _GROUPS.clear()
    _GROUPS.update(enumerate(groups))
    batches: list[tuple[int, list[str]]] = []
    for index in range(len(groups)):
        members = [schema for schema in schemas if group_of[schema] == index]
        # Small groups are spread over every worker; large ones go in batches of BATCH_SIZE.
        size = max(1, min(BATCH_SIZE, -(-len(members) // parallel)))
        batches.extend((index, members[i : i + size]) for i in range(0, len(members), size))
    # Forked workers inherit the prepared groups; they must not share the parent's connection.
    connections.close_all()
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(max_workers=min(parallel, len(batches)), mp_context=context)
    try:
        futures = [pool.submit(_run_batch, index, batch, retries, lock_timeout_ms) for index, batch in batches]
        for future in as_completed(futures):
            if future.cancelled():
                continue
            # Batches already running when a failure stops the run still report what they did.
            for result in future.result():
                finish(result)
                if result.status == "failed" and not continue_on_error:
                    for other in futures:
                        other.cancel()
    except BaseException:
        # Ctrl-C (or any error here): batches not started yet never start; a running batch ends with
        # its current migration rolled back, as the interrupt reaches the workers too.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        _GROUPS.clear()
