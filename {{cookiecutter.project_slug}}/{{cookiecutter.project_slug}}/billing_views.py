"""The Billing page of tenant hosts and plan usage: what the tenant holds, counted against its plan's limits.

`tenant_usage` counts members, products, customers, this month's bookings and media storage for the dashboard's
warnings and the Billing page. The pages (`/billing/`, `/billing/checkout/`, `/billing/portal/`) are for owners
(admins too with settings.BILLING_ADMINS_MANAGE: the `billing` action of accounts.permissions), and keep working
while the tenant is read-only or suspended for an unpaid subscription: that is where it pays.

Sits above the tenant apps it counts (products, customers, bookings) and below the dashboard (pyproject.toml's
import contracts); billing itself knows nothing of the tenant apps.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe
from django_tenants.utils import tenant_context

from .accounts.permissions import member_required
from .accounts.selectors import member_seats
from .billing.domain import STATUS_LABELS, Interval, Limit, LimitUsage, SubscriptionStatus, parse_interval
from .billing.models import Plan, Subscription
from .billing.providers import provider
from .billing.services import plan_offered_get, plans_offered, subscription_of
from .bookings.domain import month_window
from .bookings.models import Booking
from .customers.models import Customer
from .errors import DomainError
from .products.models import Product
from .tenancy.addressing import public_reverse_url
from .tenancy.domain import Access
from .tenancy.media import tenant_media_bytes
from .tenancy.models import Tenant

BYTES_PER_MB = 1_000_000

# How each limit is named as a table row, and what a tenant at or over it can no longer do.
LIMIT_TITLES = {
    Limit.MEMBERS: "Members",
    Limit.PRODUCTS: "Products",
    Limit.CUSTOMERS: "Customers",
    Limit.BOOKINGS_PER_MONTH: "Bookings this month",
    Limit.STORAGE_MB: "Media storage (MB)",
}
LIMIT_BLOCKS = {
    Limit.MEMBERS: "new members and invitations",
    Limit.PRODUCTS: "new products",
    Limit.CUSTOMERS: "new customers",
    Limit.BOOKINGS_PER_MONTH: "new bookings (until next month)",
    Limit.STORAGE_MB: "new image uploads",
}

# `?checkout=<result>` on the Billing page: where the provider sent the owner back to (platform.views.billing_done).
RETURN_NOTICES = {
    "success": "Thank you. The new plan shows here as soon as the payment provider confirms the payment.",
    "cancel": "Checkout was canceled; nothing changed.",
    "return": "Back from the billing portal; changes made there show here once the payment provider confirms them.",
}


def tenant_counts(tenant: Tenant, *, now: dt.datetime | None = None) -> dict[Limit, int]:
    """What `tenant` holds at `now` (default: now), per limit, counted as the services that enforce the limits
    count: members with pending invitations (accounts.selectors.member_seats), products, customers, bookings
    recorded in the current calendar month of settings.TIME_ZONE (cancelled ones included:
    bookings.domain.month_window), and media storage in MB (1,000,000 bytes; a started MB counts). Reads the
    tenant's schema (entered for the call) and the public schema."""
    since, before = month_window((now or timezone.now()).astimezone(ZoneInfo(settings.TIME_ZONE)))
    with tenant_context(tenant):
        counts = {
            Limit.MEMBERS: member_seats(tenant=tenant),
            Limit.PRODUCTS: Product.objects.count(),
            Limit.CUSTOMERS: Customer.objects.count(),
            Limit.BOOKINGS_PER_MONTH: Booking.objects.filter(created__gte=since, created__lt=before).count(),
            Limit.STORAGE_MB: math.ceil(tenant_media_bytes() / BYTES_PER_MB),
        }
    return counts


def tenant_usage(tenant: Tenant, *, plan: Plan | None = None, now: dt.datetime | None = None) -> list[LimitUsage]:
    """Each limit of `tenant`'s plan (default: its subscription's, billing.services.subscription_of) with the
    tenant's usage of it (tenant_counts), in billing.domain.Limit order. Storage is in MB; `allowed` None is
    unlimited. Usage may exceed `allowed` after a downgrade (LimitUsage.over)."""
    plan = plan if plan is not None else subscription_of(tenant).plan
    counts = tenant_counts(tenant, now=now)
    return [LimitUsage(limit=limit, allowed=plan.allowed(limit), usage=counts[limit]) for limit in Limit]


@dataclass(frozen=True)
class UsageRow:
    """A LimitUsage as the pages show it."""

    usage: LimitUsage
    title: str
    blocks: str

    @property
    def excess(self) -> int:
        """How many to remove before one more can be created (0 below the limit)."""
        allowed = self.usage.allowed
        return 0 if allowed is None else max(0, self.usage.usage - allowed + 1)


def usage_rows(usages: list[LimitUsage]) -> list[UsageRow]:
    return [UsageRow(usage=u, title=LIMIT_TITLES[u.limit], blocks=LIMIT_BLOCKS[u.limit]) for u in usages]


