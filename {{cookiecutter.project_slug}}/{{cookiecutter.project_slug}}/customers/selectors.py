"""Customer reads for the current tenant."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .domain import CustomerNotFound
from .models import Customer


def customer_list(*, search: str | None = None) -> QuerySet[Customer]:
    """Customers ordered by name; `search` matches name, email or phone (ignoring case)."""
    customers = Customer.objects.all()
    if search and search.strip():
        term = search.strip()
        customers = customers.filter(Q(name__icontains=term) | Q(email__icontains=term) | Q(phone__icontains=term))
    return customers


def customer_get(*, customer_id: int) -> Customer:
    """Return customer `customer_id`; raise CustomerNotFound when the current tenant has none with that id."""
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise CustomerNotFound(f"customer {customer_id!r} does not exist; expected the id of an existing customer")
    return customer
