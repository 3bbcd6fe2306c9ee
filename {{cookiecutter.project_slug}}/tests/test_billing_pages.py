"""The Billing page, checkout and portal on tenant hosts; plan-limit warnings on the dashboard; plans and
subscriptions in the platform admin; the plan chosen at sign-up."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from {{ cookiecutter.project_slug }}.accounts.crossing import public_url
from {{ cookiecutter.project_slug }}.accounts.models import User
from {{ cookiecutter.project_slug }}.audit.models import AuditEvent
from {{ cookiecutter.project_slug }}.billing.domain import Limit, PlanLimitReached
from {{ cookiecutter.project_slug }}.billing.models import Plan, Subscription
from {{ cookiecutter.project_slug }}.billing.services import plan_change, subscription_of
from {{ cookiecutter.project_slug }}.billing_views import tenant_usage
from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.products.services import product_create
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

from .stripe_fake import stripe_fake
from conftest import client_on

pytestmark = pytest.mark.django_db
PASSWORD = "violet-harbour-lantern-42"


def text(response: Any) -> str:
    """The page's visible text, whitespace collapsed."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def part(response: Any, testid: str) -> str:
    """The visible text of the element with `data-testid=testid` (up to its closing tag of the same name)."""
    html = response.content.decode()
    match = re.search(rf'<(\w+)[^>]*data-testid="{re.escape(testid)}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no element {testid!r} on the page"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(2))).split())


def small_plan(**limits: int | None) -> Plan:
    """A plan for the test (rolled back with it), not offered: small limits, unlimited bookings unless given."""
    fields: dict[str, Any] = {
        "max_members": 10, "max_products": 4, "max_customers": 2, "max_bookings_per_month": None,
        "max_storage_mb": 50, **limits,
    }  # fmt: skip
    return Plan.objects.create(
        code="small", name="Small", price_monthly=Decimal("9.00"), price_yearly=Decimal("90.00"), currency="EUR",
        position=9, offered=False, **fields,
    )  # fmt: skip


@pytest.fixture
def on_small(tenant: Tenant) -> Plan:
    """acme on the Small plan: 3 of 4 products, 2 of 2 customers (its demo data)."""
    plan = small_plan()
    plan_change(tenant=tenant, plan_code="small")
    return plan


@pytest.fixture
def owner(client_for: Any, tenant: Tenant, owner_user: User) -> Client:
    return client_for(tenant, owner_user)


# --- usage ---------------------------------------------------------------------------------------------------


def test_tenant_usage_counts_each_limit_against_the_plan(tenant: Tenant, on_small: Plan) -> None:
    usage = {row.limit: row for row in tenant_usage(tenant)}

    assert list(usage) == list(Limit)
    assert (usage[Limit.PRODUCTS].usage, usage[Limit.PRODUCTS].allowed) == (Product.objects.count(), 4)
    assert (usage[Limit.CUSTOMERS].usage, usage[Limit.CUSTOMERS].allowed) == (2, 2)
    assert usage[Limit.CUSTOMERS].reached and not usage[Limit.CUSTOMERS].over
    assert usage[Limit.BOOKINGS_PER_MONTH].allowed is None and not usage[Limit.BOOKINGS_PER_MONTH].warning
    assert usage[Limit.MEMBERS].usage == tenant.memberships.count()  # type: ignore[attr-defined]  # no invitations
    assert usage[Limit.STORAGE_MB].usage == 0  # no uploads in the demo data
    # Bookings count by the month they were recorded in.
    next_month = timezone.now() + dt.timedelta(days=40)
    assert {row.limit: row.usage for row in tenant_usage(tenant, now=next_month)}[Limit.BOOKINGS_PER_MONTH] == 0


# --- the Billing page ----------------------------------------------------------------------------------------


def test_the_owner_sees_the_plan_its_status_dates_and_each_limit_with_usage_and_a_bar(
    owner: Client, tenant: Tenant, on_small: Plan, tenant_path: Callable[..., str]
) -> None:
    period_end = dt.datetime(2031, 5, 17, 9, 30, tzinfo=dt.UTC)
    Subscription.objects.filter(tenant=tenant).update(status="trialing", current_period_end=period_end)

    page = owner.get("/billing/")

    assert page.status_code == 200
    assert "Small plan" in part(page, "billing-plan")
    assert part(page, "billing-status") == "Trialing"
    assert part(page, "billing-prices").startswith("9.00 EUR a month or 90.00 EUR a year")
    assert part(page, "billing-period-end") == "2031-05-17 09:30 UTC"
    assert part(page, "billing-next-invoice") == "2031-05-17"
    assert part(page, "usage-products") == "Products 3 4 75 %"
    assert part(page, "usage-customers") == "Customers 2 2 100 % limit reached"
    assert part(page, "usage-bookings_per_month").endswith("unlimited")
    html = page.content.decode()
    assert '<progress value="75" max="100" aria-label="Products: 75 % used">' in html
    assert '<progress value="100" max="100" aria-label="Customers: 100 % used">' in html
    assert 'data-testid="billing-over"' not in html  # nothing is over the limit
    # The offered plans, each with a checkout form (Small, not offered, is not among them).
    assert 'data-testid="plan-small"' not in html
    assert part(page, "plan-pro").startswith("Pro")
    assert 'data-testid="checkout-pro"' in html and f'action="{tenant_path("/billing/checkout/")}"' in html
    assert 'data-testid="billing-portal"' in html and f'action="{tenant_path("/billing/portal/")}"' in html


def test_after_a_downgrade_the_page_says_what_is_over_and_that_creation_is_blocked(
    owner: Client, tenant: Tenant
) -> None:
    small_plan(max_products=2, max_customers=1)
    plan_change(tenant=tenant, plan_code="small")

    page = owner.get("/billing/")

    over = part(page, "billing-over")
    assert "holds more than the Small plan allows. Nothing was deleted" in over
    assert part(page, "over-products") == (
        "Products: 3 of 2 allowed. New products are blocked until there are fewer than 2 (remove 2)."
    )
    assert part(page, "over-customers") == (
        "Customers: 2 of 1 allowed. New customers are blocked until there are fewer than 1 (remove 2)."
    )
    assert "over the limit" in part(page, "usage-products")
    # What the page says holds: the product service refuses a new product.
    connection.set_tenant(tenant)  # the request left the connection in the public schema
    with pytest.raises(PlanLimitReached, match="The Small plan allows 2 products; this workspace has 3"):
        product_create(name="Extra", sku="EXTRA-1", price=Decimal("1.00"))


def test_members_get_403_and_admins_too_unless_billing_admins_manage(
    client_for: Any, tenant: Tenant, owner: Client, tenant_client: Client, manager_client: Client, settings: Any
) -> None:
    member_page = tenant_client.get("/billing/")
    assert member_page.status_code == 403
    assert "Only the owners of this workspace see and change its plan and billing" in text(member_page)
    assert tenant_client.post("/billing/checkout/", {"plan": "pro"}).status_code == 403
    assert tenant_client.post("/billing/portal/").status_code == 403
    assert manager_client.get("/billing/").status_code == 403
    assert manager_client.post("/billing/checkout/", {"plan": "pro"}).status_code == 403
    assert client_on(tenant).get("/billing/").status_code == 302  # to the login page
    # Only those allowed see the link.
    assert 'data-testid="billing-link"' in owner.get("/").content.decode()
    assert 'data-testid="billing-link"' not in tenant_client.get("/").content.decode()
    assert 'data-testid="billing-link"' not in manager_client.get("/").content.decode()

    settings.BILLING_ADMINS_MANAGE = True

    assert manager_client.get("/billing/").status_code == 200
    assert 'data-testid="billing-link"' in manager_client.get("/").content.decode()
    assert tenant_client.get("/billing/").status_code == 403


def test_with_provider_none_checkout_and_portal_show_why_on_the_page_and_change_nothing(
    owner: Client, tenant: Tenant, on_small: Plan, tenant_path: Callable[..., str]
) -> None:
    checkout = owner.post("/billing/checkout/", {"plan": "pro", "interval": "year"}, follow=True)

    assert checkout.status_code == 200 and checkout.redirect_chain == [(tenant_path("/billing/"), 302)]
    assert (
        "online payment is off (BILLING_PROVIDER=none): ask the platform's administrators to move this workspace "
        "to the Pro plan" in text(checkout)
    )
    portal = owner.post("/billing/portal/", follow=True)
    assert "online payment is off (BILLING_PROVIDER=none): there are no cards or invoices" in text(portal)
    unknown = owner.post("/billing/checkout/", {"plan": "gold", "interval": "month"}, follow=True)
    assert "plan 'gold' does not exist; expected one of: free, starter, pro" in text(unknown)
    weekly = owner.post("/billing/checkout/", {"plan": "pro", "interval": "week"}, follow=True)
    assert "interval 'week' is not accepted; expected one of: month, year" in text(weekly)
    assert subscription_of(tenant).plan.code == "small"


def test_checkout_goes_to_the_provider_which_returns_through_the_public_host(
    owner: Client, tenant: Tenant, settings: Any, tenant_path: Callable[..., str]
) -> None:
    with stripe_fake() as (base_url, requests):
        settings.BILLING_PROVIDER = "stripe"
        settings.STRIPE_SECRET_KEY = "sk_test_fake"
        settings.STRIPE_PRICE_IDS = "pro:year=price_pro_y"
        settings.STRIPE_API_BASE = base_url

        response = owner.post("/billing/checkout/", {"plan": "pro", "interval": "year"})

    assert response.status_code == 302 and response["Location"].startswith(base_url)
    assert "no-store" in response["Cache-Control"]
    [sent] = requests
    assert sent.form["line_items[0][price]"] == "price_pro_y"
    assert sent.form["customer_email"] == "owner@acme.localhost"
    assert sent.form["success_url"] == public_url("/billing/done/acme/?result=success")
    assert sent.form["cancel_url"] == public_url("/billing/done/acme/?result=cancel")

    back = Client(HTTP_HOST="localhost").get("/billing/done/acme/?result=success")
    # The tenant's home: its host in domain mode, /<prefix>/acme on the public host in path mode.
    home = "http://localhost" if tenant_path("/") != "/" else "http://acme.localhost"
    assert back.status_code == 302 and back["Location"] == home + tenant_path("/billing/?checkout=success")
    landed = owner.get("/billing/?checkout=success")
    assert part(landed, "billing-returned").startswith("Thank you. The new plan shows here as soon as")
    assert "Checkout was canceled" in part(owner.get("/billing/?checkout=cancel"), "billing-returned")
    assert Client(HTTP_HOST="localhost").get("/billing/done/nosuch/").status_code == 404
    odd = Client(HTTP_HOST="localhost").get("/billing/done/acme/?result=<script>")
    assert odd["Location"] == home + tenant_path("/billing/?checkout=return")


def test_the_billing_page_works_while_the_subscription_makes_the_tenant_read_only_or_suspended(
    owner: Client, tenant: Tenant
) -> None:
    overdue = timezone.now() - dt.timedelta(days=30)
    Subscription.objects.filter(tenant=tenant).update(status="past_due", past_due_since=overdue)

    page = owner.get("/billing/")
    checkout = owner.post("/billing/checkout/", {"plan": "pro"}, follow=True)

    assert page.status_code == 200
    assert part(page, "billing-status") == "Past due"
    assert "read-only until the subscription is paid" in part(page, "billing-access")
    assert checkout.status_code == 200 and "online payment is off" in text(checkout)

    Subscription.objects.filter(tenant=tenant).update(status="canceled", current_period_end=overdue)
    suspended = owner.get("/billing/")
    assert owner.get("/products/").status_code == 403  # the suspended page
    assert suspended.status_code == 200 and "This workspace is suspended" in part(suspended, "billing-access")
    assert owner.post("/billing/portal/", follow=True).status_code == 200


# --- the dashboard -------------------------------------------------------------------------------------------


def test_the_dashboard_warns_at_80_percent_and_says_limit_reached_at_100(
    owner: Client, tenant_client: Client, tenant: Tenant, tenant_path: Callable[..., str]
) -> None:
    small_plan(max_products=5, max_customers=2, max_members=50)
    plan_change(tenant=tenant, plan_code="small")
    Product.objects.create(name="Fourth", sku="FOURTH-1", price=Decimal("1.00"))  # 4 of 5 products: 80 %

    page = owner.get("/")
    member_page = tenant_client.get("/")

    assert part(page, "limit-warning-products").startswith("Nearly at the limit: 4 of 5 products used (80 %).")
    assert part(page, "limit-reached-customers").startswith(
        "Limit reached: 2 of 2 customers on your plan. New customers are blocked."
    )
    assert 'data-testid="limit-warning-members"' not in page.content.decode()  # 2 of 50
    assert "Change the plan on the Billing page" in part(page, "limit-warnings")
    assert f'href="{tenant_path("/billing/")}"' in page.content.decode()
    assert "An owner can change the plan." in part(member_page, "limit-warnings")
    assert "Change the plan on the Billing page" not in text(member_page)

    plan_change(tenant=tenant, plan_code="pro")  # no limits near: no warnings
    assert 'data-testid="limit-warnings"' not in owner.get("/").content.decode()


# --- the platform admin --------------------------------------------------------------------------------------


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_superuser(email="ops@platform.example", password=PASSWORD)


@pytest.fixture
def platform_client(staff: User) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    return client


def subscription_form(subscription: Subscription, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "plan": subscription.plan_id, "interval": subscription.interval, "status": subscription.status,
        "trial_end_0": "", "trial_end_1": "", "current_period_end_0": "", "current_period_end_1": "",
        "past_due_since_0": "", "past_due_since_1": "",
    }  # fmt: skip
    form.update(changes)
    return form


def test_a_plan_change_in_the_platform_admin_is_audited_and_raises_the_limit_at_once(
    platform_client: Client, staff: User, tenant: Tenant
) -> None:
    small_plan(max_products=3)
    plan_change(tenant=tenant, plan_code="small")
    with pytest.raises(PlanLimitReached):
        product_create(name="Blocked", sku="BLOCKED-1", price=Decimal("1.00"))
    subscription = subscription_of(tenant)
    AuditEvent.objects.all().delete()

    listing = platform_client.get("/admin/billing/subscription/?q=acme")
    response = platform_client.post(
        f"/admin/billing/subscription/{subscription.pk}/change/",
        subscription_form(subscription, plan=Plan.objects.get(code="pro").pk),
    )

    assert listing.status_code == 200 and "Acme Corporation" in text(listing) and "Small" in text(listing)
    assert response.status_code == 302
    [event] = AuditEvent.objects.filter(action="billing.plan_change")
    assert (event.actor_id, event.schema_name) == (staff.pk, "tenant_acme")
    assert event.detail == {"from": "small", "to": "pro", "status": "active", "source": "admin"}
    connection.set_tenant(tenant)
    product = product_create(name="Allowed now", sku="ALLOWED-1", price=Decimal("1.00"))
    assert product.pk is not None


def test_status_edits_in_the_platform_admin_reach_the_tenant_row(platform_client: Client, tenant: Tenant) -> None:
    subscription = subscription_of(tenant)

    response = platform_client.post(
        f"/admin/billing/subscription/{subscription.pk}/change/", subscription_form(subscription, status="past_due")
    )

    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.status == "past_due" and subscription.past_due_since is not None
    assert Tenant.objects.filter(pk=tenant.pk).values_list("billing_status", flat=True).get() == "past_due"
    assert platform_client.get(f"/admin/billing/subscription/{subscription.pk}/delete/").status_code == 403
    assert platform_client.get("/admin/billing/subscription/add/").status_code == 403


def test_plans_are_listed_and_edited_in_the_platform_admin_one_default_at_a_time(
    platform_client: Client, tenant: Tenant
) -> None:
    starter = Plan.objects.get(code="starter")
    fields = {
        "code": "starter", "name": "Starter", "price_monthly": "21.00", "price_yearly": "210.00", "currency": "USD",
        "trial_days": "7", "max_members": "5", "max_products": "600", "max_customers": "", "max_bookings_per_month":
        "2000", "max_storage_mb": "1000", "features": '["api"]', "offered": "on", "position": "1",
    }  # fmt: skip

    listing = platform_client.get("/admin/billing/plan/")
    refused = platform_client.post(f"/admin/billing/plan/{starter.pk}/change/", {**fields, "is_default": "on"})
    saved = platform_client.post(f"/admin/billing/plan/{starter.pk}/change/", fields)

    assert listing.status_code == 200 and all(name in text(listing) for name in ("Free", "Starter", "Pro"))
    assert refused.status_code == 200
    assert "plan 'free' is the default plan; untick it there first" in text(refused)
    assert saved.status_code == 302
    starter.refresh_from_db()
    assert (starter.price_monthly, starter.trial_days, starter.max_products) == (Decimal("21.00"), 7, 600)
    assert starter.max_customers is None
    plan_change(tenant=tenant, plan_code="starter")
    assert {u.limit: u.allowed for u in tenant_usage(tenant)}[Limit.PRODUCTS] == 600


# --- sign-up -------------------------------------------------------------------------------------------------

SIGNUP = {"company_name": "Initech", "slug": "initech", "email": "boss@initech.example", "password": PASSWORD}


def test_signup_offers_the_plans_with_the_default_chosen_and_a_trial_plan_starts_trialing() -> None:
    client = Client(HTTP_HOST="localhost")
    form = client.get("/signup/").content.decode()
    assert re.search(r'<input type="radio" name="plan" value="free"[^>]*checked', form)
    assert "Starter: 19.00 USD a month (190.00 a year), 14 days free" in unescape(form)

    response = client.post("/signup/", {**SIGNUP, "plan": "starter"})

    assert response.status_code == 302
    subscription = Subscription.objects.select_related("plan").get(tenant__slug="initech")
    assert (subscription.plan.code, subscription.status) == ("starter", "trialing")
    assert subscription.trial_end is not None
    assert dt.timedelta(days=13, hours=23) < subscription.trial_end - timezone.now() <= dt.timedelta(days=14)
    assert Tenant.objects.get(slug="initech").billing_status == "trialing"  # the trigger's copy


def test_signup_without_a_plan_uses_the_default_and_a_bad_plan_is_a_form_error() -> None:
    client = Client(HTTP_HOST="localhost")

    refused = client.post("/signup/", {**SIGNUP, "plan": "gold"})
    hidden = Plan.objects.filter(code="pro").update(offered=False)
    not_offered = client.post("/signup/", {**SIGNUP, "plan": "pro"})
    assert not Tenant.objects.filter(slug="initech").exists()
    default = client.post("/signup/", SIGNUP)

    assert refused.status_code == 200
    assert "plan 'gold' does not exist; expected one of: free, starter, pro" in part(refused, "errors-plan")
    assert hidden == 1
    assert "plan 'pro' is not offered; expected one of: free, starter" in part(not_offered, "errors-plan")
    assert default.status_code == 302
    subscription = Subscription.objects.select_related("plan").get(tenant__slug="initech")
    assert (subscription.plan.code, subscription.status) == ("free", "active")
