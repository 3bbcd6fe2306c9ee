"""Bookings REST API on tenant hosts: create and cancel through the services, domain errors as 400/404/409."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.bookings.models import Booking
from {{ cookiecutter.project_slug }}.customers.models import Customer
from {{ cookiecutter.project_slug }}.customers.services import customer_create
from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.products.services import product_create

START = datetime(2033, 6, 1, 9, tzinfo=UTC)


@pytest.fixture
def product(tenant: object) -> Product:
    tag = uuid.uuid4().hex[:8].upper()
    return product_create(name=f"Studio {tag}", sku=f"STUDIO-{tag}", price="40.00")


@pytest.fixture
def customer(tenant: object) -> Customer:
    return customer_create(name="API Booker", email=f"booker-{uuid.uuid4().hex[:8]}@example.com")


def payload(product_id: int, customer_id: int, start: datetime, hours: int = 1) -> dict[str, object]:
    return {
        "product_id": product_id,
        "customer_id": customer_id,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
    }


def create(client: Client, body: dict[str, object]) -> Any:  # the test client's response, with .json()
    return client.post("/api/bookings/", body, content_type="application/json")


def test_api_creates_a_confirmed_booking(
    tenant: object, tenant_client: Client, product: Product, customer: Customer
) -> None:
    response = create(tenant_client, payload(product.pk, customer.pk, START, hours=2))

    assert response.status_code == 201
    body = response.json()
    assert (body["product_id"], body["customer_id"], body["status"]) == (product.pk, customer.pk, "confirmed")
    with tenant_context(tenant):
        booking = Booking.objects.get(pk=body["id"])
    assert (booking.start, booking.end) == (START, START + timedelta(hours=2))


def test_api_records_the_logged_in_user_and_shows_the_email_read_only(
    tenant: object, tenant_client: Client, member_user: object, product: Product, customer: Customer
) -> None:
    # A client cannot name someone else as the booker: created_by is read-only.
    body = payload(product.pk, customer.pk, START) | {"created_by": "owner@acme.localhost"}

    created = create(tenant_client, body).json()

    assert created["created_by"] == "member@acme.localhost"
    with tenant_context(tenant):
        assert Booking.objects.get(pk=created["id"]).created_by_id == member_user.pk
        unrecorded = Booking.objects.create(
            product=product, customer=customer, start=START + timedelta(hours=1), end=START + timedelta(hours=2)
        )
    assert tenant_client.get(f"/api/bookings/{unrecorded.pk}/").json()["created_by"] is None
    listed = tenant_client.get("/api/bookings/", {"product_id": str(product.pk)}).json()["results"]
    assert [row["created_by"] for row in listed] == ["member@acme.localhost", None]


def test_api_answers_409_when_the_slot_overlaps_a_confirmed_booking(
    tenant: object,
    tenant_client: Client,
    product: Product,
    customer: Customer,
) -> None:
    assert create(tenant_client, payload(product.pk, customer.pk, START, hours=2)).status_code == 201

    response = create(tenant_client, payload(product.pk, customer.pk, START + timedelta(hours=1)))

    assert response.status_code == 409
    assert "overlaps a confirmed booking" in response.json()["detail"]
    with tenant_context(tenant):
        assert Booking.objects.filter(product=product).count() == 1


def test_api_answers_400_when_the_end_is_not_after_the_start(
    tenant_client: Client, product: Product, customer: Customer
) -> None:
    body = payload(product.pk, customer.pk, START) | {"end": START.isoformat()}

    response = create(tenant_client, body)

    assert response.status_code == 400
    assert "is not after its start" in response.json()["detail"]


def test_api_answers_404_for_an_unknown_product(tenant_client: Client, customer: Customer) -> None:
    response = create(tenant_client, payload(987654321, customer.pk, START))

    assert response.status_code == 404
    assert "product 987654321 does not exist" in response.json()["detail"]


def test_api_cancel_frees_the_slot_and_a_second_cancel_is_409(
    tenant_client: Client,
    manager_client: Client,
    product: Product,
    customer: Customer,
) -> None:
    booking_id = create(tenant_client, payload(product.pk, customer.pk, START)).json()["id"]

    # Cancelling changes a booking: owners and admins only (accounts/permissions.py).
    first = manager_client.post(f"/api/bookings/{booking_id}/cancel/")
    second = manager_client.post(f"/api/bookings/{booking_id}/cancel/")

    assert first.status_code == 200
    assert first.json()["status"] == "cancelled"
    assert second.status_code == 409
    assert "already cancelled" in second.json()["detail"]
    assert create(tenant_client, payload(product.pk, customer.pk, START)).status_code == 201


def test_api_cancel_of_an_unknown_booking_is_404(manager_client: Client) -> None:
    response = manager_client.post("/api/bookings/987654321/cancel/")

    assert response.status_code == 404
    assert "booking 987654321 does not exist" in response.json()["detail"]


def test_api_lists_bookings_filtered_by_product_and_status(
    tenant_client: Client,
    manager_client: Client,
    product: Product,
    customer: Customer,
) -> None:
    kept = create(tenant_client, payload(product.pk, customer.pk, START)).json()["id"]
    dropped = create(tenant_client, payload(product.pk, customer.pk, START + timedelta(hours=1))).json()["id"]
    assert manager_client.post(f"/api/bookings/{dropped}/cancel/").status_code == 200

    listed = tenant_client.get("/api/bookings/", {"product_id": str(product.pk), "status": "confirmed"}).json()

    assert [row["id"] for row in listed["results"]] == [kept]


def test_api_refuses_anonymous_bookings(
    tenant: object, client_for: Callable[..., Client], product: Product, customer: Customer
) -> None:
    response = create(client_for(tenant), payload(product.pk, customer.pk, START))

    assert response.status_code == 401
    with tenant_context(tenant):
        assert not Booking.objects.filter(product=product).exists()
