"""Stripe's webhook endpoint on the public host (`POST /billing/stripe/webhook/`): events signed here exactly as
Stripe signs them, posted to the real endpoint, checked on the subscription, on the tenant row the database
trigger copies it to, and on the access the tenant gets."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from {{ cookiecutter.project_slug }}.audit.models import AuditEvent
from {{ cookiecutter.project_slug }}.billing.models import Subscription, WebhookEvent
from {{ cookiecutter.project_slug }}.platform import webhooks
from {{ cookiecutter.project_slug }}.tenancy.domain import Access, billing_banner
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant, billing_grace

from conftest import client_on

URL = "/billing/stripe/webhook/"
SECRET = "whsec_test_0123456789"
PRICES = "starter:month=price_starter_m,starter:year=price_starter_y,pro:month=price_pro_m"
NOW = int(time.time())
DAY = 86_400
_ids = itertools.count(1)


@pytest.fixture
def public(settings: Any, db: None) -> Iterator[Client]:
    """A client of the public host, with Stripe billing configured."""
    settings.BILLING_PROVIDER = "stripe"
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.STRIPE_PRICE_IDS = PRICES
    yield Client(HTTP_HOST="localhost")


def signature(payload: str, *, timestamp: int | None = None, secret: str = SECRET) -> str:
    """The Stripe-Signature header Stripe sends: `t=<timestamp>,v1=<HMAC-SHA256 of "<timestamp>.<payload>">`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def post(client: Client, event: dict[str, Any] | str, *, header: str | None = None) -> Any:
    """Post `event` (an object, or the body as is) to the endpoint, signed (`header`: this Stripe-Signature)."""
    payload = event if isinstance(event, str) else json.dumps(event)
    extra = {"HTTP_STRIPE_SIGNATURE": header if header is not None else signature(payload)}
    return client.post(URL, data=payload, content_type="application/json", **extra)


def event(kind: str, obj: dict[str, Any], *, created: int = NOW) -> dict[str, Any]:
    return {
        "id": f"evt_test_{next(_ids)}", "object": "event", "type": kind, "created": created, "livemode": False,
        "api_version": "2026-10-28.endive", "data": {"object": obj},
    }  # fmt: skip


def stripe_subscription(
    status: str, *, price: str = "price_starter_m", period_end: int = NOW + 30 * DAY, tenant: str | None = "acme",
    sub_id: str = "sub_acme", new_api: bool = True, **fields: Any,
) -> dict[str, Any]:  # fmt: skip
    """A Subscription object as Stripe sends it; `new_api`: the period on the item (API 2025-03-31 and later)."""
    item: dict[str, Any] = {"id": "si_1", "object": "subscription_item", "price": {"id": price, "object": "price"}}
    obj: dict[str, Any] = {
        "id": sub_id, "object": "subscription", "customer": "cus_acme", "status": status,
        "metadata": {"tenant": tenant, "plan": "starter"} if tenant else {}, "cancel_at_period_end": False,
        "trial_end": None, "ended_at": None, "items": {"object": "list", "data": [item]}, **fields,
    }  # fmt: skip
    if new_api:
        item["current_period_end"] = period_end
    else:
        obj["current_period_end"] = period_end
    return obj


def invoice(*, period_end: int = NOW + 30 * DAY, amount_paid: int = 1900) -> dict[str, Any]:
    """An Invoice object of subscription sub_acme (API 2025-03-31 and later: the subscription under `parent`)."""
    details = {"subscription": "sub_acme", "metadata": {"tenant": "acme", "plan": "starter"}}
    return {
        "id": f"in_{next(_ids)}", "object": "invoice", "customer": "cus_acme", "amount_paid": amount_paid,
        "parent": {"type": "subscription_details", "subscription_details": details},
        "lines": {"object": "list", "data": [{"id": "il_1", "period": {"start": NOW, "end": period_end}}]},
    }  # fmt: skip


def state() -> tuple[Subscription, Tenant]:
    """acme's subscription and its tenant row, fresh from the database."""
    return Subscription.objects.select_related("plan").get(tenant__slug="acme"), Tenant.objects.get(slug="acme")


