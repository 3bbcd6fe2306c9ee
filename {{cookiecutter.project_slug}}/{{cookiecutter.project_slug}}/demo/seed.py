"""Demo tenants for development and the test suite: acme and globex, each with its own data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from ..accounts.domain import Role
from ..accounts.selectors import membership_role
from ..accounts.services import email_address_verify, membership_grant, user_get_or_create
from ..billing.domain import SubscriptionStatus
from ..billing.services import plan_change, plan_get, subscription_state_set
from ..bookings.domain import Slot
from ..bookings.models import Booking
from ..bookings.repositories import DjangoBookingRepository
from ..bookings.services import booking_create
from ..customers.models import Customer
from ..customers.services import customer_create
from ..lifecycle.services import tenant_create
from ..products.models import Product
from ..products.services import product_create
from ..tenancy.models import Tenant
from ..tenancy.selectors import tenant_get_by_slug


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    name: str
    owner_email: str
    owner_password: str
    products: tuple[tuple[str, str, str], ...]  # (sku, name, price)
    customers: tuple[tuple[str, str], ...]  # (name, email)
    plan: str | None = None  # the plan's code; None: the default plan (free as seeded)


DEMO_TENANTS = (
    DemoTenant(
        slug="acme",
        name="Acme Corporation",
        owner_email="owner@acme.localhost",
        owner_password="acme-demo-password",
        products=(("ACME-ANVIL", "Anvil", "49.00"), ("ACME-SKATES", "Rocket Skates", "199.00"),
                  ("ACME-MAGNET", "Giant Magnet", "89.50")),
        customers=(("Wile E. Coyote", "wile@example.com"), ("Road Runner", "beep@example.com")),
        plan="pro",  # room to try things: no product, customer or booking limit
    ),
    DemoTenant(
        slug="globex",
        name="Globex Corporation",
        owner_email="owner@globex.localhost",
        owner_password="globex-demo-password",
        products=(("GLOBEX-HAMMOCK", "Hammock", "35.00"), ("GLOBEX-DOOMSDAY", "Doomsday Device", "999.99"),
                  ("GLOBEX-LASER", "Laser Pointer", "12.50")),
        customers=(("Hank Scorpio", "hank@example.com"), ("Homer Simpson", "homer@example.com")),
    ),
)  # fmt: skip


# A member (role member) of every demo tenant: one login reaches each of them, through the tenant picker and
# switcher, while each owner stays an outsider in the other tenant.
DEMO_MEMBER_EMAIL = "member@demo.localhost"
DEMO_MEMBER_PASSWORD = "demo-member-password"  # noqa: S105  # a demo login, printed by seed_demo


def demo_seed(
    *, domain_suffix: str = "localhost", plan: str | None = None, member: bool = True
) -> list[tuple[Tenant, DemoTenant]]:
    """Create (idempotently) the demo tenants on `<slug>.<domain_suffix>` with their owner logins,
    products, customers and one booking each, and, with `member`, DEMO_MEMBER_EMAIL as a member of each (a
    seat of each plan's member limit). Existing tenants and rows are kept; missing ones are added.

    Each new demo tenant subscribes to its own plan (acme: pro, globex: the default plan, whose limits its
    data fits), active without a trial. `plan` (a plan code) puts every demo tenant on that plan instead,
    existing ones included (billing.services.plan_change: nothing is deleted). Raises UnknownPlan (checked
    before anything is created), PlanLimitReached when a missing row does not fit the tenant's plan.
    Returns the (tenant, demo definition) pairs.
    """
    if plan is not None:
        plan = plan_get(plan).code
    seeded = []
    demo_member = user_get_or_create(email=DEMO_MEMBER_EMAIL, password=DEMO_MEMBER_PASSWORD) if member else None
    if demo_member is not None:
        email_address_verify(user=demo_member, email=demo_member.email)
    for demo in DEMO_TENANTS:
        tenant = tenant_get_by_slug(slug=demo.slug)
        if tenant is None:
            tenant = tenant_create(
                name=demo.name,
                slug=demo.slug,
                domain=f"{demo.slug}.{domain_suffix}",
                plan=plan or demo.plan,
            )
            # Paid up, without a trial that would end: a development database stays writable however old.
            subscription_state_set(
                tenant=tenant, status=SubscriptionStatus.ACTIVE, trial_end=None, period_end=None, source="seed_demo"
            )
        elif plan is not None:
            plan_change(tenant=tenant, plan_code=plan, source="seed_demo")
        owner = user_get_or_create(email=demo.owner_email, password=demo.owner_password)
        email_address_verify(user=owner, email=owner.email)
        membership_grant(user=owner, tenant=tenant, role=Role.OWNER)
        if demo_member is not None and membership_role(user_id=demo_member.pk, tenant_id=tenant.pk) is None:
            membership_grant(user=demo_member, tenant=tenant, role=Role.MEMBER)  # a role changed since is kept
        with tenant_context(tenant), transaction.atomic():
            _seed_tenant_data(demo)
        seeded.append((tenant, demo))
    return seeded


def _seed_tenant_data(demo: DemoTenant) -> None:
    for sku, name, price in demo.products:
        if not Product.objects.filter(sku=sku).exists():
            product_create(name=name, sku=sku, price=Decimal(price))
    for name, email in demo.customers:
        if not Customer.objects.filter(email__iexact=email).exists():
            customer_create(name=name, email=email)
    # One booking tomorrow at 10:00, added again on a later day's seed: the booking reminder task
    # (bookings.send_reminders) always has something to send in development.
    start = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    if not Booking.objects.filter(start=start).exists():
        product = Product.objects.get(sku=demo.products[0][0])
        customer = Customer.objects.get(email__iexact=demo.customers[0][1])
        booking_create(
            bookings=DjangoBookingRepository(),
            product_id=product.pk,
            customer_id=customer.pk,
            slot=Slot(start=start, end=start + dt.timedelta(hours=1)),
        )
