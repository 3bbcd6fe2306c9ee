"""Finding and repairing what crashes, deploys and hand-made changes leave in the fleet (`tenants_doctor`).

`fleet_diagnose()` reads the whole fleet in a bounded number of queries (one REPEATABLE READ
snapshot when called outside a transaction, rolled back afterwards, so it changes nothing) and
returns Findings of these kinds, in report order:

- `stale_provisioning`: a tenant in `provisioning` whose provisioning lock is free, so the process
  that created it died (lifecycle/services.py); with or without a schema. Fix: complete it
  (`tenant_provision_complete`).
- `provisioning_in_progress`: a tenant in `provisioning` whose lock is held: another session is
  building it right now. A note, never touched.
- `tenant_without_schema`: an active, suspended or archived tenant whose schema is gone. Its data is
  gone too, so it is never fixed automatically (restore a backup, or drop the tenant).
- `orphan_schema`: a schema named `tenant_*` or `spare_*` with no tenant row and no pool
  registration, or a `restore_staging_*` schema a killed `restore_tenant` left. Fix: a `spare_*` or
  `restore_staging_*` schema is dropped (a running restore holds its lock, so it is skipped); a
  `tenant_*` schema may hold data, so it is dropped only after `lifecycle.backup.schema_backup` wrote a
  backup of it.
- `foreign_schema`: any other schema that is neither public, PostgreSQL's own nor a tenant's: it
  belongs to an extension or another application. A note; never dropped.
- `spare_without_schema`: a registered spare schema that does not exist. Fix: unregister it.
- `stale_spare`: a spare schema with migrations pending (it is never claimed meanwhile). Fix: migrate it.
- `pending_migrations`: a tenant schema (or the public schema) with migrations pending, or with a
  squashed migration not recorded although all it replaces is. Fix: migrate it with the project's
  executor (which hands a schema holding part of a squashed migration to Django's own executor),
  unless its history is inconsistent.
- `recorded_not_applied` and `schema_drift`: the full catalog of every up-to-date schema (tables, columns
  with type, default, nullability, identity and collation, indexes, constraints, sequences, triggers,
  views) compared with a reference of its kind (public or tenant) built from the migration files by
  django-tenants' stock migration path in a savepoint that is rolled back (fleet.verification).
  Objects the reference has and the schema lacks mean its django_migrations records migrations that
  were never applied there: `recorded_not_applied`, listing the missing objects. Only extra or changed
  objects: `schema_drift`. Schemas with pending migrations are left out (reported above). Never fixed
  automatically, and never by faking a migration.

`fleet_repair(findings)` fixes what it may, each fix in its own transaction, after re-checking the
state under the schema's provisioning lock (taken without waiting: a schema someone is working on
is skipped), because the diagnosis may be stale by then. Every schema it drops goes through
`schema_drop`, which refuses any name without the `tenant_`, `spare_` or `restore_staging_` prefix: other schemas
belong to extensions and other applications.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django_tenants.signals import schema_migrated
from django_tenants.utils import get_public_schema_name, quote_schema_name, schema_context

from ..errors import Conflict, NotFound
from ..fleet.executor import fleet_migrate
from ..fleet.plan import SchemaPlan, is_current, plan_fleet, read_applied, select_schemas
from ..fleet.verification import Difference, fleet_verify, reference_catalogs
from ..tenancy.models import SpareSchema, Tenant
from .backup import STAGING_PREFIX, schema_backup
from .provisioning import SPARE_PREFIX, TENANT_PREFIX, provisioning_lock_try
from .services import tenant_provision_complete

# kind: (title in reports, whether it is a problem; notes do not change the exit code)
KINDS: dict[str, tuple[str, bool]] = {
    "stale_provisioning": ("Stale provisioning tenants (their process died)", True),
    "provisioning_in_progress": ("Provisioning in progress (left alone)", False),
    "tenant_without_schema": ("Tenants without a schema", True),
    "orphan_schema": ("Schemas without a tenant (tenant_/spare_ prefix)", True),
    "foreign_schema": ("Other schemas without a tenant (never dropped)", False),
    "spare_without_schema": ("Registered spare schemas that do not exist", True),
    "stale_spare": ("Spare schemas with pending migrations", True),
    "pending_migrations": ("Schemas with pending migrations", True),
    "recorded_not_applied": ("Recorded migrations whose tables, columns, indexes or constraints are missing", True),
    "schema_drift": ("Schema drift from the stock-built reference", True),
}
DROPPABLE_PREFIXES = (TENANT_PREFIX, SPARE_PREFIX, STAGING_PREFIX)
# Names the doctor may drop: a droppable prefix, then what tenant and spare schema names are made of.
_DROPPABLE_RE = re.compile(r"^(?:tenant|spare|restore_staging)_[a-z0-9_]{1,56}$")


@dataclass(frozen=True)
class Finding:
    """One thing wrong (or worth noting) in the fleet.

    kind: a key of KINDS; schema / tenant: the schema name and tenant slug concerned (None when
    there is none); detail: one line for people; problem: False for notes, which do not make
    `tenants_doctor` fail; fixable: whether `fleet_repair` acts on it; hint: what an operator can do
    when it is not fixable; data: structured details for JSON output (pending migrations, drift).
    """

    kind: str
    detail: str
    schema: str | None = None
    tenant: str | None = None
    problem: bool = True
    fixable: bool = False
    hint: str = ""
    data: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "schema": self.schema,
            "tenant": self.tenant,
            "detail": self.detail,
            "problem": self.problem,
            "fixable": self.fixable,
            "hint": self.hint,
            **({"data": self.data} if self.data else {}),
        }


@dataclass(frozen=True)
class Repair:
    """What `fleet_repair` did about one finding.

    outcome: `fixed`; `skipped` (the state changed since the diagnosis, or another session holds the
    schema's provisioning lock: nothing done); `refused` (a safety rule forbids acting, e.g. no backup
    of an orphan tenant schema); `failed` (an error; its transaction was rolled back).
    """

    finding: Finding
    outcome: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"finding": self.finding.as_dict(), "outcome": self.outcome, "message": self.message}


class DropRefused(Conflict):
    """`schema_drop` was asked to drop a schema the project does not own."""


def schema_droppable(schema_name: str) -> bool:
    """True when `schema_name` is one the doctor may drop: `tenant_`, `spare_` or `restore_staging_` followed by
    lowercase letters, digits and underscores (what tenancy names its schemas). Every other schema (public,
    pg_*, extensions' and other applications' schemas) is never dropped."""
    return bool(_DROPPABLE_RE.match(schema_name)) and schema_name.startswith(DROPPABLE_PREFIXES)


def schema_drop(schema_name: str) -> None:
    """DROP SCHEMA `schema_name` CASCADE (when it exists), in the caller's transaction.

    The one place the doctor drops schemas. Raises DropRefused, dropping nothing, unless
    `schema_droppable(schema_name)`.
    """
    if not schema_droppable(schema_name):
        raise DropRefused(
            f"refusing to drop schema {schema_name!r}: only tenant_<name>, spare_<name> and restore_staging_<name> "
            "schemas (lowercase letters, digits, underscores) are dropped; other schemas belong to extensions or "
            "other applications"
        )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote_schema_name(schema_name)} CASCADE")


# --- diagnosis -------------------------------------------------------------------------------


@contextlib.contextmanager
def _snapshot() -> Iterator[None]:
    """A transaction that is always rolled back: REPEATABLE READ (one consistent view of catalogs and
    rows) when it is the outermost one, else a savepoint in the caller's transaction."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        try:
            yield
        finally:
            transaction.set_rollback(True)


