"""Tenant provisioning, lifecycle and removal.

Provisioning (`tenant_create`) claims a pre-migrated spare schema when the pool has one
(lifecycle/provisioning.py): the rename to `tenant_<slug>`, the tenant row, its domain, subscription,
owner membership and audit events commit in one transaction, so a failure or a killed process leaves
nothing. That transaction is one statement: the database function `lifecycle_tenant_provision`
(lifecycle migrations 0001 and 0002) does it all with rows built here from the models; it runs with a search
path of its own, so django-tenants' `SET search_path` is not sent before it. When anything is unusual
(a slug, schema or domain taken, no plan, no current spare) it writes nothing and the ORM path below
decides, raising the precise error.
Without a spare, the tenant row (status provisioning), domain and membership commit first,
then the schema is built (from the schema script, else by migrations: provisioning.schema_build) and
the tenant activated in a second transaction: a
crash in between leaves a tenant in `provisioning` (its host answers "setting up"), which
`tenants_doctor --fix` completes. A tenant is never active without a complete schema.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

from ..accounts.domain import Role, normalize_email
from ..accounts.models import Membership, User
from ..accounts.services import membership_grant, user_get_or_create
from ..audit.services import audit_event_build, audit_record
from ..billing.domain import SubscriptionStatus
from ..billing.models import Subscription
from ..billing.services import plan_get, subscription_start
from ..errors import Conflict, InvalidValue, NotFound
from ..fleet.executor import fleet_migrate
from ..fleet.plan import current_graph, is_current, read_applied
from ..tenancy.domain import (
    DomainTaken,
    InvalidSlug,
    TenantExists,
    check_domain_has_dot,
    check_domain_not_reserved,
    normalize_display_name,
    normalize_domain,
    schema_name_for,
    validate_slug,
)
from ..tenancy.media import tenant_media_retire
from ..tenancy.models import Domain, SpareSchema, Tenant
from ..tenancy.routing import tenants_changed
from .provisioning import (
    LOCK_NAMESPACE,
    pool_refill_schedule,
    provisioning_lock,
    provisioning_lock_try,
    schema_build,
    schema_rename,
    spare_claim,
    step,
)

logger = logging.getLogger(__name__)

NAME_MAX = 100


def validate_tenant_name(name: object) -> str:
    """Return `name` stripped; raise InvalidName (an InvalidValue) when it is empty, over 100 characters or
    holds control or invisible characters (tenancy.domain.normalize_display_name)."""
    return normalize_display_name(name, max_length=NAME_MAX)


def tenant_slug_validate(slug: object) -> str:
    """Validate `slug` against the slug rule and settings.TENANCY_RESERVED_SLUGS / _PREFIXES; raise InvalidSlug."""
    return validate_slug(
        slug,
        reserved=settings.TENANCY_RESERVED_SLUGS,
        reserved_prefixes=settings.TENANCY_RESERVED_SLUG_PREFIXES,
    )


def default_domain_for(slug: str) -> str:
    """Return `<slug>.<settings.TENANCY_BASE_DOMAIN>`, e.g. `acme.localhost` in development."""
    return f"{slug}.{settings.TENANCY_BASE_DOMAIN}"


@dataclass(frozen=True)
class TenantRequest:
    """Validated, normalised input of a provisioning: what `tenant_create` would create."""

    name: str
    slug: str
    schema_name: str
    domain: str
    owner_email: str | None
    plan: str | None = None  # the plan's code; None: the default plan (billing.services.default_plan)


def tenant_request_validate(
    *,
    name: object,
    slug: object,
    domain: object | None = None,
    owner_email: object | None = None,
    check_free: bool = True,
    plan: object | None = None,
) -> TenantRequest:
    """Validate and normalise provisioning input and, with `check_free`, check that slug, schema and domain
    are free (provisioning checks that again under its lock).

    Raises InvalidValue / InvalidSlug / InvalidDomain for malformed values (a domain without a dot too, unless
    it is the dotless base domain `localhost`), TenantExists when the slug or schema is taken, DomainTaken when
    the domain routes to another tenant, UnknownPlan when `plan` (a plan code) names no plan. Reads only.
    """
    name = validate_tenant_name(name)
    slug = tenant_slug_validate(slug)
    domain_name = check_domain_not_reserved(
        check_domain_has_dot(
            normalize_domain(domain if domain is not None else default_domain_for(slug)),
            base_domain=settings.TENANCY_BASE_DOMAIN,
        ),
        base_domain=settings.TENANCY_BASE_DOMAIN,
        reserved=settings.TENANCY_RESERVED_SLUGS,
        reserved_prefixes=settings.TENANCY_RESERVED_SLUG_PREFIXES,
    )
    email = None
    if owner_email is not None:
        email = normalize_email(owner_email)
    plan_code = None if plan is None else plan_get(plan).code
    request = TenantRequest(name, slug, schema_name_for(slug), domain_name, email, plan_code)
    if check_free:
        with schema_context(get_public_schema_name()):
            _ensure_free(slug=request.slug, schema_name=request.schema_name, domain_name=request.domain)
    return request


@dataclass(frozen=True)
class TenantPlan:
    """What `tenant_create` would do now (`create_tenant --dry-run`): the request, and the spare schema
    it would claim (None: the schema would be built by `migration_count` migrations)."""

    request: TenantRequest
    spare: str | None
    migration_count: int
    owner_exists: bool


def tenant_plan(
    *, name: object, slug: object, domain: object | None = None, owner_email: object | None = None
) -> TenantPlan:
    """Validate like `tenant_create` and report what it would create, changing nothing (no locks taken).

    Raises what `tenant_request_validate` raises.
    """
    request = tenant_request_validate(name=name, slug=slug, domain=domain, owner_email=owner_email)
    with schema_context(get_public_schema_name()):
        names = list(SpareSchema.objects.order_by("id").values_list("schema_name", flat=True))
        applied, _ = read_applied(names)
        spare = next((name for name in names if is_current(applied[name])), None)
        owner_exists = bool(request.owner_email) and User.objects.filter(email__iexact=request.owner_email).exists()
    return TenantPlan(request, spare, len(current_graph()[1]), owner_exists)


def tenant_create(
    *,
    name: str,
    slug: str,
    domain: str | None = None,
    owner_email: str | None = None,
    verbosity: int = 0,
    plan: str | None = None,
) -> Tenant:
    """Provision a tenant and return it, active: schema `tenant_<slug>` (a claimed spare schema, else
    built by migrations), its domain (default `<slug>.<TENANCY_BASE_DOMAIN>`) and, when `owner_email`
    is given, an owner membership (the user is created without a usable password when the email is new), and
    its subscription on `plan` (a plan code; default: the default plan, free as seeded; trialing when the plan
    has trial days: billing.services.subscription_start).
    Schedules a refill of the spare-schema pool once the caller's transaction commits.

    Raises InvalidValue / InvalidSlug / InvalidDomain for malformed input, TenantExists when the slug or
    schema is taken (also by a concurrent creation), DomainTaken when the domain routes elsewhere, UnknownPlan.
    Nothing is left behind on failure (module docstring: a crash while migrating leaves a tenant in
    `provisioning`, which `tenants_doctor --fix` completes).
    """
    # Whether slug, schema and domain are free is checked under the provisioning lock (_ensure_free).
    request = tenant_request_validate(
        name=name, slug=slug, domain=domain, owner_email=owner_email, check_free=False, plan=plan
    )
    # Tenant rows live in the public schema; the caller's schema is restored afterwards.
    try:
        with schema_context(get_public_schema_name()):
            step("claim_spare", slug=request.slug, schema_name=request.schema_name)
            tenant = _provision_fast(request)
            if tenant is None:
                # Something unusual, or no current spare: the ORM path decides, under the provisioning lock.
                with provisioning_lock(request.schema_name):
                    tenant = _provision_from_spare(request)
                    if tenant is None:
                        tenant = _provision_by_migrations(request, verbosity=verbosity)
    except IntegrityError as exc:
        # A concurrent creation won the race for the slug, schema or domain.
        raise TenantExists(
            f"slug {request.slug!r} or domain {request.domain!r} was taken by a concurrent tenant creation"
        ) from exc
    pool_refill_schedule()
    return tenant


def _provision_fast(request: TenantRequest) -> Tenant | None:
    """Warm-pool provisioning in one statement (`lifecycle_tenant_provision`, lifecycle migrations 0001 and 0002)
    inside a transaction of its own (a savepoint inside the caller's); return the active tenant, or None when the
    function wrote nothing: a slug, schema or domain taken, no plan, a member limit of 0, no current spare.

    Rows are built here from the models' fields (defaults, auto_now fields, the unusable password of a new owner,
    the audit origin); the function wires their ids, picks the plan and the oldest current spare (the spare's
    migration summary against the fingerprints this process already found current, else its django_migrations
    against the migrations on disk, as fleet.plan.is_current) and takes the provisioning lock for its
    transaction. It runs with the public schema as its search path and is called by its qualified name, so
    django-tenants' `SET search_path` is not sent for it. Raises IntegrityError when a concurrent creation takes
    the slug or domain.
    """
    now = timezone.now()
    tenant = Tenant(
        name=request.name, slug=request.slug, schema_name=request.schema_name, status=Tenant.Status.ACTIVE, created=now
    )
    new_owner = None
    if request.owner_email is not None:
        new_owner = _row_of(User, now, email=request.owner_email, password=make_password(None))  # unusable
    grant = audit_event_build("membership.grant", tenant=tenant, detail={"from": None, "to": Role.OWNER.value})
    created = audit_event_build(
        "tenant.create", tenant=tenant, target=f"tenant {request.slug!r}",
        detail={"slug": request.slug, "name": request.name, "domain": request.domain,
                "owner_email": request.owner_email},
    )  # fmt: skip
    on_disk = _migration_set()
    function = f"{connection.ops.quote_name(get_public_schema_name())}.lifecycle_tenant_provision"
    with _search_path_not_needed() as search_path_needed, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {function}(%s, %s, %s::jsonb, %s, %s::jsonb, %s::jsonb, %s, %s::jsonb, %s, %s, %s, "
                "%s::jsonb, %s::jsonb, %s::jsonb, %s::jsonb)",
                [
                    LOCK_NAMESPACE, on_disk.migrations, on_disk.squashes, sorted(on_disk.known_current),
                    _row(tenant, now), _row_of(Domain, now, domain=request.domain, is_primary=True), request.plan,
                    _row_of(Subscription, now), SubscriptionStatus.TRIALING.value, SubscriptionStatus.ACTIVE.value,
                    request.owner_email, new_owner, _row_of(Membership, now, role=Role.OWNER.value),
                    _row(grant, now), _row(created, now),
                ],
            )  # fmt: skip
            result = cursor.fetchone()[0]
        search_path_needed()  # for whatever the signal receivers below run
        result = json.loads(result) if isinstance(result, str) else result
        for name in result.get("stale", []):
            logger.warning(
                "spare schema %s is not up to date; run migrate_schemas (not claimed for %s)", name, request.slug
            )
        if result["outcome"] != "created":
            return None
        if result.get("fingerprint"):
            on_disk.known_current.add(result["fingerprint"])
        tenant.pk = result["tenant_id"]
        tenant._state.adding = False
        tenant._state.db = connection.alias
        tenants_changed()  # what post_save of Tenant and Domain does (tenancy.routing)
        step("commit", slug=request.slug, schema_name=request.schema_name)
    return tenant


@contextlib.contextmanager
def _search_path_not_needed() -> Iterator[Callable[[], None]]:
    """Until the block ends or calls the function it is given, Django's cursors on `connection` do not send
    django-tenants' `SET search_path` first (TENANT_LIMIT_SET_CALLS): for statements that name their schema,
    such as a savepoint and `lifecycle_tenant_provision`, which runs with a search path of its own. Then
    django-tenants' record of the session's search path is what it was (unknown after an error, as after its
    own rollbacks), and the next cursor sends the SET when that record says it is needed."""
    previous = connection.search_path_set_schemas  # type: ignore[attr-defined]
    done = False

    def needed() -> None:
        nonlocal done
        if not done:
            connection.search_path_set_schemas = previous  # type: ignore[attr-defined]
            done = True

    # A truthy record makes django-tenants skip the SET; the session's own search path is left as it is.
    connection.search_path_set_schemas = previous or [get_public_schema_name()]  # type: ignore[attr-defined]
    try:
        yield needed
    except BaseException:
        connection.search_path_set_schemas = None  # type: ignore[attr-defined]
        raise
    needed()


@dataclass(frozen=True)
class _MigrationSet:
    """The migrations on disk as `lifecycle_tenant_provision` checks a spare against them: every migration of the
    forward plan as "app.name", the squashed ones as a JSON object {"app.squash": ["app.replaced", ...]}, and the
    migration-state fingerprints (fleet/state.py) of spares this process found current against them."""

    migrations: list[str]
    squashes: str
    known_current: set[str]


@functools.cache
def _migration_set() -> _MigrationSet:
    """The migrations on disk (current_graph), once per process: they change only with a deploy."""
    loader, plan = current_graph()
    squashes = {
        f"{app}.{name}": [f"{replaced_app}.{replaced}" for replaced_app, replaced in migration.replaces]
        for (app, name), migration in loader.replacements.items()
    }
    return _MigrationSet([f"{app}.{name}" for app, name in plan], json.dumps(squashes), set())


def _row(instance: models.Model, now: dt.datetime) -> str:
    """`instance`'s column values as a JSON object (the primary key left out), auto_now fields set to `now`."""
    values: dict[str, object] = {}
    for attname, column, field, auto_now in _columns(type(instance)):
        if auto_now:
            setattr(instance, attname, now)
        values[column] = field.get_prep_value(getattr(instance, attname))
    return json.dumps(values, default=_json_value)


