"""Schemas for new tenants: the spare-schema pool, building a schema, and provisioning locks.

Creating a tenant schema by running every migration takes hundreds of milliseconds for a small
project and tens of seconds for a large one (reported by django-tenants users). The pool keeps
`settings.TENANCY_SPARE_SCHEMAS` schemas named `spare_<hex>`, already migrated; provisioning
claims one with `SELECT ... FOR UPDATE SKIP LOCKED` (concurrent claims never wait for each
other) and renames it to `tenant_<slug>` inside the transaction that creates the tenant row,
all in one statement (lifecycle.services._provision_fast). A spare is claimed only when its own `django_migrations`
records every migration on disk: after a deploy adds migrations, spares are stale until
`migrate_schemas` (which migrates them after the tenants) brings them up to date, and
provisioning falls back to migrations meanwhile.

Refilling happens after the claiming transaction commits, outside the request:
settings.TENANCY_SPARE_REFILL is "celery" (a task), "thread" (a background thread in this
process; the process waits for it before exiting) or "off" (refilled by `migrate_schemas`).

Provisioning locks are PostgreSQL advisory locks keyed by schema name: provisioning holds one
while it works on a schema, so `tenants_doctor` can tell a provisioning tenant whose process died
(lock free) from one still being built (lock held). The one-statement pool path takes it for its
transaction (pg_advisory_xact_lock, same keys); the other paths hold the session lock below.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.db import connection, transaction
from django.dispatch import Signal
from django_tenants.utils import get_public_schema_name, schema_context

from ..fleet.executor import fleet_migrate
from ..fleet.plan import is_current, read_applied
from ..fleet.state import state_watch
from ..tenancy.models import SpareSchema
from .schema_script import schema_script_current, schema_script_ensure, schema_script_replay

logger = logging.getLogger(__name__)

SPARE_PREFIX = "spare_"
TENANT_PREFIX = "tenant_"
# First key of every advisory lock taken here (the second is hashtext(schema name), or 0 for the
# pool refill); other code using two-key advisory locks must pick another first key.
LOCK_NAMESPACE = 0x7E4A
REFILL_LOCK_KEY = 0

# Sent on entering each step of provisioning (lifecycle.services.tenant_create), with keyword
# arguments step (one of PROVISIONING_STEPS), slug and schema_name. For logging and for fault
# injection in tests: a receiver that kills the process shows what a crash at that step leaves.
provisioning_step = Signal()
PROVISIONING_STEPS = (
    # On entering provisioning, before anything is written. From the pool, one statement
    # (lifecycle_tenant_provision, lifecycle migrations 0001 and 0002) then claims a current spare, renames it
    # spare_<hex> -> tenant_<slug> and inserts the tenant (active), domain, subscription, owner
    # membership and audit events: no step boundary lies inside it.
    "claim_spare",
    "commit",  # all written, the transaction not committed yet (both paths)
    # Without a current spare: the tenant row (status provisioning), domain and owner membership are
    # committed first, then the schema is built by migrations and the tenant activated.
    "reserve",
    "grant_owner",  # also on the pool's ORM path, taken only when something is unusual (services.py)
    "build_schema",
    "activate",
)


def step(name: str, *, slug: str, schema_name: str) -> None:
    """Announce provisioning step `name` (one of PROVISIONING_STEPS) through `provisioning_step`."""
    logger.debug("provisioning %s: %s", schema_name, name)
    provisioning_step.send(sender=None, step=name, slug=slug, schema_name=schema_name)


@contextlib.contextmanager
def provisioning_lock(schema_name: str) -> Iterator[None]:
    """Hold the session advisory lock for `schema_name` while the block runs (waits for it).

    Session-level, so it outlives the transactions inside the block and is released when the
    block ends or the connection closes (a killed process releases it at once).
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, schema_name])
    try:
        yield
    finally:
        if connection.connection is not None and not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [LOCK_NAMESPACE, schema_name])


@contextlib.contextmanager
def provisioning_lock_try(schema_name: str) -> Iterator[bool]:
    """Take the advisory lock for `schema_name` without waiting; yield True when taken (released
    afterwards), False when another session holds it (someone is provisioning that schema)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, schema_name])
        taken = bool(cursor.fetchone()[0])
    try:
        yield taken
    finally:
        if taken and connection.connection is not None and not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [LOCK_NAMESPACE, schema_name])


def schema_build(schema_name: str, *, verbosity: int = 0) -> None:
    """CREATE SCHEMA `schema_name` as every migration on disk builds it, in the caller's transaction: from the
    checked schema script of the current migrations when one is stored (lifecycle/schema_script.py, one
    statement), else by applying every migration.

    Raises RuntimeError naming the schema and the failing migration when a migration fails; the
    caller's transaction then rolls back the schema too.
    """
    script = schema_script_current()
    if script is not None:
        schema_script_replay(script, schema_name)
        # The script's rows precede its trigger (pg_dump): the summary of fleet/state.py is computed here.
        state_watch([schema_name], lock_timeout_ms=None)
        if verbosity:
            logger.info("built schema %s from the schema script", schema_name)
        return
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {connection.ops.quote_name(schema_name)}")
    report = fleet_migrate(schemas=[(schema_name, None)], retries=0)
    if not report.ok:
        errors = "; ".join(f"{result.schema}: {result.error}" for result in report.results if result.error)
        raise RuntimeError(f"migrating new schema {schema_name!r} failed: {errors or 'not run'}")
    if verbosity:
        logger.info("built schema %s by migrations", schema_name)


def spare_create(*, verbosity: int = 0) -> str:
    """Build one spare schema `spare_<12 hex>` by migrations and register it; return its name.

    One transaction: a failure or a killed process leaves neither schema nor row.
    """
    schema_name = f"{SPARE_PREFIX}{secrets.token_hex(6)}"
    with schema_context(get_public_schema_name()), transaction.atomic():
        schema_build(schema_name, verbosity=verbosity)
        SpareSchema.objects.create(schema_name=schema_name)
    return schema_name


def spare_claim(*, slug: str) -> str | None:
    """Lock one current spare schema for this transaction, unregister it and return its name; None when
    the pool has no current spare. Must run inside a transaction (the lock and the row deletion end
    with it, so a rollback returns the spare to the pool). Stale spares are skipped, never claimed.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("spare_claim() must run inside transaction.atomic()")
    skipped: list[int] = []
    spares = connection.ops.quote_name(SpareSchema._meta.db_table)
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT id, schema_name FROM {spares} WHERE NOT (id = ANY(%s)) "  # noqa: S608 - our table name
                "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                [skipped],
            )
            row = cursor.fetchone()
            if row is None:
                return None
            spare_id, schema_name = row
            # Spares are built by migrations; one without django_migrations (or without its schema: damage that
            # tenants_doctor reports) is skipped like a stale one.
            table = f"{connection.ops.quote_name(schema_name)}.django_migrations"
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
            exists = cursor.fetchone()[0]
            if exists:
                cursor.execute(f"SELECT app, name FROM {table}")  # noqa: S608 - a quoted schema name
            if exists and is_current(cursor.fetchall()):
                cursor.execute(f"DELETE FROM {spares} WHERE id = %s", [spare_id])  # noqa: S608 - our table name
                return str(schema_name)
            logger.warning(
                "spare schema %s is not up to date; run migrate_schemas (not claimed for %s)", schema_name, slug
            )
            skipped.append(spare_id)


