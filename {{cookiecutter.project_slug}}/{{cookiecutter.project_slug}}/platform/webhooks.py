"""Webhook endpoints of the public host: `POST /billing/stripe/webhook/`, where Stripe posts subscription and
invoice events (billing.stripe_events applies them)."""

from __future__ import annotations

import json

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..billing.stripe_events import MalformedEvent, stripe_event_process

# Largest event body accepted (bytes). Stripe's events are a few kB; lists in them (invoice lines) are cut short.
STRIPE_WEBHOOK_MAX_BYTES = 1_000_000


def _answer(status: int, detail: str, **extra: object) -> JsonResponse:
    return JsonResponse({"detail": detail, **extra}, status=status)


@csrf_exempt  # Stripe cannot send a CSRF token: the signature proves where the request comes from.
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """`POST /billing/stripe/webhook/` (public host only): a Stripe event, signed with the endpoint's secret.

    Answers JSON `{"detail": ...}`:
    - 200 once the event is applied or recorded as ignored (`outcome` says which), or when it was processed
      before (`detail` "already processed"; nothing changes);
    - 400 for a missing or wrong `Stripe-Signature`, a signed timestamp older than STRIPE_WEBHOOK_TOLERANCE
      seconds, a body that is not a JSON object, or an event lacking a field its type needs (named);
    - 413 for a body over STRIPE_WEBHOOK_MAX_BYTES;
    - 503 when Stripe billing is not configured (BILLING_PROVIDER, STRIPE_WEBHOOK_SECRET, STRIPE_PRICE_IDS):
      Stripe retries the event later.
    Any other method: 405.
    """
    if settings.BILLING_PROVIDER != "stripe":
        return _answer(503, f"Stripe billing is off (BILLING_PROVIDER={settings.BILLING_PROVIDER!r}); set it to stripe")
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        return _answer(503, "STRIPE_WEBHOOK_SECRET is not set: set it to the endpoint's signing secret (whsec_...)")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _answer(400, "Content-Length is not a number")
    if length > STRIPE_WEBHOOK_MAX_BYTES:
        return _answer(413, f"the event has {length} bytes; at most {STRIPE_WEBHOOK_MAX_BYTES} are accepted")
    payload = request.body
    signature = request.headers.get("Stripe-Signature")
    try:
        stripe.Webhook.construct_event(payload, signature, secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE)
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        message = exc.user_message or str(exc)
        if "tolerance" in message:  # signed correctly, too long ago: a replayed request
            tolerance = settings.STRIPE_WEBHOOK_TOLERANCE
            return _answer(400, f"the signed timestamp is over STRIPE_WEBHOOK_TOLERANCE ({tolerance} s) old: {message}")
        return _answer(400, f"the Stripe-Signature header does not verify: {message}")
    except (ValueError, TypeError, AttributeError):  # not UTF-8, not JSON, not a JSON object
        return _answer(400, "the body is not a JSON object (a Stripe event)")
    try:
        result = stripe_event_process(event)
    except MalformedEvent as exc:
        return _answer(400, str(exc))
    except ImproperlyConfigured as exc:
        return _answer(503, str(exc))
    return _answer(200, "already processed" if result.replay else "processed", outcome=result.outcome)
