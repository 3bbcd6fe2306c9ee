"""Billing providers behind one small interface (settings.BILLING_PROVIDER): `none` (plans change in the platform
admin or with `manage.py subscription`; no keys) and `stripe` (billing.stripe_provider: Stripe Checkout and the
customer portal; subscription state from Stripe's webhooks, billing.stripe_events)."""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .domain import ProviderUnavailable  # in billing.domain: stripe_provider raises it too (no import cycle)
from .models import Plan, Subscription

PROVIDERS = ("none", "stripe")


class BillingProvider(Protocol):
    """What the Billing page needs from a provider. URLs are absolute; the browser is sent there."""

    name: str

    def checkout_url(
        self, *, subscription: Subscription, plan: Plan, interval: str, success_url: str, cancel_url: str, email: str
    ) -> str:
        """A page where the tenant's owner subscribes to `plan` billed every `interval` ("month" or "year"), then
        returns to `success_url` (or `cancel_url`). Raises ProviderUnavailable, InvalidValue for a plan without a
        price id."""
        ...

    def portal_url(self, *, subscription: Subscription, return_url: str) -> str:
        """A page where the owner manages cards and invoices, returning to `return_url`. Raises ProviderUnavailable
        when the tenant has no customer at the provider yet."""
        ...


class NoProvider:
    """BILLING_PROVIDER=none: nothing to pay online; the platform admin or `manage.py subscription` changes plans."""

    name = "none"

    def checkout_url(
        self, *, subscription: Subscription, plan: Plan, interval: str, success_url: str, cancel_url: str, email: str
    ) -> str:
        raise ProviderUnavailable(
            f"online payment is off (BILLING_PROVIDER=none): ask the platform's administrators to move this "
            f"workspace to the {plan.name} plan"
        )

    def portal_url(self, *, subscription: Subscription, return_url: str) -> str:
        raise ProviderUnavailable("online payment is off (BILLING_PROVIDER=none): there are no cards or invoices")


def provider() -> BillingProvider:
    """The provider settings.BILLING_PROVIDER names; raises ImproperlyConfigured for another value, or for
    `stripe` without STRIPE_SECRET_KEY."""
    name = settings.BILLING_PROVIDER
    if name == "none":
        return NoProvider()
    if name == "stripe":
        # Imported only when configured: the `none` provider needs no Stripe code.
        from .stripe_provider import StripeProvider

        return StripeProvider.from_settings()
    raise ImproperlyConfigured(f"BILLING_PROVIDER {name!r} is not valid; expected one of: {', '.join(PROVIDERS)}")