def _namespaces() -> dict[str, list[str]]:
    """Every schema name with the extensions installed in it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname, coalesce(array_agg(e.extname ORDER BY e.extname) FILTER (WHERE e.extname IS NOT NULL), "
            "'{}') FROM pg_namespace n LEFT JOIN pg_extension e ON e.extnamespace = n.oid GROUP BY n.nspname"
        )
        return {name: list(extensions) for name, extensions in cursor.fetchall()}


def _names(migrations: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{app}.{name}" for app, name in migrations]


def fleet_diagnose() -> list[Finding]:
    """Examine the whole fleet and return its Findings, in KINDS order (see the module docstring).

    Changes nothing: everything runs in a transaction that is rolled back (a drift reference built by
    migrations included). Queries: a fixed number for catalogs, rows and the migration state
    (fleet.plan.plan_fleet), one provisioning-lock probe per tenant in `provisioning`, and one
    columns query per 1,000 schemas compared for drift.
    """
    public = get_public_schema_name()
    with schema_context(public), _snapshot():
        namespaces = _namespaces()
        tenants = list(Tenant.objects.exclude(schema_name=public).values_list("slug", "schema_name", "status"))
        spares = list(SpareSchema.objects.order_by("id").values_list("schema_name", flat=True))
        plans = {plan.schema: plan for plan in plan_fleet(select_schemas()).schemas}
        findings: list[Finding] = []
        skip: set[str] = set()  # schemas that another check covers, or that are being built right now
        findings.extend(_check_tenants(tenants, namespaces, plans, skip))
        findings.extend(_check_unowned(namespaces, {schema for _, schema, _ in tenants} | set(spares) | {public}))
        findings.extend(_check_spares(spares, namespaces))
        findings.extend(_check_pending(plans, namespaces, set(spares), skip))

        def current(schema: str) -> bool:
            return schema in namespaces and schema in plans and plans[schema].up_to_date

        candidates: list[tuple[str, str | None]] = [(public, None)] if current(public) else []
        candidates += [(schema, slug) for slug, schema, _ in tenants if schema not in skip and current(schema)]
        candidates += [(name, None) for name in spares if current(name)]
        findings.extend(_check_drift(candidates))
    order = list(KINDS)
    return sorted(findings, key=lambda finding: order.index(finding.kind))


def _check_tenants(
    tenants: list[tuple[str, str, str]], namespaces: dict[str, list[str]], plans: dict[str, SchemaPlan], skip: set[str]
) -> list[Finding]:
    findings = []
    for slug, schema, status in tenants:
        exists = schema in namespaces
        if status == Tenant.Status.PROVISIONING:
            skip.add(schema)  # completing it migrates its schema; drift is measured once it is active
            with provisioning_lock_try(schema) as free:
                pass
            if not free:
                state = "exists" if exists else "not created yet"
                detail = f"another session is provisioning it (lock held); schema {state}"
                findings.append(Finding("provisioning_in_progress", detail, schema, slug, problem=False))
                continue
            pending = len(plans[schema].pending) if schema in plans else "?"
            state = f"schema exists, {pending} migration(s) pending" if exists else "has no schema"
            detail = f"left in provisioning by a process that died; {state}"
            hint = "--fix completes it (a spare schema, else migrations) and activates it"
            findings.append(Finding("stale_provisioning", detail, schema, slug, fixable=True, hint=hint))
        elif not exists:
            detail = f"tenant is {status} but schema {schema} does not exist (its data is gone)"
            hint = (
                "restore a backup (manage.py restore_tenant --input <file> --slug <new> --domain <host>) "
                f"or remove the tenant (manage.py drop_schema --tenant {slug})"
            )
            findings.append(Finding("tenant_without_schema", detail, schema, slug, hint=hint))
    return findings


def _check_unowned(namespaces: dict[str, list[str]], owned: set[str]) -> list[Finding]:
    findings = []
    for name in sorted(namespaces):
        if name in owned or name == "information_schema" or name.startswith("pg_"):
            continue
        if name.startswith(DROPPABLE_PREFIXES):
            is_tenant = name.startswith(TENANT_PREFIX)
            detail = "no tenant row" if is_tenant else "not registered in the spare pool"
            if name.startswith(STAGING_PREFIX):
                detail = "left by a restore_tenant that was killed (the backup file still holds its data)"
            if not schema_droppable(name):
                hint = "its name has characters tenancy never uses: inspect it and drop it by hand"
            else:
                hint = "--fix backs it up, then drops it" if is_tenant else "--fix drops it"
            findings.append(Finding("orphan_schema", detail, name, fixable=schema_droppable(name), hint=hint))
        else:
            extensions = namespaces[name]
            owner = f"holds extension(s) {', '.join(extensions)}" if extensions else "not created by tenancy"
            findings.append(Finding("foreign_schema", f"{owner}; never dropped", name, problem=False))
    return findings


def _check_spares(spares: list[str], namespaces: dict[str, list[str]]) -> list[Finding]:
    return [
        Finding(
            "spare_without_schema",
            "registered in the spare pool, but the schema does not exist",
            name,
            fixable=True,
            hint="--fix unregisters it; the pool refill replaces it",
        )
        for name in spares
        if name not in namespaces
    ]


def _check_pending(
    plans: dict[str, SchemaPlan], namespaces: dict[str, list[str]], spares: set[str], skip: set[str]
) -> list[Finding]:
    findings = []
    for plan in plans.values():
        if plan.up_to_date or plan.schema not in namespaces or plan.schema in skip:
            continue
        fixable = plan.inconsistent is None
        if plan.inconsistent is not None:
            detail, hint = plan.inconsistent, "repair its django_migrations rows by hand, then migrate_schemas"
        elif plan.needs_stock_planning:
            detail = "holds part of a squashed migration"
            hint = "--fix migrates it through Django's own executor (as migrate_schemas does)"
        elif not plan.pending:
            names = _names(plan.unrecorded_replacements)
            detail = f"squashed migration(s) {', '.join(names)} not recorded, although all they replace is"
            hint = "--fix records them, as Django's migrate does"
        else:
            names = _names(plan.pending)
            detail = f"{len(names)} pending: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}"
            hint = "--fix applies them"
        kind = "stale_spare" if plan.schema in spares else "pending_migrations"
        data = {"pending": _names(plan.pending)}
        findings.append(Finding(kind, detail, plan.schema, plan.tenant, fixable=fixable, hint=hint, data=data))
    return findings


def _check_drift(candidates: list[tuple[str, str | None]]) -> list[Finding]:
    """Compare every candidate schema's catalog with the reference of its kind, built from the migration
    files by django-tenants' stock path in a savepoint that is rolled back (fleet.verification)."""
    if not candidates:
        return []
    slugs = dict(candidates)
    drift = fleet_verify([schema for schema, _ in candidates], references=reference_catalogs())
    return [_drift_finding(schema, slugs[schema], differences) for schema, differences in drift.items()]