def schema_rename(old: str, new: str) -> None:
    """ALTER SCHEMA `old` RENAME TO `new` (names validated by the caller)."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SCHEMA {quote(old)} RENAME TO {quote(new)}")


@dataclass(frozen=True)
class SpareInfo:
    """A registered spare schema: name, creation time, whether its migrations are current, and whether
    the schema exists at all (a registered name without a schema is damage for tenants_doctor)."""

    schema_name: str
    created: dt.datetime
    current: bool
    exists: bool


def spare_list() -> list[SpareInfo]:
    """Every registered spare schema with its migration state, in claim order."""
    with schema_context(get_public_schema_name()):
        spares = list(SpareSchema.objects.order_by("id"))
        names = [spare.schema_name for spare in spares]
        applied, _ = read_applied(names)
        with connection.cursor() as cursor:
            cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [names])
            existing = {row[0] for row in cursor.fetchall()}
    return [
        SpareInfo(
            schema_name=spare.schema_name,
            created=spare.created,
            current=spare.schema_name in existing and is_current(applied[spare.schema_name]),
            exists=spare.schema_name in existing,
        )
        for spare in spares
    ]


def spare_pool_fill(*, target: int | None = None, verbosity: int = 0) -> int:
    """Create spare schemas until `target` (default settings.TENANCY_SPARE_SCHEMAS) are registered;
    return how many were created. Stale spares count towards the target (migrate_schemas brings them
    up to date). Then captures the schema script of the current migrations when none is stored
    (schema_script_ensure; a failure is logged, never raised). When another process is already filling
    the pool, returns 0 at once.
    """
    target = settings.TENANCY_SPARE_SCHEMAS if target is None else target
    if target <= 0:
        return 0
    created = 0
    with schema_context(get_public_schema_name()):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, REFILL_LOCK_KEY])
            if not cursor.fetchone()[0]:
                return 0
        try:
            while SpareSchema.objects.count() < target:
                name = spare_create(verbosity=verbosity)
                created += 1
                logger.info("spare schema %s created", name)
            try:
                schema_script_ensure()
            except Exception:
                logger.exception("capturing the schema script failed; new schemas are built by migrations")
        finally:
            if connection.connection is not None and not connection.needs_rollback:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, REFILL_LOCK_KEY])
    return created


def pool_refill_schedule() -> None:
    """Refill the pool after the current transaction commits, outside the caller (see module doc).

    settings.TENANCY_SPARE_REFILL: "celery" sends tenancy.spare_pool_refill (to run in
    REFILL_DELAY_SECONDS), "thread" starts a background thread that refills after that delay, "off"
    does nothing. The delay keeps the refill from competing with the new tenant's first requests.
    Sending happens in a thread of its own, so a request never waits for the broker. Never raises:
    a failed refill is logged, and provisioning falls back to migrations while the pool is empty.
    """
    mode = getattr(settings, "TENANCY_SPARE_REFILL", "thread")
    if mode == "off" or settings.TENANCY_SPARE_SCHEMAS <= 0:
        return
    transaction.on_commit(lambda: _dispatch_refill(mode))


# Seconds between a claim and the refill it schedules.
REFILL_DELAY_SECONDS = 2.0


def _dispatch_refill(mode: str) -> None:
    # Not daemon threads: a command that provisions a tenant exits once the refill is sent or done.
    if mode == "celery":
        threading.Thread(target=_send_refill_task, name="spare-pool-refill").start()
    else:
        timer = threading.Timer(REFILL_DELAY_SECONDS, _refill_in_thread)
        timer.name = "spare-pool-refill"
        timer.start()


def _send_refill_task() -> None:
    try:
        # tasks.py exists only in projects baked with Celery.
        import_module(f"{__package__}.tasks").spare_pool_refill.apply_async(countdown=REFILL_DELAY_SECONDS)
    except Exception:
        logger.exception("could not send the spare-schema pool refill task")


def _refill_in_thread() -> None:
    try:
        spare_pool_fill()
    except Exception:
        logger.exception("refilling the spare-schema pool failed")
    finally:
        connection.close()
