"""Reads of the tenant fleet (public schema)."""

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet
from django_tenants.utils import get_public_schema_name

from .models import Domain, Tenant


def tenant_list(*, include_public: bool = False, search: str | None = None) -> QuerySet[Tenant]:
    """Return tenants ordered by slug with their domains prefetched; the public tenant only when asked; with
    `search`, only those whose slug, name, schema name or one of whose domains contains it (case-insensitive)."""
    tenants = Tenant.objects.prefetch_related("domains").order_by("slug")
    if not include_public:
        tenants = tenants.exclude(schema_name=get_public_schema_name())
    if search:
        in_domains = Domain.objects.filter(tenant_id=OuterRef("pk"), domain__icontains=search)
        tenants = tenants.filter(
            Q(slug__icontains=search) | Q(name__icontains=search) | Q(schema_name__icontains=search)
            | Exists(in_domains)
        )  # fmt: skip
    return tenants


def tenant_get_by_slug(*, slug: str) -> Tenant | None:
    """Return the tenant with `slug`, or None."""
    return Tenant.objects.filter(slug=slug).first()


def billing_blocked_q(now: dt.datetime, grace: dt.timedelta) -> Q:
    """A filter on Tenant's billing_* columns matching exactly the tenants tenancy.domain.access_for makes
    READ_ONLY or SUSPENDED at `now` (an aware datetime) with `grace` (tenancy.models.billing_grace()):

    - canceled with no period end, or a period end at or before `now` (SUSPENDED);
    - past_due since `now - grace` or earlier; past_due with no date when `grace` is zero or less (READ_ONLY);
    - trialing with a trial end at or before both `now` and `now - grace` (READ_ONLY).

    `Tenant.objects.exclude(billing_blocked_q(...))` keeps the tenants with full access (for beat and fan-out).
    """
    suspended = Q(billing_status="canceled") & (Q(billing_period_end__isnull=True) | Q(billing_period_end__lte=now))
    read_only = Q(billing_status="past_due", billing_past_due_since__lte=now - grace)
    if grace <= dt.timedelta(0):
        read_only |= Q(billing_status="past_due", billing_past_due_since__isnull=True)
    read_only |= Q(billing_status="trialing", billing_trial_end__lte=min(now, now - grace))
    return suspended | read_only