def _row_of(model: type[models.Model], now: dt.datetime, **given: object) -> str:
    """The JSON object `_row` returns for `model(**given)` (attribute names -> values), without building the
    instance: every other field gets its default, as Model.__init__ gives it."""
    values: dict[str, object] = {}
    for attname, column, field, auto_now in _columns(model):
        value = now if auto_now else given[attname] if attname in given else field.get_default()
        values[column] = field.get_prep_value(value)
    return json.dumps(values, default=_json_value)


@functools.cache
def _columns(model: type[models.Model]) -> tuple[tuple[str, str, Any, bool], ...]:
    """(attribute name, column, field, auto_now or auto_now_add) of each concrete field of `model` but the
    primary key, in the table's order."""
    return tuple(
        (field.attname, str(field.column), field,
         bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)))
        for field in model._meta.concrete_fields
        if not field.primary_key
    )  # fmt: skip


def _json_value(value: object) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"cannot pass {type(value).__name__} {value!r} to lifecycle_tenant_provision")


def _provision_from_spare(request: TenantRequest) -> Tenant | None:
    """The ORM path of warm-pool provisioning, for what `_provision_fast` leaves (raises the precise error for a
    slug, schema or domain taken, UnknownPlan, PlanLimitReached); None when no current spare is left."""

    def announce(name: str) -> None:
        step(name, slug=request.slug, schema_name=request.schema_name)

    with transaction.atomic():
        _ensure_free(slug=request.slug, schema_name=request.schema_name, domain_name=request.domain)
        spare = spare_claim(slug=request.slug)
        if spare is None:
            return None
        schema_rename(spare, request.schema_name)
        tenant = Tenant.objects.create(
            name=request.name, slug=request.slug, schema_name=request.schema_name, status=Tenant.Status.ACTIVE
        )
        Domain.objects.create(domain=request.domain, tenant=tenant, is_primary=True)
        subscription_start(tenant=tenant, plan_code=request.plan)
        _grant_owner(request, tenant, announce)
        _audit_created(request, tenant, spare=spare)
        announce("commit")
    return tenant