def _drift_finding(schema: str, slug: str | None, differences: list[Difference]) -> Finding:
    data: dict[str, list[str]] = {}
    for difference in differences:
        shown = difference.expected if difference.change == "missing" else difference.found
        if difference.change == "changed":
            shown = f"{difference.expected} -> {difference.found}"
        data.setdefault(difference.change, []).append(f"{difference.object}: {shown}")
    summary = "; ".join(
        f"{change}: {', '.join(item.partition(':')[0] for item in items)}" for change, items in data.items()
    )
    if "missing" in data:
        hint = (
            "its django_migrations records migrations whose objects are missing: find the migration that creates them, "
            f"mark it unapplied (manage.py migrate_schemas --schema {schema} <app> <previous migration> --fake) and "
            f"migrate again (manage.py migrate_schemas --schema {schema}); never fixed automatically"
        )
        return Finding("recorded_not_applied", summary, schema, slug, data=data, hint=hint)
    hint = "correct it with a migration (compare with `migrate_schemas --verify`); never fixed automatically"
    return Finding("schema_drift", summary, schema, slug, data=data, hint=hint)


def schema_drift(schema_name: str) -> dict[str, list[str]]:
    """How the catalog of tenant schema `schema_name` differs from what the migration files build by the stock
    path: {"missing" | "extra" | "changed": ["<object>: <definition>", ...]}, empty when they match.
    Used by adoption."""
    findings = _check_drift([(schema_name, None)])
    return findings[0].data if findings else {}


