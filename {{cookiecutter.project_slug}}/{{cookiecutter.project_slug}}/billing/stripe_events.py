"""Stripe's webhook events applied to the tenants' subscriptions, each event once.

The webhook view (platform.webhooks) verifies an event's signature, then calls `stripe_event_process`. Each
event id is stored (WebhookEvent, unique per provider and id) in the transaction of the change it makes, so a
replay changes nothing. Events handled:

- `checkout.session.completed`: links the Stripe customer and subscription to the tenant named in the session's
  metadata; the plan from the metadata;
- `customer.subscription.created`, `.updated`, `.deleted`: status, plan (from the price id, STRIPE_PRICE_IDS),
  interval, period end, trial end, cancel at period end;
- `invoice.paid`: active again (an overdue tenant gets full access at once), the period the invoice paid;
- `invoice.payment_failed`: past due since the event (the grace period of BILLING_GRACE_DAYS starts).

Stripe does not deliver events in order: an event older (Stripe's `created`) than the newest one applied to a
subscription (Subscription.stripe_state_at) changes nothing. Other event types, and events for no known
tenant, are recorded as ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from ..errors import InvalidValue, shown
from ..tenancy.models import Tenant
from .domain import SubscriptionStatus, UnknownPlan
from .models import Plan, Subscription, WebhookEvent
from .services import plan_change, subscription_of
from .stripe_provider import price_plan

PROVIDER = "stripe"

# Stripe's subscription statuses mapped onto the project's (billing.domain.SubscriptionStatus).
STATUSES: dict[str, SubscriptionStatus] = {
    "trialing": SubscriptionStatus.TRIALING,
    "active": SubscriptionStatus.ACTIVE,
    "past_due": SubscriptionStatus.PAST_DUE,
    "unpaid": SubscriptionStatus.PAST_DUE,
    "incomplete": SubscriptionStatus.PAST_DUE,
    "paused": SubscriptionStatus.PAST_DUE,
    "canceled": SubscriptionStatus.CANCELED,
    "incomplete_expired": SubscriptionStatus.CANCELED,
}

SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
INVOICE_EVENTS = ("invoice.paid", "invoice.payment_failed")
# The event types to select for the webhook endpoint in Stripe's dashboard (docs/billing.md).
HANDLED = ("checkout.session.completed", *SUBSCRIPTION_EVENTS, *INVOICE_EVENTS)

OUTCOME_MAX = WebhookEvent._meta.get_field("outcome").max_length or 300
# Longest id (of an event, subscription, customer) or other text read from an event: what the columns hold.
TEXT_MAX = WebhookEvent._meta.get_field("event_id").max_length or 255


class MalformedEvent(InvalidValue):
    """An event lacks a field its type needs, or a field has the wrong type; nothing was recorded or changed."""


@dataclass(frozen=True)
class EventResult:
    """What processing an event did: `outcome` in words (also stored in WebhookEvent.outcome, e.g. "applied to
    acme: past_due, plan starter" or "ignored: ..."); `replay` when the event had been processed before and
    nothing was done now."""

    outcome: str
    replay: bool = False


@dataclass(frozen=True)
class _Event:
    id: str
    type: str
    created: int
    object: Mapping[str, Any]

    @property
    def time(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.created, tz=dt.UTC)


def stripe_event_process(event: Mapping[str, Any]) -> EventResult:
    """Apply a verified Stripe event (the JSON object Stripe posted, decoded) once.

    Stores WebhookEvent(provider "stripe", the event's id) in the transaction of the change; an event id seen
    before returns EventResult(replay=True) and changes nothing. Plan changes go through
    billing.services.plan_change (audited `billing.plan_change`, source "stripe").

    Raises MalformedEvent naming the field when the event lacks `id`, `type`, `created`, `data.object` or a
    field its type needs (nothing recorded: Stripe retries it), ImproperlyConfigured when STRIPE_PRICE_IDS is
    malformed or names a plan missing from the catalogue (nothing recorded).
    """
    parsed = _envelope(event)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = WebhookEvent.objects.create(
                    provider=PROVIDER, event_id=parsed.id, type=parsed.type[:100], created=parsed.created
                )
        except IntegrityError:
            return EventResult("already processed", replay=True)
        outcome = _apply(parsed)[:OUTCOME_MAX]
        record.outcome = outcome
        record.save(update_fields=["outcome"])
    return EventResult(outcome)


def _apply(event: _Event) -> str:
    if event.type == "checkout.session.completed":
        return _checkout_completed(event)
    if event.type in SUBSCRIPTION_EVENTS:
        return _subscription_changed(event)
    if event.type in INVOICE_EVENTS:
        return _invoice(event)
    return f"ignored: event type {event.type!r} is not handled (handled: {', '.join(HANDLED)})"


# Reading fields -------------------------------------------------------------------------------------------------


def _envelope(event: Mapping[str, Any]) -> _Event:
    if not isinstance(event, Mapping):
        raise MalformedEvent(f"the event is {shown(event, 60)}; expected a JSON object")
    event_id = _get(event, "id", str, what="the event")
    what = f"event {event_id}"
    created: int = _get(event, "created", int, what=what)
    _stamp_check(created, "created", what=what)
    return _Event(
        id=event_id,
        type=_get(event, "type", str, what=what),
        created=created,
        object=_get(event, "data.object", Mapping, what=what),
    )


_KINDS = {str: "a string", int: "an integer", bool: "true or false", Mapping: "an object", list: "a list"}


def _get(source: Mapping[str, Any], path: str, kind: type, *, what: str, required: bool = True) -> Any:
    """The value at the dotted `path` of `source` (a number part indexes a list); None when absent or null and
    not `required`. Raises MalformedEvent naming the field when it is missing and required, or not of `kind`."""
    value: Any = source
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit():
            value = value[int(part)] if int(part) < len(value) else None
        else:
            value = None
        if value is None:
            break
    if value is None:
        if required:
            raise MalformedEvent(f"{what} has no {path}; Stripe's events of this type carry it")
        return None
    wrong_bool = isinstance(value, bool) and kind is not bool
    if not isinstance(value, kind) or wrong_bool:
        raise MalformedEvent(f"{what} has {path} {shown(value, 60)}; expected {_KINDS.get(kind, kind.__name__)}")
    if isinstance(value, str) and len(value) > TEXT_MAX:
        raise MalformedEvent(f"{what} has {path} {shown(value, 60)}; expected at most {TEXT_MAX} characters")
    return value


# Seconds since the epoch up to the end of the year 9999, the last a datetime holds.
_STAMP_MAX = 253_402_300_799


def _stamp(source: Mapping[str, Any], path: str, *, what: str, required: bool = True) -> int | None:
    """The Unix timestamp at `path` (as `_get`); raises MalformedEvent for one before 1970 or after 9999."""
    value: int | None = _get(source, path, int, what=what, required=required)
    if value is not None:
        _stamp_check(value, path, what=what)
    return value


def _stamp_check(value: int, path: str, *, what: str) -> None:
    if not 0 <= value <= _STAMP_MAX:
        raise MalformedEvent(f"{what} has {path} {value}; expected a Unix timestamp (seconds since 1970)")


def _time(value: int | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, tz=dt.UTC)


# Finding the tenant ---------------------------------------------------------------------------------------------


def _subscription_find(
    *, slug: str | None, subscription_id: str | None, customer_id: str | None
) -> Subscription | None:
    """The subscription (locked until the transaction ends) of the tenant with `slug` (the metadata Checkout
    wrote), else of the tenant linked to the Stripe subscription, else to the Stripe customer (when exactly one
    tenant is); None when no tenant matches."""
    tenant = Tenant.objects.filter(slug=slug).first() if slug else None
    if tenant is None and subscription_id:
        tenant = Tenant.objects.filter(subscription__stripe_subscription_id=subscription_id).first()
    if tenant is None and customer_id:
        tenants = list(Tenant.objects.filter(subscription__stripe_customer_id=customer_id)[:2])
        tenant = tenants[0] if len(tenants) == 1 else None
    return subscription_of(tenant, lock=True) if tenant is not None else None


def _no_tenant(slug: str | None, subscription_id: str | None, customer_id: str | None) -> str:
    named = ", ".join(
        f"{label} {value}"
        for label, value in (("tenant", slug), ("subscription", subscription_id), ("customer", customer_id))
        if value
    )
    return f"ignored: no workspace matches {named or 'the event (no tenant, subscription or customer in it)'}"


def _stale(subscription: Subscription, event: _Event) -> str | None:
    if event.created < subscription.stripe_state_at:
        return (
            f"ignored: older ({event.created}) than the newest event applied to {subscription.tenant.slug} "
            f"({subscription.stripe_state_at})"
        )
    return None


def _save_with_plan(subscription: Subscription, plan_code: str | None, interval: str | None) -> str:
    """Save `subscription`, then move it to `plan_code` (billing.services.plan_change, audited) when given;
    returns the plan code it is on."""
    subscription.provider = PROVIDER
    subscription.save()
    if plan_code is None or (plan_code == subscription.plan.code and interval in (None, subscription.interval)):
        return subscription.plan.code
    try:
        changed = plan_change(tenant=subscription.tenant, plan_code=plan_code, source=PROVIDER, interval=interval)
    except UnknownPlan as exc:
        raise ImproperlyConfigured(f"STRIPE_PRICE_IDS names a plan that does not exist: {exc}") from exc
    return changed.plan.code


def _applied(subscription: Subscription, plan: str) -> str:
    return f"applied to {subscription.tenant.slug}: {subscription.status}, plan {plan}"


# Handlers -------------------------------------------------------------------------------------------------------


def _checkout_completed(event: _Event) -> str:
    session, what = event.object, f"event {event.id} ({event.type}) data.object"
    if _get(session, "mode", str, what=what, required=False) != "subscription":
        return "ignored: not a subscription checkout"
    slug = _get(session, "metadata.tenant", str, what=what, required=False) or _get(
        session, "client_reference_id", str, what=what, required=False
    )
    customer_id = _get(session, "customer", str, what=what, required=False)
    subscription_id = _get(session, "subscription", str, what=what, required=False)
    subscription = _subscription_find(slug=slug, subscription_id=subscription_id, customer_id=customer_id)
    if subscription is None:
        return _no_tenant(slug, subscription_id, customer_id)
    if stale := _stale(subscription, event):
        return stale
    subscription.stripe_customer_id = customer_id or subscription.stripe_customer_id
    subscription.stripe_subscription_id = subscription_id or subscription.stripe_subscription_id
    subscription.stripe_state_at = event.created
    plan = _get(session, "metadata.plan", str, what=what, required=False)
    if plan is not None and not Plan.objects.filter(code=plan).exists():
        kept = _save_with_plan(subscription, None, None)
        return _applied(subscription, kept) + f" (plan {plan!r} does not exist: unchanged)"
    return _applied(subscription, _save_with_plan(subscription, plan, None))


def _other_subscription(subscription: Subscription, stripe_id: str, *, live: bool, ends: bool) -> str | None:
    """Why an event about Stripe subscription `stripe_id`, not the one the tenant follows, changes nothing; None
    when it applies: a live subscription (`live`) takes over, anything else only after the followed one ended,
    and the end (`ends`) of a subscription the tenant no longer follows never applies."""
    followed = subscription.stripe_subscription_id
    if not followed or followed == stripe_id or live:
        return None
    if subscription.status != SubscriptionStatus.CANCELED or ends:
        return f"ignored: about subscription {stripe_id}; {subscription.tenant.slug} follows {followed}"
    return None


def _subscription_changed(event: _Event) -> str:
    stripe_sub, what = event.object, f"event {event.id} ({event.type}) data.object"
    stripe_id = _get(stripe_sub, "id", str, what=what)
    stripe_status = _get(stripe_sub, "status", str, what=what)
    customer_id = _get(stripe_sub, "customer", str, what=what, required=False)
    slug = _get(stripe_sub, "metadata.tenant", str, what=what, required=False)
    status = STATUSES.get(stripe_status)
    subscription = _subscription_find(slug=slug, subscription_id=stripe_id, customer_id=customer_id)
    if subscription is None:
        return _no_tenant(slug, stripe_id, customer_id)
    ends = status is SubscriptionStatus.CANCELED
    if why := _other_subscription(subscription, stripe_id, live=status is not None and not ends, ends=ends):
        return why
    if stale := _stale(subscription, event):
        return stale
    # Since API version 2025-03-31 the period is per subscription item.
    period_end = _stamp(stripe_sub, "current_period_end", what=what, required=False)
    if period_end is None:
        period_end = _stamp(stripe_sub, "items.data.0.current_period_end", what=what, required=False)
    # A subscription that ended (canceled at once, or after failed payments) ends access when it ended.
    ended_at = _stamp(stripe_sub, "ended_at", what=what, required=False) if ends else None
    subscription.stripe_subscription_id = stripe_id
    subscription.stripe_customer_id = customer_id or subscription.stripe_customer_id
    subscription.stripe_state_at = event.created
    if status is not None:
        subscription.status = status.value
    if status is SubscriptionStatus.PAST_DUE:
        subscription.past_due_since = subscription.past_due_since or event.time
    elif status is not None:
        subscription.past_due_since = None
    if ended_at is not None or period_end is not None:
        subscription.current_period_end = _time(ended_at if ended_at is not None else period_end)
    subscription.trial_end = _time(_stamp(stripe_sub, "trial_end", what=what, required=False))
    at_end = _get(stripe_sub, "cancel_at_period_end", bool, what=what, required=False)
    subscription.cancel_at_period_end = bool(at_end)
    price = _get(stripe_sub, "items.data.0.price.id", str, what=what, required=False)
    priced = price_plan(price) if price else None
    plan = _save_with_plan(subscription, *(priced or (None, None)))
    notes = "" if status is not None else f" (Stripe status {stripe_status!r} is not known: status unchanged)"
    if price and priced is None:
        notes += f" (price {price} is not in STRIPE_PRICE_IDS: plan unchanged)"
    return _applied(subscription, plan) + notes


def _invoice(event: _Event) -> str:
    invoice, what = event.object, f"event {event.id} ({event.type}) data.object"
    # Since API version 2025-03-31 the subscription is under parent.subscription_details.
    stripe_id = _get(invoice, "subscription", str, what=what, required=False) or _get(
        invoice, "parent.subscription_details.subscription", str, what=what, required=False
    )
    if stripe_id is None:
        return "ignored: not a subscription invoice"
    customer_id = _get(invoice, "customer", str, what=what, required=False)
    slug = _get(invoice, "subscription_details.metadata.tenant", str, what=what, required=False) or _get(
        invoice, "parent.subscription_details.metadata.tenant", str, what=what, required=False
    )
    subscription = _subscription_find(slug=slug, subscription_id=stripe_id, customer_id=customer_id)
    if subscription is None:
        return _no_tenant(slug, stripe_id, customer_id)
    if why := _other_subscription(subscription, stripe_id, live=False, ends=False):
        return why
    if stale := _stale(subscription, event):
        return stale
    subscription.stripe_subscription_id = stripe_id
    subscription.stripe_customer_id = customer_id or subscription.stripe_customer_id
    subscription.stripe_state_at = event.created
    if event.type == "invoice.paid":
        # A trial's opening invoice is paid with nothing: the subscription stays trialing.
        free = _get(invoice, "amount_paid", int, what=what, required=False) == 0
        if not (free and subscription.status == SubscriptionStatus.TRIALING):
            subscription.status = SubscriptionStatus.ACTIVE.value
        subscription.past_due_since = None
        lines = _get(invoice, "lines.data", list, what=what, required=False) or []
        ends = [
            _stamp(line, "period.end", what=f"{what} line {index}", required=False)
            for index, line in enumerate(lines)
            if isinstance(line, Mapping)
        ]
        if known := [end for end in ends if end is not None]:
            subscription.current_period_end = _time(max(known))
    else:
        subscription.status = SubscriptionStatus.PAST_DUE.value
        subscription.past_due_since = subscription.past_due_since or event.time
    return _applied(subscription, _save_with_plan(subscription, None, None))