def _audit_created(request: TenantRequest, tenant: Tenant, *, spare: str | None, completed: bool = False) -> None:
    detail = {"slug": request.slug, "name": request.name, "domain": request.domain, "owner_email": request.owner_email}
    audit_record(
        "tenant.create", tenant=tenant, target=f"tenant {request.slug!r}",
        detail={**detail, "spare_schema": spare, **({"completed_by_doctor": True} if completed else {})},
    )  # fmt: skip


def _grant_owner(request: TenantRequest, tenant: Tenant, announce: Callable[[str], None]) -> None:
    if request.owner_email is not None:
        announce("grant_owner")
        owner = user_get_or_create(email=request.owner_email)
        membership_grant(user=owner, tenant=tenant, role="owner")


def _provision_by_migrations(request: TenantRequest, *, verbosity: int) -> Tenant:
    def announce(name: str) -> None:
        step(name, slug=request.slug, schema_name=request.schema_name)

    with transaction.atomic():
        _ensure_free(slug=request.slug, schema_name=request.schema_name, domain_name=request.domain)
        announce("reserve")
        tenant = Tenant.objects.create(
            name=request.name, slug=request.slug, schema_name=request.schema_name, status=Tenant.Status.PROVISIONING
        )
        Domain.objects.create(domain=request.domain, tenant=tenant, is_primary=True)
        subscription_start(tenant=tenant, plan_code=request.plan)
        _grant_owner(request, tenant, announce)
    # Committed: the slug and domain are this tenant's, and its host answers "setting up".
    try:
        with transaction.atomic():
            announce("build_schema")
            schema_build(request.schema_name, verbosity=verbosity)
            announce("activate")
            Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.ACTIVE)
            # Recorded with the activation: a failed build deletes the reserved row, and nothing was created.
            _audit_created(request, tenant, spare=None)
            announce("commit")
    except BaseException:
        with transaction.atomic():
            Tenant.objects.filter(pk=tenant.pk, status=Tenant.Status.PROVISIONING).delete()
        raise
    tenant.status = Tenant.Status.ACTIVE
    return tenant


