"""Customer use cases in the current tenant's schema."""

from __future__ import annotations

from enum import Enum

from django.db import IntegrityError, transaction

from ..billing.domain import Limit
from ..billing.services import plan_limit_check
from .domain import CustomerNotFound, DuplicateEmail, normalize_email, normalize_name, normalize_phone
from .models import Customer


class _Keep(Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP
"""Default of customer_update's arguments: leave that field as it is."""


def _ensure_email_free(email: str, *, exclude_id: int | None = None) -> None:
    taken = Customer.objects.filter(email__iexact=email)
    if exclude_id is not None:
        taken = taken.exclude(pk=exclude_id)
    if taken.exists():
        raise DuplicateEmail(f"email {email!r} already belongs to another customer; use a different address")


def _save(customer: Customer) -> Customer:
    # The exists() check gives a readable error; the unique index settles a race between two writers.
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        raise DuplicateEmail(
            f"email {customer.email!r} already belongs to another customer; use a different address"
        ) from None
    return customer


def customer_create(*, name: str, email: str, phone: str | None = None) -> Customer:
    """Create a customer and return it; `email` is stored lowercase, `phone` is optional.

    Raises InvalidName, InvalidEmail, InvalidPhone, DuplicateEmail when another customer has the email address
    (ignoring case), PlanLimitReached when the plan's customer count is reached, TenantReadOnly when the
    workspace's payment is overdue; nothing is created then.
    """
    customer = Customer(name=normalize_name(name), email=normalize_email(email), phone=normalize_phone(phone))
    with transaction.atomic():
        # In the creating transaction: concurrent creators queue on the subscription lock (plan_limit_check).
        plan_limit_check(Limit.CUSTOMERS, usage=Customer.objects.count)
        _ensure_email_free(customer.email)
        return _save(customer)


def customer_update(
    *,
    customer_id: int,
    name: str | _Keep = KEEP,
    email: str | _Keep = KEEP,
    phone: str | _Keep | None = KEEP,
) -> Customer:
    """Change the given fields of customer `customer_id` (others stay as they are) and return it.

    `phone=None` or "" removes the phone number. Raises CustomerNotFound, and the errors of customer_create.
    """
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise CustomerNotFound(f"customer {customer_id!r} does not exist; expected the id of an existing customer")
    if not isinstance(name, _Keep):
        customer.name = normalize_name(name)
    if not isinstance(email, _Keep):
        customer.email = normalize_email(email)
        _ensure_email_free(customer.email, exclude_id=customer.pk)
    if not isinstance(phone, _Keep):
        customer.phone = normalize_phone(phone)
    return _save(customer)