# --- repair ----------------------------------------------------------------------------------

Outcome = tuple[str, str]  # (outcome, message)


def fleet_repair(findings: Iterable[Finding]) -> list[Repair]:
    """Fix every fixable finding (see the module docstring); return one Repair per fixable finding.

    Order: the spare pool first, then tenants (stale provisioning, pending migrations), then orphan
    schemas. Each fix re-checks under the schema's provisioning lock (not waiting for it) and acts in
    its own transaction; an error is reported as `failed` and the rest continue. Raises nothing for a
    failed fix. Orphan `tenant_*` schemas are dropped only after `lifecycle.backup.schema_backup` wrote a
    backup into settings.TENANCY_BACKUP_DIR; without it they are `refused`.
    """
    fixers: dict[str, Callable[[Finding], Outcome]] = {
        "spare_without_schema": _fix_spare_without_schema,
        "stale_spare": _fix_stale_spare,
        "stale_provisioning": _fix_stale_provisioning,
        "pending_migrations": _fix_pending,
        "orphan_schema": _fix_orphan,
    }
    order = list(fixers)
    repairs = []
    for finding in sorted((f for f in findings if f.fixable), key=lambda f: order.index(f.kind)):
        try:
            with schema_context(get_public_schema_name()):
                outcome, message = fixers[finding.kind](finding)
        except Exception as exc:
            outcome, message = "failed", f"{type(exc).__name__}: {str(exc).strip()}"
        repairs.append(Repair(finding, outcome, message))
    return repairs


LOCK_HELD = "another session holds its provisioning lock right now; left alone"


def _schema_exists(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)", [schema])
        return bool(cursor.fetchone()[0])


def _fix_stale_provisioning(finding: Finding) -> Outcome:
    assert finding.tenant is not None
    try:
        tenant = tenant_provision_complete(slug=finding.tenant)
    except NotFound:
        return "skipped", f"tenant {finding.tenant!r} no longer exists"
    except Conflict as exc:  # provisioning right now, or no longer provisioning
        return "skipped", str(exc)
    return "fixed", f"completed: tenant {tenant.slug!r} is active with schema {tenant.schema_name}"