def at(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def test_a_signed_event_is_applied_to_the_subscription_and_the_tenant_row(public: Client) -> None:
    response = post(public, event("customer.subscription.updated", stripe_subscription("past_due")))
    assert response.status_code == 200, response.content
    assert response.json()["detail"] == "processed"
    assert response.json()["outcome"] == "applied to acme: past_due, plan starter"
    subscription, tenant = state()
    assert (subscription.status, subscription.plan.code, subscription.provider) == ("past_due", "starter", "stripe")
    assert (subscription.stripe_subscription_id, subscription.stripe_customer_id) == ("sub_acme", "cus_acme")
    assert subscription.current_period_end == at(NOW + 30 * DAY)
    assert subscription.past_due_since == at(NOW) and subscription.stripe_state_at == NOW
    assert (tenant.billing_status, tenant.billing_past_due_since) == ("past_due", at(NOW))
    assert tenant.billing_period_end == at(NOW + 30 * DAY)
    assert tenant.access() is Access.FULL  # within the grace period
    change = AuditEvent.objects.get(action="billing.plan_change", tenant_id=tenant.pk)
    assert (change.detail["from"], change.detail["to"], change.detail["source"]) == ("pro", "starter", "stripe")


def test_checkout_completed_links_the_customer_and_the_plan(public: Client) -> None:
    session = {
        "id": "cs_test_1", "object": "checkout.session", "mode": "subscription", "client_reference_id": "acme",
        "customer": "cus_new", "subscription": "sub_new", "metadata": {"tenant": "acme", "plan": "starter"},
    }  # fmt: skip
    response = post(public, event("checkout.session.completed", session))
    assert response.status_code == 200, response.content
    subscription, tenant = state()
    assert (subscription.stripe_customer_id, subscription.stripe_subscription_id) == ("cus_new", "sub_new")
    assert (subscription.plan.code, subscription.provider, subscription.status) == ("starter", "stripe", "active")
    assert (tenant.billing_status, tenant.access()) == ("active", Access.FULL)


def test_events_without_metadata_find_the_tenant_by_its_stripe_ids(public: Client) -> None:
    assert post(public, event("customer.subscription.created", stripe_subscription("active"))).status_code == 200
    # An invoice of the older API versions: the subscription at the top, no metadata.
    old_invoice = {**invoice(), "parent": None, "subscription": "sub_acme"}
    response = post(public, event("invoice.payment_failed", old_invoice, created=NOW + 1))
    assert response.json()["outcome"] == "applied to acme: past_due, plan starter"
    by_customer = stripe_subscription("active", tenant=None, sub_id="sub_other", created=NOW)
    # The end of another subscription of the same customer leaves the followed one alone.
    ended = event("customer.subscription.deleted", {**by_customer, "status": "canceled"}, created=NOW + 2)
    assert post(public, ended).json()["outcome"] == "ignored: about subscription sub_other; acme follows sub_acme"
    subscription, tenant = state()
    assert (subscription.stripe_subscription_id, subscription.status, tenant.billing_status) == (
        "sub_acme",
        "past_due",
        "past_due",
    )
    # A live subscription of that customer takes over.
    response = post(public, event("customer.subscription.created", by_customer, created=NOW + 3))
    assert response.json()["outcome"] == "applied to acme: active, plan starter"
    subscription, tenant = state()
    assert (subscription.stripe_subscription_id, tenant.billing_status, tenant.access()) == (
        "sub_other",
        "active",
        Access.FULL,
    )


def test_the_older_api_versions_period_and_a_trial(public: Client) -> None:
    trialing = stripe_subscription("trialing", price="price_pro_m", new_api=False, trial_end=NOW + 14 * DAY)
    assert post(public, event("customer.subscription.created", trialing)).status_code == 200
    # The trial's opening invoice is paid with nothing: still trialing.
    assert post(public, event("invoice.paid", invoice(period_end=NOW + 14 * DAY, amount_paid=0))).status_code == 200
    subscription, tenant = state()
    assert (subscription.status, subscription.plan.code) == ("trialing", "pro")
    assert subscription.trial_end == subscription.current_period_end == at(NOW + 14 * DAY)
    assert (tenant.billing_status, tenant.billing_trial_end) == ("trialing", at(NOW + 14 * DAY))
    assert tenant.access() is Access.FULL
    assert tenant.access(now=at(NOW + 14 * DAY) + billing_grace()) is Access.READ_ONLY  # trial over, unpaid


def test_a_bad_signature_changes_nothing(public: Client) -> None:
    payload = json.dumps(event("customer.subscription.deleted", stripe_subscription("canceled")))
    for header in (signature(payload, secret="whsec_other"), signature(payload + " "), "", "t=abc,v1=00", "v0=1"):
        response = post(public, payload, header=header)
        assert response.status_code == 400, (header, response.content)
        assert "Stripe-Signature" in response.json()["detail"]
    subscription, tenant = state()
    assert (subscription.status, tenant.billing_status, tenant.access()) == ("active", "active", Access.FULL)
    assert not WebhookEvent.objects.exists()


def test_a_stale_timestamp_is_refused(public: Client) -> None:
    payload = json.dumps(event("customer.subscription.deleted", stripe_subscription("canceled")))
    response = post(public, payload, header=signature(payload, timestamp=int(time.time()) - 301))
    assert response.status_code == 400
    assert "STRIPE_WEBHOOK_TOLERANCE (300 s)" in response.json()["detail"]
    subscription, tenant = state()
    assert (subscription.status, tenant.billing_status) == ("active", "active")
    assert not WebhookEvent.objects.exists()


def test_a_replayed_event_changes_nothing(public: Client) -> None:
    failed = event("invoice.payment_failed", invoice())
    assert post(public, failed).json()["detail"] == "processed"
    assert state()[1].billing_status == "past_due"
    # An operator marks it paid meanwhile; Stripe delivers the same event again (same id, signed anew).
    Subscription.objects.filter(tenant__slug="acme").update(status="active", past_due_since=None)
    response = post(public, failed)
    assert (response.status_code, response.json()["detail"]) == (200, "already processed")
    subscription, tenant = state()
    assert (subscription.status, tenant.billing_status, tenant.access()) == ("active", "active", Access.FULL)
    assert WebhookEvent.objects.filter(event_id=failed["id"]).count() == 1


def test_an_older_event_arriving_late_changes_nothing(public: Client) -> None:
    newer = event("customer.subscription.updated", stripe_subscription("active", price="price_pro_m"), created=NOW)
    older = event(
        "customer.subscription.updated", stripe_subscription("past_due", price="price_starter_m"), created=NOW - 60
    )
    assert post(public, newer).status_code == 200
    response = post(public, older)
    assert response.status_code == 200
    assert response.json()["outcome"].startswith("ignored: older")
    subscription, tenant = state()
    assert (subscription.status, subscription.plan.code, subscription.stripe_state_at) == ("active", "pro", NOW)
    assert (tenant.billing_status, tenant.billing_past_due_since, tenant.access()) == ("active", None, Access.FULL)
    assert WebhookEvent.objects.get(event_id=older["id"]).outcome.startswith("ignored: older")


def test_unknown_types_and_tenants_are_recorded_and_ignored(public: Client) -> None:
    unknown = event("customer.created", {"id": "cus_acme", "object": "customer"})
    response = post(public, unknown)
    assert response.status_code == 200
    assert response.json()["outcome"].startswith("ignored: event type 'customer.created' is not handled")
    stranger = event("customer.subscription.updated", stripe_subscription("canceled", tenant=None, sub_id="sub_x"))
    stranger["data"]["object"]["customer"] = "cus_x"
    response = post(public, stranger)
    assert response.json()["outcome"] == "ignored: no workspace matches subscription sub_x, customer cus_x"
    assert WebhookEvent.objects.filter(provider="stripe").count() == 2
    subscription, tenant = state()
    assert (subscription.status, subscription.plan.code, tenant.billing_status) == ("active", "pro", "active")


def test_malformed_events_are_refused_naming_the_field(public: Client) -> None:
    no_id = event("customer.subscription.updated", stripe_subscription("past_due"))
    del no_id["data"]["object"]["id"]
    bad_created = event("invoice.paid", invoice())
    bad_created["created"] = "yesterday"
    far_period = event("customer.subscription.updated", stripe_subscription("active", period_end=10**15))
    cases = [
        (no_id, "(customer.subscription.updated) data.object has no id"),
        (bad_created, "has created 'yesterday'; expected an integer"),
        (far_period, f"data.object has items.data.0.current_period_end {10**15}; expected a Unix timestamp"),
        ({**event("invoice.paid", invoice()), "id": "evt_" + "x" * 300}, "expected at most 255 characters"),
        (json.dumps([1, 2]), "not a JSON object"),
        ("{not json", "not a JSON object"),
        ({"id": "evt_1", "type": "invoice.paid", "created": NOW}, "event evt_1 has no data.object"),
    ]
    for body, message in cases:
        response = post(public, body)
        assert response.status_code == 400, (body, response.content)
        assert message in response.json()["detail"]
    assert not WebhookEvent.objects.exists()
    assert state()[1].billing_status == "active"


def test_the_endpoint_refuses_other_methods_hosts_sizes_and_missing_configuration(
    public: Client, other_tenant: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert public.get(URL).status_code == 405
    payload = json.dumps(event("invoice.payment_failed", invoice()))
    # Tenants have no such endpoint (on their host, or under their base path in path mode).
    assert post(client_on(other_tenant), payload).status_code == 404
    monkeypatch.setattr(webhooks, "STRIPE_WEBHOOK_MAX_BYTES", 100)
    assert post(public, payload).status_code == 413
    monkeypatch.undo()
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = post(public, payload)
    assert response.status_code == 503 and "STRIPE_WEBHOOK_SECRET" in response.json()["detail"]
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.STRIPE_PRICE_IDS = "starter=price_1"
    response = post(public, event("customer.subscription.updated", stripe_subscription("active")))
    assert response.status_code == 503 and "malformed pair 'starter=price_1'" in response.json()["detail"]
    settings.BILLING_PROVIDER = "none"
    response = post(public, payload)
    assert response.status_code == 503 and "BILLING_PROVIDER" in response.json()["detail"]
    assert not WebhookEvent.objects.exists()
    assert state()[1].billing_status == "active"


def test_failed_payment_grace_read_only_then_paid(public: Client, settings: Any) -> None:
    failed_at = NOW - 3600
    assert post(public, event("invoice.payment_failed", invoice(), created=failed_at)).status_code == 200
    subscription, tenant = state()
    assert (subscription.status, subscription.past_due_since) == ("past_due", at(failed_at))
    assert (tenant.billing_status, tenant.billing_past_due_since) == ("past_due", at(failed_at))
    # Within the grace period: full access, with a banner naming when it becomes read-only.
    assert tenant.access() is Access.FULL
    banner = billing_banner(tenant.billing_snapshot, now=at(NOW), grace=billing_grace())
    assert banner is not None and "becomes read-only on" in banner
    assert tenant.access(now=at(failed_at) + billing_grace()) is Access.READ_ONLY
    # A second failure (Stripe's retry) keeps the first date; with no grace the tenant is read-only at once.
    assert post(public, event("invoice.payment_failed", invoice(), created=NOW)).status_code == 200
    settings.BILLING_GRACE_DAYS = 0
    subscription, tenant = state()
    assert tenant.billing_past_due_since == at(failed_at)
    assert tenant.access() is Access.READ_ONLY
    # Paid: active and full access at once, the paid period as the period end.
    assert post(public, event("invoice.paid", invoice(period_end=NOW + 31 * DAY), created=NOW + 1)).status_code == 200
    subscription, tenant = state()
    assert (subscription.status, subscription.past_due_since) == ("active", None)
    assert (tenant.billing_status, tenant.billing_past_due_since) == ("active", None)
    assert tenant.billing_period_end == at(NOW + 31 * DAY)
    assert tenant.access() is Access.FULL
    # Canceled at the period's end: full access until then, suspended after.
    ended = stripe_subscription("canceled", period_end=NOW + 31 * DAY, ended_at=NOW + 31 * DAY)
    assert post(public, event("customer.subscription.deleted", ended, created=NOW + 2)).status_code == 200
    subscription, tenant = state()
    assert (tenant.billing_status, tenant.access()) == ("canceled", Access.FULL)
    assert tenant.access(now=at(NOW + 31 * DAY + 1)) is Access.SUSPENDED
