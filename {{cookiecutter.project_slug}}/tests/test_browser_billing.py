"""The plan limit and a Stripe upgrade in a real browser (Debian's chromium, driven by Playwright).

An owner on the free plan fills the product form once too often and reads the plan-limit message; opens Billing;
starts a checkout of Starter. The checkout page belongs to a local stand-in for Stripe's servers (tests/stripe_fake.py,
the only part outside the system), which sends the browser back to the public host as a paid checkout would. The
signed `checkout.session.completed` webhook (HMAC-SHA256 of `timestamp.payload`, as Stripe signs) then reaches the
server's real endpoint; the limit rises and the same product is created.

The server process runs with BILLING_PROVIDER=stripe and its own secrets; the tenant, its products and the owner
are committed for it, and removed afterwards with the spare schema they drew refilled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.models import User
from {{ cookiecutter.project_slug }}.accounts.services import user_delete
from {{ cookiecutter.project_slug }}.billing.models import Plan, WebhookEvent
from {{ cookiecutter.project_slug }}.lifecycle.provisioning import spare_pool_fill
from {{ cookiecutter.project_slug }}.lifecycle.services import tenant_create, tenant_drop
from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.products.services import product_create
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

from .stripe_fake import StripeRequest, stripe_fake
from conftest import running_server, server_tenant_url, test_database_url

pytestmark = pytest.mark.browser

WEBHOOK_SECRET = "whsec_browser_test"
PRICE_IDS = "starter:month=price_starter_month,starter:year=price_starter_year,pro:month=price_pro_month"
PASSWORD = "amber-quay-lantern-58"
T = TypeVar("T")


def off_the_event_loop(django_db_blocker: Any, work: Callable[[], T]) -> T:
    """Run `work` (ORM calls) in another thread: Playwright's sync API keeps an event loop running in this one,
    where Django refuses database calls."""

    def run() -> T:
        try:
            return work()
        finally:
            connection.close()

    with django_db_blocker.unblock(), ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@dataclass
class Shop:
    slug: str
    email: str
    limit: int
    port: int
    base_url: str
    stripe_requests: list[StripeRequest]


@pytest.fixture(scope="module")
def shop(django_db_setup: None, django_db_blocker: Any) -> Iterator[Shop]:
    """A committed tenant on the free plan with as many products as the plan allows, its owner with a password,
    and a server process billing through Stripe (the local fake)."""
    slug = f"bill-{secrets.token_hex(3)}"
    email = f"owner@{slug}.example"

    def create() -> tuple[int, str]:
        tenant = tenant_create(name="Billing Browser", slug=slug, owner_email=email)
        owner = User.objects.get(email=email)
        owner.set_password(PASSWORD)
        owner.save()
        limit = Plan.objects.get(code="free").max_products
        assert limit is not None and tenant.billing_status == "active"
        with tenant_context(tenant):
            for number in range(limit):
                product_create(name=f"Lamp {number}", sku=f"LAMP-{number}", price="9.50")
        return limit, test_database_url()

    limit, database_url = off_the_event_loop(django_db_blocker, create)
    try:
        with stripe_fake() as (stripe_base, stripe_requests):
            env = {
                "BILLING_PROVIDER": "stripe",
                "STRIPE_SECRET_KEY": "sk_test_browser",
                "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "STRIPE_PRICE_IDS": PRICE_IDS,
                "STRIPE_API_BASE": stripe_base,
            }
            with running_server(database_url, env) as url:
                port = urlsplit(url).port
                assert port is not None
                yield Shop(slug, email, limit, port, url, stripe_requests)
    finally:

        def clean_up() -> None:
            connection.set_schema_to_public()
            if Tenant.objects.filter(slug=slug).exists():
                tenant_drop(slug=slug)
            for user in User.objects.filter(email=email):
                user_delete(user=user)  # a user row is never deleted: its tombstone stays
            # The server committed the webhook it received; tests of the webhook endpoint expect none (--reuse-db).
            WebhookEvent.objects.filter(event_id__startswith=f"evt_{slug}_").delete()
            spare_pool_fill()

        off_the_event_loop(django_db_blocker, clean_up)


def signed_webhook(base_url: str, event: dict[str, Any]) -> dict[str, Any]:
    """POST `event` to the public host's webhook endpoint signed as Stripe signs: header
    `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<payload>" with the endpoint's secret>`."""
    payload = json.dumps(event)
    timestamp = int(time.time())
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(  # noqa: S310 - the local test server
        f"{base_url}/billing/stripe/webhook/",
        data=payload.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": f"t={timestamp},v1={mac}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local test server
        assert response.status == 200
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def fill_product(page: Any, name: str, sku: str) -> None:
    try:
        page.fill("input[name=name]", name)
    except Exception as exc:  # a page without the form: say which page it was (a rare failure in CI, 2026-12-07)
        raise AssertionError(f"no product form at {page.url}:\n{page.locator('body').inner_text()[:2000]}") from exc
    page.fill("input[name=sku]", sku)
    page.fill("input[name=price]", "12.00")
    page.fill("input[name=stock]", "3")
    page.get_by_role("button", name="Save").click()


def test_owner_hits_the_product_limit_upgrades_through_checkout_and_creates_the_product(
    browser: Any, shop: Shop, django_db_blocker: Any
) -> None:
    host = server_tenant_url(shop.base_url, shop.slug)  # its host, or its base path on the public host
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{host}/accounts/login/")
        page.fill("input[name=login]", shop.email)
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{host}/")
        # The dashboard already says the products limit is reached.
        assert "products" in page.locator("body").inner_text().lower()

        # One product too many: the form answers with the plan limit, and nothing is created.
        page.goto(f"{host}/products/new/")
        fill_product(page, "Desk lamp", "DESK-1")
        body = page.locator("body").inner_text()
        assert f"The Free plan allows {shop.limit} products" in body, body
        count = off_the_event_loop(django_db_blocker, lambda: _product_count(shop.slug))
        assert count == shop.limit

        # Billing: the owner's page shows the limit reached, then a checkout of Starter at the fake Stripe.
        page.get_by_test_id("billing-link").click()
        page.wait_for_url(f"{host}/billing/")
        assert page.get_by_test_id("current-plan").is_visible()
        products_row = page.get_by_test_id("usage-products")
        assert products_row.get_by_test_id("used").inner_text() == str(shop.limit)
        page.get_by_test_id("checkout-starter").get_by_role("button").click()
        # The fake's checkout page sends the browser to the success URL on the public host, which leads back to
        # the tenant's Billing page (`?checkout=success`, not the checkout POST's own /billing/checkout/).
        page.wait_for_url(f"{host}/billing/?checkout=success")
        assert page.get_by_test_id("billing-returned").is_visible()
        checkout = next(r for r in shop.stripe_requests if r.path == "/v1/checkout/sessions")
        assert checkout.form["line_items[0][price]"] == "price_starter_month"
        assert checkout.form["metadata[tenant]"] == shop.slug
        assert checkout.form["customer_email"] == shop.email
        assert urlsplit(checkout.form["success_url"]).hostname == "localhost"
        assert urlsplit(checkout.form["cancel_url"]).hostname == "localhost"

        # Stripe tells the server the checkout was paid, in a signed webhook.
        answer = signed_webhook(
            shop.base_url.replace("127.0.0.1", "localhost"),
            {
                "id": f"evt_{shop.slug}_{secrets.token_hex(6)}",  # the shop's clean-up finds it by the slug
                "object": "event",
                "type": "checkout.session.completed",
                "created": int(time.time()),
                "livemode": False,
                "data": {
                    "object": {
                        "id": "cs_test_browser",
                        "object": "checkout.session",
                        "mode": "subscription",
                        "client_reference_id": shop.slug,
                        "customer": "cus_browser",
                        "subscription": "sub_browser",
                        "metadata": {"tenant": shop.slug, "plan": "starter"},
                    }
                },
            },
        )
        assert answer, answer

        # The limit rose at once: the Billing page names Starter, and the same product is created.
        page.goto(f"{host}/billing/")
        assert "Starter plan" in page.get_by_test_id("billing-plan").inner_text()
        page.goto(f"{host}/products/new/")
        fill_product(page, "Desk lamp", "DESK-1")
        page.wait_for_url(f"{host}/products/")
        assert "Desk lamp" in page.locator("body").inner_text()
        count = off_the_event_loop(django_db_blocker, lambda: _product_count(shop.slug))
        assert count == shop.limit + 1
    finally:
        context.close()


def _product_count(slug: str) -> int:
    with tenant_context(Tenant.objects.get(slug=slug)):
        return Product.objects.count()