def _fix_spare_without_schema(finding: Finding) -> Outcome:
    schema = str(finding.schema)
    with provisioning_lock_try(schema) as free:
        if not free:
            return "skipped", LOCK_HELD
        with transaction.atomic():
            spare = SpareSchema.objects.select_for_update(skip_locked=True).filter(schema_name=schema).first()
            if spare is None:
                return "skipped", "no longer registered, or being claimed right now"
            if _schema_exists(schema):
                return "skipped", "the schema exists now"
            spare.delete()
    return "fixed", "unregistered from the spare pool"


def _fix_stale_spare(finding: Finding) -> Outcome:
    schema = str(finding.schema)
    with provisioning_lock_try(schema) as free:
        if not free:
            return "skipped", LOCK_HELD
        # One transaction holding the pool row: the spare becomes claimable only once fully migrated.
        with transaction.atomic():
            spare = SpareSchema.objects.select_for_update(skip_locked=True).filter(schema_name=schema).first()
            if spare is None:
                return "skipped", "no longer registered, or being claimed right now"
            if not _schema_exists(schema):
                return "skipped", "the schema does not exist any more"
            if is_current(read_applied([schema])[0][schema]):
                return "skipped", "already up to date"
            result = fleet_migrate(schemas=[(schema, None)], retries=0).results[0]
            if result.status == "failed":
                raise RuntimeError(f"migrating spare schema {schema} failed: {result.error}")
    schema_migrated.send(sender=fleet_migrate, schema_name=schema)
    return "fixed", f"migrated: {', '.join(result.applied) or 'nothing left to apply'}"


def _fix_pending(finding: Finding) -> Outcome:
    schema, slug = str(finding.schema), finding.tenant
    public = get_public_schema_name()
    with provisioning_lock_try(schema) as free:
        if not free:
            return "skipped", LOCK_HELD
        if schema != public:
            tenant = Tenant.objects.filter(schema_name=schema).first()
            if tenant is None:
                return "skipped", "the tenant no longer exists"
            if tenant.status == Tenant.Status.PROVISIONING:
                return "skipped", "the tenant is provisioning; completing it migrates its schema"
            if not _schema_exists(schema):
                return "skipped", "the schema does not exist any more"
        # Each migration in its own transaction, as migrate_schemas applies them.
        result = fleet_migrate(schemas=[(schema, slug)]).results[0]
    if result.status == "failed":
        return "failed", f"{result.error} (applied before the failure: {', '.join(result.applied) or 'none'})"
    if result.status == "up_to_date":
        return "skipped", "nothing pending any more"
    schema_migrated.send(sender=fleet_migrate, schema_name=schema)
    return "fixed", f"migrated: {', '.join(result.applied)}"


def _orphan_now(schema: str) -> str | None:
    """Why `schema` is no longer an orphan (None when it still is one)."""
    if not _schema_exists(schema):
        return "the schema does not exist any more"
    if Tenant.objects.filter(schema_name=schema).exists():
        return "a tenant uses it now"
    if SpareSchema.objects.filter(schema_name=schema).exists():
        return "it is registered in the spare pool now"
    return None


def backup_path(schema_name: str) -> Path:
    """Where the doctor backs up orphan schema `schema_name` before dropping it:
    `<settings.TENANCY_BACKUP_DIR>/<schema>-doctor-<UTC YYYYmmddTHHMMSS + microseconds>Z.dump`."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return Path(settings.TENANCY_BACKUP_DIR) / f"{schema_name}-doctor-{stamp}.dump"


def _fix_orphan(finding: Finding) -> Outcome:
    schema = str(finding.schema)
    if not schema_droppable(schema):
        return "refused", f"schema {schema!r} is not a tenant_/spare_ schema; the doctor never drops it"
    with provisioning_lock_try(schema) as free:
        if not free:
            return "skipped", LOCK_HELD
        backup = None
        if schema.startswith(TENANT_PREFIX):
            reason = _orphan_now(schema)
            if reason:
                return "skipped", reason
            backup, refusal = _backup(schema)
            if refusal:
                return "refused", refusal
        with transaction.atomic():
            reason = _orphan_now(schema)
            if reason:
                return "skipped", reason + (f" (backup kept at {backup})" if backup else "")
            schema_drop(schema)
    return "fixed", f"backed up to {backup}, then dropped" if backup else "dropped"


def _backup(schema: str) -> tuple[Path | None, str | None]:
    """Back up `schema` with lifecycle.backup.schema_backup; return (file, None), or (None, why not)."""
    output = backup_path(schema)
    try:
        schema_backup(schema_name=schema, output=output)
    except Exception as exc:
        return None, f"not dropped: backing it up to {output} failed: {type(exc).__name__}: {str(exc).strip()}"
    if not output.is_file() or output.stat().st_size == 0:
        return None, f"not dropped: the backup {output} was not written"
    return output, None
