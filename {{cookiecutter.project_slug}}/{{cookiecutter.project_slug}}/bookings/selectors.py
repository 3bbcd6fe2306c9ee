"""Booking reads for the current tenant (ORM querysets for pages, the API and the dashboard)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from .domain import BookingNotFound, BookingStatus
from .models import Booking


def booking_list(
    *,
    status: BookingStatus | str | None = None,
    ending_after: datetime | None = None,
    starting_from: datetime | None = None,
    starting_before: datetime | None = None,
    product_id: int | None = None,
    customer_id: int | None = None,
) -> QuerySet[Booking]:
    """Bookings in start order with product and customer loaded.

    Filters: `status` (confirmed/cancelled), `ending_after` (an aware datetime: bookings not yet over at
    that moment), `starting_from` / `starting_before` (aware datetimes: start >= from, start < before),
    `product_id`, `customer_id`.
    """
    bookings = Booking.objects.select_related("product", "customer")
    if status is not None:
        bookings = bookings.filter(status=BookingStatus(status).value)
    if ending_after is not None:
        bookings = bookings.filter(end__gt=ending_after)
    if starting_from is not None:
        bookings = bookings.filter(start__gte=starting_from)
    if starting_before is not None:
        bookings = bookings.filter(start__lt=starting_before)
    if product_id is not None:
        bookings = bookings.filter(product_id=product_id)
    if customer_id is not None:
        bookings = bookings.filter(customer_id=customer_id)
    return bookings


def booking_upcoming(*, now: datetime, limit: int = 10) -> list[Booking]:
    """The next `limit` confirmed bookings that have not ended at `now` (an aware datetime), soonest first."""
    return list(booking_list(status=BookingStatus.CONFIRMED, ending_after=now)[:limit])


def booking_get(*, booking_id: int) -> Booking:
    """Return booking `booking_id`; raise BookingNotFound when the current tenant has none with that id."""
    booking = Booking.objects.select_related("product", "customer").filter(pk=booking_id).first()
    if booking is None:
        raise BookingNotFound(f"booking {booking_id!r} does not exist; expected the id of an existing booking")
    return booking
