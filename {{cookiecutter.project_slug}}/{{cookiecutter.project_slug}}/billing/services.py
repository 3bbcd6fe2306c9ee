"""Plan and subscription use cases: start a tenant's subscription, change its plan or status, and check a plan
limit inside the transaction that creates something (the only place limits are enforced)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from ..audit.services import audit_record
from ..errors import InvalidValue, shown
from ..tenancy.domain import Access, BillingSnapshot, TenantReadOnly, access_for
from ..tenancy.models import Tenant, billing_grace
from .domain import Limit, SubscriptionStatus, UnknownPlan, limit_check, parse_interval, parse_status, unknown_plan
from .models import Plan, Subscription


def plan_get(code: object) -> Plan:
    """The plan with `code`; raises UnknownPlan naming the codes that exist."""
    plan = Plan.objects.filter(code=code).first() if isinstance(code, str) else None
    if plan is None:
        raise unknown_plan(code, list(Plan.objects.values_list("code", flat=True)))
    return plan


def plans_offered() -> list[Plan]:
    """The plans marked `offered` (shown at sign-up and on the Billing page), in catalogue order."""
    return list(Plan.objects.filter(offered=True))


def plan_offered_get(code: object) -> Plan:
    """The offered plan with `code` (what sign-up and the Billing page accept); raises UnknownPlan naming the
    offered codes."""
    plan = Plan.objects.filter(code=code).first() if isinstance(code, str) else None
    offered = [plan.code for plan in plans_offered()]
    if plan is None:
        raise unknown_plan(code, offered)
    if not plan.offered:
        raise UnknownPlan(f"plan {shown(code)} is not offered; expected one of: {', '.join(offered) or '(no plans)'}")
    return plan


def default_plan() -> Plan:
    """The plan marked `is_default` (free, as seeded), else the first plan by position; raises UnknownPlan when
    the catalogue is empty."""
    plan = Plan.objects.filter(is_default=True).first() or Plan.objects.first()
    if plan is None:
        raise unknown_plan(None, [])
    return plan


def _started(tenant: Tenant, plan: Plan, now: dt.datetime) -> Subscription:
    trial = plan.trial_days > 0
    return Subscription(
        tenant=tenant,
        plan=plan,
        status=SubscriptionStatus.TRIALING if trial else SubscriptionStatus.ACTIVE,
        trial_end=now + dt.timedelta(days=plan.trial_days) if trial else None,
        current_period_end=now + dt.timedelta(days=plan.trial_days) if trial else None,
    )


def subscription_start(*, tenant: Tenant, plan_code: str | None = None, now: dt.datetime | None = None) -> Subscription:
    """Give `tenant` its subscription on plan `plan_code` (default: default_plan()): trialing for the plan's
    trial days when it has a trial, else active. Called when a tenant is provisioned; a tenant that already has
    a subscription keeps it (returned unchanged). Raises UnknownPlan."""
    plan = plan_get(plan_code) if plan_code is not None else default_plan()
    existing = Subscription.objects.select_related("plan").filter(tenant=tenant).first()
    if existing is not None:
        return existing
    subscription = _started(tenant, plan, now or timezone.now())
    subscription.save()
    return subscription


def subscription_of(tenant: Tenant, *, lock: bool = False) -> Subscription:
    """`tenant`'s subscription (its plan loaded), created on the default plan when missing (a tenant restored
    or adopted without one). `lock=True` takes a row lock (SELECT ... FOR UPDATE) for the caller's
    transaction."""
    rows = Subscription.objects.select_related("plan").filter(tenant_id=tenant.pk)
    if lock:
        rows = rows.select_for_update(of=("self",))
    subscription = rows.first()
    if subscription is None:
        subscription_start(tenant=tenant)
        subscription = rows.get()
    return subscription


def current_tenant() -> Tenant:
    """The tenant the database connection is set to (django-tenants' `connection.tenant`)."""
    tenant: Tenant = connection.tenant  # type: ignore[attr-defined]  # django-tenants' backend
    return tenant


def subscription_snapshot(subscription: Subscription) -> BillingSnapshot:
    """The state rules of tenancy.domain.access_for applied to a subscription row."""
    return BillingSnapshot(
        status=subscription.status,
        past_due_since=subscription.past_due_since,
        period_end=subscription.current_period_end,
        trial_end=subscription.trial_end,
    )


def plan_limit_check(
    limit: Limit, *, usage: Callable[[], int], adding: int = 1, tenant: Tenant | None = None
) -> Subscription:
    """Refuse creating `adding` more of `limit` in `tenant` (default: the connection's tenant) when its plan
    does not allow it. Call it inside the transaction that creates the thing, before creating it.

    The tenant's subscription row is locked (SELECT ... FOR UPDATE) until that transaction ends, so concurrent
    creators in one tenant queue up and each counts what the one before it created: N concurrent creates at the
    limit leave exactly the limit. `usage` returns the current count (bytes for Limit.STORAGE_MB).

    Raises TenantReadOnly when the subscription makes the tenant read-only or suspended, PlanLimitReached
    (403, code `plan_limit_reached`) naming the limit and the plan, and RuntimeError outside a transaction.
    Returns the locked subscription.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("plan_limit_check must run inside the transaction that creates the thing it counts")
    tenant = tenant if tenant is not None else current_tenant()
    subscription = subscription_of(tenant, lock=True)
    access = access_for(subscription_snapshot(subscription), now=timezone.now(), grace=billing_grace())
    if access is not Access.FULL:
        raise TenantReadOnly(
            f"workspace {tenant.slug!r} is {'read-only' if access is Access.READ_ONLY else 'suspended'}: "
            "its payment is overdue; nothing was changed. An owner can pay on the Billing page."
        )
    plan = subscription.plan
    limit_check(
        limit=limit, plan=plan.code, plan_name=plan.name, allowed=plan.allowed(limit), usage=usage(), adding=adding
    )
    return subscription


def _audit_plan(subscription: Subscription, previous: str, *, actor: Any, source: str) -> None:
    audit_record(
        "billing.plan_change", actor=actor, tenant=subscription.tenant, target=f"tenant {subscription.tenant.slug!r}",
        detail={"from": previous, "to": subscription.plan.code, "status": subscription.status, "source": source},
    )  # fmt: skip


def plan_change(
    *, tenant: Tenant, plan_code: str, actor: Any = None, source: str = "admin", interval: str | None = None
) -> Subscription:
    """Move `tenant` to plan `plan_code` at once (provider `none`: the platform admin, `manage.py subscription`;
    Stripe's events use the same), recorded in the audit log as `billing.plan_change` with `source`.
    A downgrade below current usage is allowed: nothing is deleted, creation is blocked until usage fits.
    Raises UnknownPlan; InvalidValue for an interval other than "month" or "year"."""
    plan = plan_get(plan_code)
    chosen = parse_interval(interval).value if interval is not None else None
    with transaction.atomic():
        subscription = subscription_of(tenant, lock=True)
        previous = subscription.plan.code
        subscription.plan = plan
        if chosen is not None:
            subscription.interval = chosen
        subscription.save()
        if previous != plan.code:
            _audit_plan(subscription, previous, actor=actor, source=source)
    return subscription


_UNCHANGED: Any = object()


def subscription_state_set(
    *,
    tenant: Tenant,
    status: str | None = None,
    past_due_since: dt.datetime | None = _UNCHANGED,
    period_end: dt.datetime | None = _UNCHANGED,
    trial_end: dt.datetime | None = _UNCHANGED,
    actor: Any = None,
    source: str = "cli",
) -> Subscription:
    """Set `tenant`'s subscription status and dates, as an operator does (`manage.py subscription`; with provider
    `none`, nothing else changes them). Arguments left out keep their value; None clears a date. Datetimes are
    aware.

    `status` (`trialing`, `active`, `past_due`, `canceled`): past_due without `past_due_since` counts from now
    (or keeps the date it had when already past due); any other status clears `past_due_since`. A change is
    recorded in the audit log as `billing.status_change` with the changed fields and `source`; the tenant row
    follows at once (the subscription trigger), so access (read-only, suspended) changes with the next request.
    Raises InvalidValue for an unknown status, a naive datetime, or `past_due_since` with another status than
    past_due; nothing changes then.
    """
    dates = {"past_due_since": past_due_since, "current_period_end": period_end, "trial_end": trial_end}
    for name, value in dates.items():
        if value is not _UNCHANGED and value is not None and value.tzinfo is None:
            raise InvalidValue(f"{name} {value.isoformat()!r} has no time zone; expected an aware datetime")
    wanted = parse_status(status).value if status is not None else None
    with transaction.atomic():
        subscription = subscription_of(tenant, lock=True)
        before = {name: getattr(subscription, name) for name in ("status", *dates)}
        if wanted is not None:
            subscription.status = wanted
        for name, value in dates.items():
            if value is not _UNCHANGED:
                setattr(subscription, name, value)
        if subscription.status == SubscriptionStatus.PAST_DUE:
            if subscription.past_due_since is None:
                subscription.past_due_since = before["past_due_since"] or timezone.now()
        elif past_due_since is not _UNCHANGED and past_due_since is not None:
            raise InvalidValue(
                f"past_due_since {past_due_since.isoformat()!r} applies to status past_due only; the status is "
                f"{subscription.status!r}"
            )
        else:
            subscription.past_due_since = None
        changed = {
            name: [_shown(old), _shown(getattr(subscription, name))]
            for name, old in before.items()
            if old != getattr(subscription, name)
        }
        if changed:
            subscription.save()
            audit_record(
                "billing.status_change", actor=actor, tenant=tenant, target=f"tenant {tenant.slug!r}",
                detail={**changed, "source": source},
            )  # fmt: skip
    return subscription


def _shown(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.datetime) else value
