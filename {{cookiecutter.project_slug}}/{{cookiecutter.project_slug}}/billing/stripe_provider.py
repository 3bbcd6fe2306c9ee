"""The Stripe billing provider (BILLING_PROVIDER=stripe): Stripe Checkout to subscribe, Stripe's customer portal
for cards, invoices and plan changes, and the price ids of settings.STRIPE_PRICE_IDS. Subscription state comes
back through Stripe's webhooks (billing.stripe_events), never from these calls."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ..errors import InvalidValue, shown
from .domain import Interval, ProviderUnavailable, SubscriptionStatus
from .models import Plan, Subscription

# One pair of settings.STRIPE_PRICE_IDS: `<plan code>:<month|year>=<price id>`.
_PAIR_RE = re.compile(r"^(?P<plan>[A-Za-z0-9_-]+):(?P<interval>month|year)=(?P<price>[A-Za-z0-9_]+)$")
PAIR_FORMAT = "<plan>:<month|year>=<price id>, e.g. starter:month=price_123"


def price_ids_parse(text: str) -> dict[tuple[str, str], str]:
    """settings.STRIPE_PRICE_IDS as {(plan code, "month" or "year"): price id}.

    `text` holds `<plan>:<month|year>=<price id>` pairs separated by commas (spaces around them are ignored;
    empty: no prices). Raises ImproperlyConfigured naming the first malformed pair, a plan and interval given
    twice, or a price id given to two plans or intervals (a price must tell its plan apart)."""
    prices: dict[tuple[str, str], str] = {}
    owners: dict[str, str] = {}
    for raw in text.split(","):
        pair = raw.strip()
        if not pair:
            continue
        match = _PAIR_RE.fullmatch(pair)
        if match is None:
            raise ImproperlyConfigured(f"STRIPE_PRICE_IDS has the malformed pair {shown(pair)}; expected {PAIR_FORMAT}")
        key = (match["plan"], match["interval"])
        name = f"{key[0]}:{key[1]}"
        if key in prices:
            raise ImproperlyConfigured(f"STRIPE_PRICE_IDS names {name} twice ({prices[key]} and {match['price']})")
        if match["price"] in owners:
            raise ImproperlyConfigured(
                f"STRIPE_PRICE_IDS gives the price {match['price']} to both {owners[match['price']]} and {name}; "
                "each plan and interval needs a price of its own"
            )
        prices[key] = match["price"]
        owners[match["price"]] = name
    return prices


def price_ids() -> dict[tuple[str, str], str]:
    """settings.STRIPE_PRICE_IDS parsed (price_ids_parse); raises ImproperlyConfigured."""
    return price_ids_parse(getattr(settings, "STRIPE_PRICE_IDS", "") or "")


def price_plan(price_id: str) -> tuple[str, str] | None:
    """The (plan code, interval) settings.STRIPE_PRICE_IDS gives `price_id`, or None for a price it does not
    name. Raises ImproperlyConfigured."""
    return next((key for key, price in price_ids().items() if price == price_id), None)


def stripe_client() -> stripe.StripeClient:
    """A Stripe API client with settings.STRIPE_SECRET_KEY, talking to settings.STRIPE_API_BASE when set (tests
    point it at a local stand-in), else to Stripe. Raises ImproperlyConfigured without a secret key."""
    key = getattr(settings, "STRIPE_SECRET_KEY", "")
    if not key:
        raise ImproperlyConfigured(
            "BILLING_PROVIDER=stripe needs STRIPE_SECRET_KEY (the secret key sk_live_... or sk_test_... of the "
            "Stripe dashboard's Developers > API keys)"
        )
    base = getattr(settings, "STRIPE_API_BASE", "")
    return stripe.StripeClient(key, base_addresses={"api": base} if base else None)


class StripeProvider:
    """BILLING_PROVIDER=stripe: Checkout Sessions and customer portal sessions through Stripe's API.

    Both calls answer the URL of a page on Stripe's site the browser is sent to. A Stripe error (refused
    request, Stripe unreachable) is raised as ProviderUnavailable naming Stripe's message."""

    name = "stripe"

    def __init__(self, *, client: stripe.StripeClient, prices: Mapping[tuple[str, str], str]) -> None:
        self.client = client
        self.prices = dict(prices)

    @classmethod
    def from_settings(cls) -> StripeProvider:
        """The provider configured by STRIPE_SECRET_KEY, STRIPE_PRICE_IDS and STRIPE_API_BASE; raises
        ImproperlyConfigured for a missing key or a malformed price list."""
        return cls(client=stripe_client(), prices=price_ids())

    def price_for(self, plan: Plan, interval: str) -> str:
        """The price id of `plan` billed every `interval`; raises InvalidValue for an interval other than month
        or year, or a plan and interval settings.STRIPE_PRICE_IDS gives no price."""
        if interval not in {i.value for i in Interval}:
            raise InvalidValue(f"interval {shown(interval)} is not valid; expected month or year")
        price = self.prices.get((plan.code, interval))
        if price is None:
            priced = ", ".join(f"{code}:{every}" for code, every in self.prices) or "none"
            raise InvalidValue(
                f"the {plan.name} plan ({plan.code}) has no Stripe price for the interval {interval!r}: add "
                f"{plan.code}:{interval}=<price id> to STRIPE_PRICE_IDS (priced now: {priced})"
            )
        return price

    def checkout_url(
        self, *, subscription: Subscription, plan: Plan, interval: str, success_url: str, cancel_url: str, email: str
    ) -> str:
        """The URL of a Stripe Checkout page (mode subscription) for `plan` billed every `interval`, paid by the
        tenant's Stripe customer when known, else by a new customer with `email`. The tenant's slug and the plan
        code go into the session's and the subscription's metadata, which billing.stripe_events reads back.
        Stripe sends the browser to `success_url` or `cancel_url` (absolute URLs).

        Raises InvalidValue for a plan without a price, ProviderUnavailable when the tenant already pays a live
        Stripe subscription (its plan changes in the customer portal, so it is never billed twice) or Stripe
        refuses."""
        price = self.price_for(plan, interval)
        live = subscription.stripe_subscription_id and subscription.status != SubscriptionStatus.CANCELED
        if live:
            raise ProviderUnavailable(
                f"this workspace already has the Stripe subscription {subscription.stripe_subscription_id}: change "
                "its plan in the customer portal (Manage cards and invoices), so it is not billed twice"
            )
        slug = subscription.tenant.slug
        metadata = {"tenant": slug, "plan": plan.code}
        params: dict[str, Any] = {
            "mode": "subscription",
            "line_items": [{"price": price, "quantity": 1}],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": slug,
            "metadata": metadata,
            "subscription_data": {"metadata": dict(metadata)},
        }
        if subscription.stripe_customer_id:
            params["customer"] = subscription.stripe_customer_id
        elif email:
            params["customer_email"] = email
        try:
            session = self.client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise ProviderUnavailable(f"Stripe refused the checkout for the {plan.name} plan: {_message(exc)}") from exc
        return _url(session, "checkout session")

    def portal_url(self, *, subscription: Subscription, return_url: str) -> str:
        """The URL of Stripe's customer portal for the tenant's Stripe customer, returning to `return_url`.
        Raises ProviderUnavailable when the tenant has no Stripe customer yet (it has never checked out) or
        Stripe refuses."""
        if not subscription.stripe_customer_id:
            raise ProviderUnavailable(
                "this workspace has no Stripe customer yet: subscribe to a plan first, then cards and invoices "
                "can be managed"
            )
        params = {"customer": subscription.stripe_customer_id, "return_url": return_url}
        try:
            session = self.client.v1.billing_portal.sessions.create(params=params)  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            raise ProviderUnavailable(f"Stripe refused to open the customer portal: {_message(exc)}") from exc
        return _url(session, "billing portal session")


def _message(exc: stripe.StripeError) -> str:
    return exc.user_message or str(exc) or type(exc).__name__


def _url(session: Any, what: str) -> str:
    url = getattr(session, "url", None)
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ProviderUnavailable(f"Stripe answered a {what} without a URL ({shown(url)})")
    return url
