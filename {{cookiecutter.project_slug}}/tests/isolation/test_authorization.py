"""Writes with another tenant's session: refused by either authorization layer alone (TenantMembershipMiddleware,
accounts.permissions.role_permits), so these guards fail only when both are off (ISOLATION_SABOTAGE=authorization)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.models import Invitation, Membership
from {{ cookiecutter.project_slug }}.bookings.models import Booking
from {{ cookiecutter.project_slug }}.customers.models import Customer
from {{ cookiecutter.project_slug }}.products.models import Product

{% if cookiecutter.use_drf == "y" -%}
from .conftest import path_routing
from conftest import assert_stranger_refused, client_on
{%- else -%}
from conftest import assert_stranger_refused
{%- endif %}

JSON = "application/json"


@pytest.fixture
def acme_rows(tenant: Any) -> dict[str, int]:
    """A product, a customer and a confirmed booking in acme (the demo seed's first ones)."""
    booking = Booking.objects.filter(status=Booking.Status.CONFIRMED).select_related("product", "customer").first()
    assert booking is not None, "the demo seed gives acme a confirmed booking"
    return {"product": booking.product_id, "customer": booking.customer_id, "booking": booking.pk}


def acme_state(tenant: Any, rows: dict[str, int]) -> tuple[object, ...]:
    """What the writes below would change in acme, as stored now."""
    with tenant_context(tenant):
        return (
            Product.objects.get(pk=rows["product"]).name,
            Customer.objects.get(pk=rows["customer"]).name,
            Booking.objects.get(pk=rows["booking"]).status,
            Product.objects.filter(sku__startswith="PLANTED").count(),
            Customer.objects.filter(email__startswith="planted").count(),
        )


@pytest.mark.guards_authorization
def test_another_tenants_owner_writes_nothing_through_the_pages(
    client_for: Callable[..., Client], tenant: Any, globex_owner: Any, acme_rows: dict[str, int]
) -> None:
    stranger = client_for(tenant, globex_owner)  # globex's owner, with their session, on acme's host
    before = acme_state(tenant, acme_rows)
    product_form = {"name": "Planted", "sku": "PLANTED-PAGE", "price": "1.00", "stock": "0"}
    answers = {
        "product create": stranger.post("/products/new/", product_form),
        "product edit": stranger.post(f"/products/{acme_rows['product']}/edit/", {**product_form, "sku": "PLANTED-E"}),
        "customer create": stranger.post("/customers/new/", {"name": "Planted", "email": "planted@x.test"}),
        "customer edit": stranger.post(
            f"/customers/{acme_rows['customer']}/edit/", {"name": "Planted", "email": "planted-e@x.test"}
        ),
        "booking cancel": stranger.post(f"/bookings/{acme_rows['booking']}/cancel/"),
        "invitation": stranger.post("/members/", {"email": "planted@x.test", "role": "owner"}),
    }

    for what, response in answers.items():
        assert_stranger_refused(response, what)
    assert acme_state(tenant, acme_rows) == before
    assert not Invitation.objects.filter(tenant=tenant, email="planted@x.test").exists()
    assert not Membership.objects.filter(tenant=tenant, user=globex_owner).exists()
{%- if cookiecutter.use_drf == "y" %}


@pytest.mark.guards_authorization
def test_another_tenants_owner_writes_nothing_through_the_api(
    client_for: Callable[..., Client], tenant: Any, globex_owner: Any, acme_rows: dict[str, int]
) -> None:
    stranger = client_for(tenant, globex_owner)
    # Domain routing: what an anonymous request gets (401 or 403, by the authentication schemes); path routing:
    # 403, the stranger's session being their own (accounts.permissions.strangers_refused).
    anonymous = client_on(tenant).post("/api/products/", {}, content_type=JSON).status_code
    refused = 403 if path_routing() else anonymous
    before = acme_state(tenant, acme_rows)
    answers = {
        "product create": stranger.post(
            "/api/products/", {"name": "Planted", "sku": "PLANTED-API", "price": "1.00"}, content_type=JSON
        ),
        "product update": stranger.patch(
            f"/api/products/{acme_rows['product']}/", {"name": "Planted"}, content_type=JSON
        ),
        "customer create": stranger.post(
            "/api/customers/", {"name": "Planted", "email": "planted-api@x.test"}, content_type=JSON
        ),
        "customer update": stranger.patch(
            f"/api/customers/{acme_rows['customer']}/", {"name": "Planted"}, content_type=JSON
        ),
        "booking cancel": stranger.post(f"/api/bookings/{acme_rows['booking']}/cancel/"),
    }

    for what, response in answers.items():
        assert response.status_code == refused, (what, response.status_code)
        assert refused in (401, 403)
    assert acme_state(tenant, acme_rows) == before
{%- endif %}