def tenant_provision_complete(*, slug: str) -> Tenant:
    """Finish provisioning the tenant `slug` left in `provisioning` by a process that died: give it a
    schema (its existing one migrated to current, else a claimed spare, else built by migrations) and
    activate it, in one transaction. Used by `tenants_doctor --fix`.

    Raises NotFound for an unknown slug, Conflict when the tenant is not provisioning or another
    session is provisioning it right now (its provisioning lock is held).
    """
    public = get_public_schema_name()
    with schema_context(public):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise NotFound(f"no tenant with slug {slug!r}")
        with provisioning_lock_try(tenant.schema_name) as taken:
            if not taken:
                raise Conflict(f"tenant {slug!r} is being provisioned by another session right now")
            with transaction.atomic():
                tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
                if tenant.status != Tenant.Status.PROVISIONING:
                    raise Conflict(f"tenant {slug!r} is {tenant.status}, not provisioning")
                if schema_exists(tenant.schema_name):
                    report = fleet_migrate(schemas=[(tenant.schema_name, slug)], retries=0)
                    if not report.ok:
                        raise RuntimeError(f"migrating {tenant.schema_name!r} failed: {report.failed[0].error}")
                else:
                    spare = spare_claim(slug=slug)
                    if spare is not None:
                        schema_rename(spare, tenant.schema_name)
                    else:
                        schema_build(tenant.schema_name)
                tenant.status = Tenant.Status.ACTIVE
                tenant.save(update_fields=["status"])
                domain = tenant.get_primary_domain()
                request = TenantRequest(tenant.name, slug, tenant.schema_name, domain.domain if domain else "", None)
                _audit_created(request, tenant, spare=None, completed=True)
    pool_refill_schedule()
    return tenant


