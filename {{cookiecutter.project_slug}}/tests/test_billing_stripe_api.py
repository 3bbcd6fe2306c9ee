"""The Stripe provider's calls to Stripe's API (Checkout Sessions, customer portal sessions), made through the
official `stripe` library against a local stand-in for Stripe's servers (tests/stripe_fake.py)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from {{ cookiecutter.project_slug }}.billing.models import Plan, Subscription
from {{ cookiecutter.project_slug }}.billing.providers import ProviderUnavailable, provider
from {{ cookiecutter.project_slug }}.billing.services import subscription_of
from {{ cookiecutter.project_slug }}.billing.stripe_provider import StripeProvider, price_ids_parse
from {{ cookiecutter.project_slug }}.errors import InvalidValue
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

from .stripe_fake import StripeRequest, stripe_fake

PRICES = "starter:month=price_starter_m, starter:year=price_starter_y,pro:month=price_pro_m"
# What the Billing page passes: the public host's /billing/done/<slug>/ (billing_views._back_url).
SUCCESS = "http://localhost:8000/billing/done/acme/?result=success"
CANCEL = "http://localhost:8000/billing/done/acme/?result=cancel"


@pytest.fixture
def fake(settings: Any) -> Iterator[list[StripeRequest]]:
    with stripe_fake() as (base_url, requests):
        settings.BILLING_PROVIDER = "stripe"
        settings.STRIPE_SECRET_KEY = "sk_test_fake"
        settings.STRIPE_PRICE_IDS = PRICES
        settings.STRIPE_API_BASE = base_url
        yield requests


@pytest.fixture
def acme(db: None) -> Subscription:
    return subscription_of(Tenant.objects.get(slug="acme"))


def _checkout(subscription: Subscription, plan: str = "starter", interval: str = "month") -> str:
    return provider().checkout_url(
        subscription=subscription, plan=Plan.objects.get(code=plan), interval=interval,
        success_url=SUCCESS, cancel_url=CANCEL, email="owner@acme.localhost",
    )  # fmt: skip


def test_checkout_for_a_new_customer_sends_the_price_urls_email_and_tenant(
    fake: list[StripeRequest], acme: Subscription, settings: Any
) -> None:
    assert isinstance(provider(), StripeProvider)
    url = _checkout(acme)
    (request,) = fake
    assert (request.method, request.path) == ("POST", "/v1/checkout/sessions")
    assert request.headers["Authorization"] == "Bearer sk_test_fake"
    form = request.form
    assert form["mode"] == "subscription"
    assert form["line_items[0][price]"] == "price_starter_m"
    assert form["line_items[0][quantity]"] == "1"
    assert (form["success_url"], form["cancel_url"]) == (SUCCESS, CANCEL)
    assert form["customer_email"] == "owner@acme.localhost"
    assert "customer" not in form
    assert form["client_reference_id"] == "acme"
    assert (form["metadata[tenant]"], form["metadata[plan]"]) == ("acme", "starter")
    assert (form["subscription_data[metadata][tenant]"], form["subscription_data[metadata][plan]"]) == (
        "acme",
        "starter",
    )
    # The session's URL is Stripe's page; the fake's sends the browser on to success_url.
    assert url.startswith(settings.STRIPE_API_BASE) and "/pay/cs_test_" in url
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(url, timeout=5)
    assert redirect.value.code == 303 and redirect.value.headers["Location"] == SUCCESS


def test_checkout_for_a_known_customer_yearly(fake: list[StripeRequest], acme: Subscription) -> None:
    acme.stripe_customer_id, acme.status = "cus_acme", "canceled"
    acme.stripe_subscription_id = "sub_ended"
    acme.save()
    _checkout(acme, interval="year")
    form = fake[0].form
    assert form["line_items[0][price]"] == "price_starter_y"
    assert form["customer"] == "cus_acme"
    assert "customer_email" not in form


def test_checkout_refused_without_a_price_or_with_a_live_subscription(
    fake: list[StripeRequest], acme: Subscription
) -> None:
    with pytest.raises(InvalidValue, match=r"Pro plan \(pro\) has no Stripe price for the interval 'year'.*pro:year="):
        _checkout(acme, plan="pro", interval="year")
    with pytest.raises(InvalidValue, match="interval 'week' is not valid"):
        _checkout(acme, interval="week")
    acme.stripe_subscription_id, acme.status = "sub_live", "active"
    acme.save()
    with pytest.raises(ProviderUnavailable, match="already has the Stripe subscription sub_live"):
        _checkout(acme)
    assert fake == []


def test_stripe_errors_are_provider_unavailable(fake: list[StripeRequest], acme: Subscription, settings: Any) -> None:
    settings.STRIPE_PRICE_IDS = "starter:month=price_gone_1"
    with pytest.raises(ProviderUnavailable, match=r"Stripe refused the checkout.*No such price: 'price_gone_1'"):
        _checkout(acme)
    acme.stripe_customer_id = "cus_gone"
    with pytest.raises(ProviderUnavailable, match="No such customer: 'cus_gone'"):
        provider().portal_url(subscription=acme, return_url=SUCCESS)
    assert [request.path for request in fake] == ["/v1/checkout/sessions", "/v1/billing_portal/sessions"]


def test_portal_for_the_tenants_customer(fake: list[StripeRequest], acme: Subscription) -> None:
    with pytest.raises(ProviderUnavailable, match="no Stripe customer yet"):
        provider().portal_url(subscription=acme, return_url=SUCCESS)
    assert fake == []
    acme.stripe_customer_id = "cus_acme"
    url = provider().portal_url(subscription=acme, return_url="http://localhost:8000/billing/done/acme/?result=return")
    (request,) = fake
    assert (request.path, request.form) == (
        "/v1/billing_portal/sessions",
        {"customer": "cus_acme", "return_url": "http://localhost:8000/billing/done/acme/?result=return"},
    )
    assert "/portal/bps_test_" in url


def test_configuration_errors_name_the_setting(settings: Any, db: None) -> None:
    settings.BILLING_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="STRIPE_SECRET_KEY"):
        provider()
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_PRICE_IDS = "starter:month=price_1,pro-month=price_2"
    with pytest.raises(ImproperlyConfigured, match=r"malformed pair 'pro-month=price_2'.*<plan>:<month\|year>"):
        provider()
    with pytest.raises(ImproperlyConfigured, match="names starter:month twice"):
        price_ids_parse("starter:month=price_1,starter:month=price_2")
    with pytest.raises(ImproperlyConfigured, match="gives the price price_1 to both starter:month and pro:year"):
        price_ids_parse("starter:month=price_1,pro:year=price_1")
    with pytest.raises(ImproperlyConfigured, match="malformed pair 'starter:week=price_1'"):
        price_ids_parse("starter:week=price_1")
    assert price_ids_parse(" starter:month=price_1 , ,pro:year=price_2,") == {
        ("starter", "month"): "price_1",
        ("pro", "year"): "price_2",
    }
    assert price_ids_parse("") == {}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
