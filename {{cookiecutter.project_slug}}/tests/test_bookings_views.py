"""Booking pages and the dashboard on tenant hosts (Django repository, PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.services import user_delete
from {{ cookiecutter.project_slug }}.bookings.domain import Slot
from {{ cookiecutter.project_slug }}.bookings.models import Booking
from {{ cookiecutter.project_slug }}.bookings.repositories import DjangoBookingRepository
from {{ cookiecutter.project_slug }}.bookings.services import booking_cancel, booking_create
from {{ cookiecutter.project_slug }}.customers.models import Customer
from {{ cookiecutter.project_slug }}.customers.services import customer_create
from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.products.services import product_create

FORM_FORMAT = "%Y-%m-%dT%H:%M"


@pytest.fixture
def product(tenant: object) -> Product:
    tag = uuid.uuid4().hex[:8].upper()
    return product_create(name=f"Court {tag}", sku=f"COURT-{tag}", price="25.00")


@pytest.fixture
def customer(tenant: object) -> Customer:
    tag = uuid.uuid4().hex[:8]
    return customer_create(name=f"Player {tag}", email=f"player-{tag}@example.com")


@pytest.fixture
def base() -> datetime:
    """A whole hour about a year ahead, in the site's time zone (what the form's inputs are read in)."""
    return timezone.localtime().replace(minute=0, second=0, microsecond=0) + timedelta(days=365)


def book(product: Product, customer: Customer, start: datetime, hours: int = 1) -> int:
    return booking_create(
        bookings=DjangoBookingRepository(),
        product_id=product.pk,
        customer_id=customer.pk,
        slot=Slot(start=start, end=start + timedelta(hours=hours)),
    )


def form_data(product: Product, customer: Customer, start: datetime, end: datetime) -> dict[str, object]:
    return {
        "product": product.pk,
        "customer": customer.pk,
        "start": start.strftime(FORM_FORMAT),
        "end": end.strftime(FORM_FORMAT),
    }


def test_booking_list_shows_upcoming_bookings_with_product_and_customer(
    tenant_client: Client,
    product: Product,
    customer: Customer,
    base: datetime,
) -> None:
    booking_id = book(product, customer, base)

    html = tenant_client.get("/bookings/").content.decode()

    assert f'data-booking-id="{booking_id}"' in html
    assert f'<td data-testid="booking-product">{product.name}</td>' in html
    assert f'<td data-testid="booking-customer">{customer.name}</td>' in html


def test_booking_list_hides_past_bookings_unless_asked_for_all(
    tenant_client: Client,
    product: Product,
    customer: Customer,
) -> None:
    past_id = book(product, customer, timezone.now() - timedelta(days=30))

    assert f'data-booking-id="{past_id}"' not in tenant_client.get("/bookings/").content.decode()
    assert f'data-booking-id="{past_id}"' in tenant_client.get("/bookings/?show=all").content.decode()


@pytest.mark.parametrize("path", ["/bookings/", "/bookings/new/", "/"])
def test_booking_pages_and_dashboard_redirect_anonymous_visitors_to_login(
    tenant: object, client_for: Callable[..., Client], login_redirect: Callable[..., str], path: str
) -> None:
    response = client_for(tenant).get(path)

    assert response.status_code == 302
    assert response["Location"] == login_redirect(path)


def test_booking_form_creates_a_confirmed_booking(
    tenant: object,
    tenant_client: Client,
    tenant_path: Callable[..., str],
    product: Product,
    customer: Customer,
    base: datetime,
) -> None:
    response = tenant_client.post("/bookings/new/", form_data(product, customer, base, base + timedelta(hours=2)))

    assert response.status_code == 302
    assert response["Location"] == tenant_path("/bookings/")
    with tenant_context(tenant):
        booking = Booking.objects.get(product=product)
    assert (booking.customer_id, booking.start, booking.end, booking.status) == (
        customer.pk,
        base,
        base + timedelta(hours=2),
        "confirmed",
    )


def test_booking_form_records_the_logged_in_user_and_the_list_shows_who_booked(
    tenant: object,
    tenant_client: Client,
    member_user: object,
    product: Product,
    customer: Customer,
    base: datetime,
) -> None:
    unrecorded_id = book(product, customer, base + timedelta(hours=1))  # no user given: shows nobody
    tenant_client.post("/bookings/new/", form_data(product, customer, base, base + timedelta(hours=1)))

    html = tenant_client.get("/bookings/").content.decode()

    with tenant_context(tenant):
        booking = Booking.objects.get(product=product, start=base)
    assert booking.created_by_id == member_user.pk
    assert html.count("Booked by member@acme.localhost") == 1
    unrecorded_row = html.split(f'data-booking-id="{unrecorded_id}"', 1)[1].split("</tr>", 1)[0]
    assert "Booked by" not in unrecorded_row


def test_deleting_the_user_who_booked_leaves_the_booking_with_their_tombstone(
    tenant: object,
    tenant_client: Client,
    member_user: object,
    product: Product,
    customer: Customer,
    base: datetime,
) -> None:
    """Users are in the public schema, bookings in the tenant's: Django's delete alone cannot see the booking."""
    tenant_client.post("/bookings/new/", form_data(product, customer, base, base + timedelta(hours=1)))

    tombstone = user_delete(user=member_user)

    with connection.cursor() as cursor:  # deferred foreign keys are checked at commit; tests never commit
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    with tenant_context(tenant):
        booking = Booking.objects.select_related("created_by").get(product=product)
    assert booking.created_by == tombstone
    assert booking.created_by.email == f"deleted-{tombstone.pk}@invalid"


def test_booking_form_refuses_an_overlapping_slot_and_says_which_booking_is_in_the_way(
    tenant: object,
    tenant_client: Client,
    product: Product,
    customer: Customer,
    base: datetime,
) -> None:
    book(product, customer, base, hours=2)

    response = tenant_client.post(
        "/bookings/new/", form_data(product, customer, base + timedelta(hours=1), base + timedelta(hours=3))
    )

    assert response.status_code == 200
    assert "overlaps a confirmed booking" in response.content.decode()
    assert f"{base:%Y-%m-%d %H:%M}" in response.content.decode()
    with tenant_context(tenant):
        assert Booking.objects.filter(product=product).count() == 1


def test_booking_form_refuses_an_end_before_the_start(
    tenant: object,
    tenant_client: Client,
    product: Product,
    customer: Customer,
    base: datetime,
) -> None:
    response = tenant_client.post("/bookings/new/", form_data(product, customer, base, base - timedelta(hours=1)))

    assert response.status_code == 200
    assert "is not after its start" in response.content.decode()
    with tenant_context(tenant):
        assert not Booking.objects.filter(product=product).exists()


def test_booking_form_does_not_offer_inactive_products(
    tenant_client: Client,
    product: Product,
) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    retired = product_create(name=f"Retired {tag}", sku=f"RETIRED-{tag}", price="1.00", active=False)

    html = tenant_client.get("/bookings/new/").content.decode()

    assert product.name in html
    assert retired.name not in html


def test_cancelling_through_the_list_frees_the_slot(
    tenant: object,
    manager_client: Client,
    product: Product,
    customer: Customer,
    base: datetime,
) -> None:
    booking_id = book(product, customer, base)

    response = manager_client.post(f"/bookings/{booking_id}/cancel/")

    assert response.status_code == 302
    with tenant_context(tenant):
        assert Booking.objects.get(pk=booking_id).status == "cancelled"
        book(product, customer, base)  # the slot is free again


def test_cancel_refuses_get_requests_and_keeps_the_booking(
    tenant: object,
    tenant_client: Client,
    product: Product,
    customer: Customer,
    base: datetime,
) -> None:
    booking_id = book(product, customer, base)

    assert tenant_client.get(f"/bookings/{booking_id}/cancel/").status_code == 405
    with tenant_context(tenant):
        assert Booking.objects.get(pk=booking_id).status == "confirmed"


def test_anonymous_cancel_is_redirected_to_login_and_keeps_the_booking(
    tenant: object,
    client_for: Callable[..., Client],
    login_redirect: Callable[..., str],
    product: Product,
    customer: Customer,
    base: datetime,
) -> None:
    booking_id = book(product, customer, base)

    response = client_for(tenant).post(f"/bookings/{booking_id}/cancel/")

    assert response.status_code == 302
    assert response["Location"] == login_redirect(f"/bookings/{booking_id}/cancel/")
    with tenant_context(tenant):
        assert Booking.objects.get(pk=booking_id).status == "confirmed"


def test_cancelling_a_cancelled_booking_shows_why_it_failed(
    manager_client: Client,
    product: Product,
    customer: Customer,
    base: datetime,
) -> None:
    booking_id = book(product, customer, base)
    booking_cancel(bookings=DjangoBookingRepository(), booking_id=booking_id)

    response = manager_client.post(f"/bookings/{booking_id}/cancel/", follow=True)

    assert f"booking {booking_id} is already cancelled" in response.content.decode()


# --- dashboard --------------------------------------------------------------------------------


def test_dashboard_lists_upcoming_confirmed_bookings_but_not_cancelled_ones(
    tenant_client: Client,
    product: Product,
    customer: Customer,
) -> None:
    # Sooner than the demo booking (tomorrow), so it is among the next ten.
    soon = timezone.now() + timedelta(minutes=5)
    book(product, customer, soon)
    tag = uuid.uuid4().hex[:8].upper()
    cancelled_product = product_create(name=f"Cancelled {tag}", sku=f"CXL-{tag}", price="1.00")
    booking_cancel(bookings=DjangoBookingRepository(), booking_id=book(cancelled_product, customer, soon))

    response = tenant_client.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert f'<td data-testid="booking-product">{product.name}</td>' in html
    assert cancelled_product.name not in html


def test_dashboard_counts_follow_the_tenants_data(
    tenant: object,
    tenant_client: Client,
    product: Product,
    customer: Customer,
    base: datetime,
) -> None:
    before = tenant_client.get("/").context
    with tenant_context(tenant):
        book(product, customer, base)
        customer_create(name="Another", email=f"another-{uuid.uuid4().hex[:8]}@example.com")

    after = tenant_client.get("/").context

    assert after["upcoming_booking_count"] == before["upcoming_booking_count"] + 1
    assert after["customer_count"] == before["customer_count"] + 1
    assert after["active_product_count"] == before["active_product_count"]


# --- tenant admin -----------------------------------------------------------------------------


def test_tenant_admin_cancels_selected_bookings_through_the_service(
    tenant: object,
    owner_user: object,
    client_for: Callable[..., Client],
    product: Product,
    customer: Customer,
    base: datetime,
) -> None:
    booking_id = book(product, customer, base)
    admin = client_for(tenant, owner_user)

    changelist = admin.get("/admin/bookings/booking/")
    response = admin.post(
        "/admin/bookings/booking/", {"action": "cancel_bookings", "_selected_action": [str(booking_id)]}
    )

    assert changelist.status_code == 200
    assert response.status_code == 302
    with tenant_context(tenant):
        assert Booking.objects.get(pk=booking_id).status == "cancelled"


def test_tenant_admin_cannot_add_bookings_around_the_overlap_check(
    tenant: object, owner_user: object, client_for: Callable[..., Client]
) -> None:
    assert client_for(tenant, owner_user).get("/admin/bookings/booking/add/").status_code == 403