def _ensure_free(*, slug: str, schema_name: str, domain_name: str) -> None:
    if Tenant.objects.filter(slug=slug).exists():
        raise TenantExists(f"slug {slug!r} is taken by an existing tenant; choose another slug")
    if Tenant.objects.filter(schema_name=schema_name).exists() or schema_exists(schema_name):
        raise TenantExists(f"schema {schema_name!r} for slug {slug!r} already exists; choose another slug")
    existing = Domain.objects.filter(domain=domain_name).select_related("tenant").first()
    if existing is not None:
        raise DomainTaken(f"domain {domain_name!r} already routes to tenant {existing.tenant.slug!r}")


# Status changes an operator may make (commands, platform admin). `provisioning` is entered and
# left only by provisioning itself.
STATUS_TRANSITIONS: dict[str, set[str]] = {
    Tenant.Status.ACTIVE: {Tenant.Status.SUSPENDED, Tenant.Status.ARCHIVED},
    Tenant.Status.SUSPENDED: {Tenant.Status.ACTIVE, Tenant.Status.ARCHIVED},
    Tenant.Status.ARCHIVED: {Tenant.Status.ACTIVE},
}
# The audit action of each status change (audit.services.ACTIONS).
STATUS_ACTIONS: dict[str, str] = {
    Tenant.Status.ACTIVE: "tenant.activate",
    Tenant.Status.SUSPENDED: "tenant.suspend",
    Tenant.Status.ARCHIVED: "tenant.archive",
}