@dataclass(frozen=True)
class PlanOffer:
    """An offered plan on the Billing page: its limits, and the button it gets (None: no button)."""

    plan: Plan
    limits: list[tuple[str, int | None]]
    current: bool
    button: str | None


def _button(plan: Plan, subscription: Subscription) -> str | None:
    if plan.pk == subscription.plan_id:
        # The current plan: paying for it ends a trial or a cancellation; otherwise nothing to do.
        unpaid = subscription.status in (SubscriptionStatus.TRIALING, SubscriptionStatus.CANCELED)
        return "Subscribe" if unpaid else None
    return "Upgrade" if Decimal(plan.price_monthly) > Decimal(subscription.plan.price_monthly) else "Change"


def plan_offers(subscription: Subscription) -> list[PlanOffer]:
    return [
        PlanOffer(
            plan=plan,
            limits=[(LIMIT_TITLES[limit], plan.allowed(limit)) for limit in Limit],
            current=plan.pk == subscription.plan_id,
            button=_button(plan, subscription),
        )
        for plan in plans_offered()
    ]


def next_invoice(subscription: Subscription) -> dt.datetime | None:
    """When the next invoice falls: the end of the current period, unless the subscription is canceled or ends
    with the period."""
    if subscription.status == SubscriptionStatus.CANCELED or subscription.cancel_at_period_end:
        return None
    return subscription.current_period_end


@member_required(action="billing")
@require_safe
def billing(request: HttpRequest) -> HttpResponse:
    """`/billing/` on a tenant host, for owners (and admins with settings.BILLING_ADMINS_MANAGE): the plan with
    its prices, the subscription's status and dates, each limit with its usage, what is over the limit after a
    downgrade, the offered plans (checkout), and the provider's portal for cards and invoices.
    `?checkout=success|cancel|return`: the provider sent the owner back (platform.views.billing_done)."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    subscription = subscription_of(tenant)
    rows = usage_rows(tenant_usage(tenant, plan=subscription.plan))
    access = tenant.access()
    context: dict[str, Any] = {
        "subscription": subscription,
        "plan": subscription.plan,
        "status_label": STATUS_LABELS.get(subscription.status, subscription.status),  # type: ignore[call-overload]
        "next_invoice": next_invoice(subscription),
        "rows": rows,
        "over": [row for row in rows if row.usage.over],
        "offers": plan_offers(subscription),
        "intervals": [interval.value for interval in Interval],
        "provider_name": settings.BILLING_PROVIDER,
        "returned": RETURN_NOTICES.get(request.GET.get("checkout", "")),
        "access": access.value,
        "read_only": access is Access.READ_ONLY,
        "suspended": access is Access.SUSPENDED,
    }
    return render(request, "billing/billing.html", context)


def _back_url(tenant: Tenant, result: str) -> str:
    """Where the provider sends the owner back to: the public host's `/billing/done/<slug>/?result=<result>`,
    which redirects to this tenant's Billing page (platform.views.billing_done)."""
    return public_reverse_url("billing_done", kwargs={"slug": tenant.slug}, query=f"result={result}")


@member_required(action="billing")
@require_POST
def billing_checkout(request: HttpRequest) -> HttpResponse:
    """POST `/billing/checkout/` with `plan` (an offered plan's code) and `interval` (`month` or `year`, default
    month): redirect (302) to the provider's checkout page for that plan, which returns to the public host's
    `/billing/done/<slug>/`. A refusal (unknown plan, bad interval, provider `none`, no price for the plan) is
    shown as an error on the Billing page; nothing changes."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    try:
        plan = plan_offered_get(request.POST.get("plan"))
        interval = parse_interval(request.POST.get("interval") or Interval.MONTH.value)
        url = provider().checkout_url(
            subscription=subscription_of(tenant),
            plan=plan,
            interval=interval.value,
            success_url=_back_url(tenant, "success"),
            cancel_url=_back_url(tenant, "cancel"),
            email=request.user.email,  # type: ignore[union-attr]
        )
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("billing")
    return _to_provider(url)


@member_required(action="billing")
@require_POST
def billing_portal(request: HttpRequest) -> HttpResponse:
    """POST `/billing/portal/`: redirect (302) to the provider's portal, where the owner manages cards and
    invoices and which returns to the Billing page. A refusal (provider `none`, no customer at the provider yet)
    is shown as an error on the Billing page."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    try:
        url = provider().portal_url(subscription=subscription_of(tenant), return_url=_back_url(tenant, "return"))
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("billing")
    return _to_provider(url)


def _to_provider(url: str) -> HttpResponse:
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"  # a checkout or portal session's URL is for this owner only
    return response


def dashboard_limits(tenant: Tenant) -> list[UsageRow]:
    """The limits the dashboard warns about: at or above billing.domain.WARN_AT (80 %) of the plan's limit."""
    return [row for row in usage_rows(tenant_usage(tenant)) if row.usage.warning]
