"""Plan and subscription use cases: start a tenant's subscription, change its plan or status, and check a plan
limit inside the transaction that creates something (the only place limits are enforced)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from ..audit.services import audit_record
from ..tenancy.domain import Access, BillingSnapshot, TenantReadOnly, access_for
from ..tenancy.models import Tenant, billing_grace
from .domain import Interval, Limit, SubscriptionStatus, limit_check, unknown_plan
from .models import Plan, Subscription


def plan_get(code: object) -> Plan:
    """The plan with `code`; raises UnknownPlan naming the codes that exist."""
    plan = Plan.objects.filter(code=code).first() if isinstance(code, str) else None
    if plan is None:
        raise unknown_plan(code, list(Plan.objects.values_list("code", flat=True)))
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
    with transaction.atomic():
        subscription = subscription_of(tenant, lock=True)
        previous = subscription.plan.code
        subscription.plan = plan
        if interval is not None:
            subscription.interval = Interval(interval).value
        subscription.save()
        if previous != plan.code:
            _audit_plan(subscription, previous, actor=actor, source=source)
    return subscription