def tenant_status_set(*, slug: str, status: str) -> tuple[Tenant, str]:
    """Set the status of tenant `slug` to `status` (active, suspended or archived); return (tenant,
    previous status). Setting the current status again changes nothing.

    Allowed: active -> suspended | archived, suspended -> active | archived, archived -> active.
    Raises InvalidValue for another status, InvalidSlug for the public tenant, NotFound for an unknown
    slug, Conflict for a tenant still provisioning or a transition not listed.
    """
    accepted = [Tenant.Status.ACTIVE.value, Tenant.Status.SUSPENDED.value, Tenant.Status.ARCHIVED.value]
    if status not in accepted:
        raise InvalidValue(f"status {status!r} is not accepted; accepted: {', '.join(accepted)}")
    with schema_context(get_public_schema_name()), transaction.atomic():
        tenant = Tenant.objects.select_for_update().filter(slug=slug).first()
        if tenant is None:
            raise NotFound(f"no tenant with slug {slug!r}; see `manage.py list_tenants`")
        if tenant.schema_name == get_public_schema_name():
            raise InvalidSlug(f"tenant {slug!r} is the public schema; its status cannot change")
        previous = tenant.status
        if previous == status:
            return tenant, previous
        if previous == Tenant.Status.PROVISIONING:
            raise Conflict(f"tenant {slug!r} is still provisioning; `manage.py tenants_doctor --fix` completes it")
        if status not in STATUS_TRANSITIONS[previous]:
            raise Conflict(
                f"tenant {slug!r} is {previous}; it can become {', '.join(sorted(STATUS_TRANSITIONS[previous]))}"
            )
        tenant.status = status
        tenant.save(update_fields=["status"])
        audit_record(
            STATUS_ACTIONS[status], tenant=tenant, target=f"tenant {slug!r}", detail={"from": previous, "to": status}
        )
    return tenant, previous


def tenant_drop(*, slug: str, backup: str | None = None) -> Tenant:
    """Delete the tenant with `slug`: its domains, memberships, row and schema (DROP SCHEMA ... CASCADE,
    when it exists), in one transaction with its `tenant.drop` audit event (`backup`: the path of the backup
    taken before, recorded in the event); once committed, its media folder is moved aside
    (tenancy.media.tenant_media_retire). Returns the deleted (unsaved) tenant.

    Raises InvalidSlug for the public tenant, NotFound for an unknown slug.
    """
    if slug == "public" or slug == get_public_schema_name():
        raise InvalidSlug(f"tenant {slug!r} is the public schema and cannot be dropped")
    with schema_context(get_public_schema_name()):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            known = ", ".join(
                Tenant.objects.exclude(schema_name=get_public_schema_name()).values_list("slug", flat=True)
            )
            raise NotFound(f"no tenant with slug {slug!r}; existing slugs: {known or '(none)'}")
        if tenant.schema_name == get_public_schema_name():
            raise InvalidSlug(f"tenant {slug!r} uses the public schema and cannot be dropped")
        with transaction.atomic():
            schema = tenant.schema_name
            audit_record(
                "tenant.drop", tenant=tenant, target=f"tenant {slug!r}",
                detail={"slug": slug, "name": tenant.name, "backup": backup},
            )  # fmt: skip
            tenant.delete()
            with connection.cursor() as cursor:
                cursor.execute(f"DROP SCHEMA IF EXISTS {connection.ops.quote_name(schema)} CASCADE")
            # A tenant created again under this slug gets this schema name: it must not find these files.
            transaction.on_commit(lambda: tenant_media_retire(schema))
    return tenant


def public_tenant_ensure(*, domain: str) -> Tenant:
    """Create the public tenant (schema `public`) when missing and make sure `domain` routes to it.

    Idempotent. Raises InvalidDomain for a malformed domain, DomainTaken when it routes to another tenant.
    """
    domain_name = normalize_domain(domain)
    public_schema = get_public_schema_name()
    with schema_context(public_schema), transaction.atomic():
        tenant, _ = Tenant.objects.get_or_create(
            schema_name=public_schema, defaults={"name": "Public", "slug": "public", "status": Tenant.Status.ACTIVE}
        )
        existing = Domain.objects.filter(domain=domain_name).select_related("tenant").first()
        if existing is None:
            Domain.objects.create(domain=domain_name, tenant=tenant, is_primary=not tenant.domains.exists())
        elif existing.tenant_id != tenant.pk:
            raise DomainTaken(f"domain {domain_name!r} already routes to tenant {existing.tenant.slug!r}")
    return tenant
