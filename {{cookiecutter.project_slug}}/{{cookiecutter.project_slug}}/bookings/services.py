"""Booking use cases: primitives in, the transaction boundary owned here, storage behind a BookingRepository."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from django.db import transaction

from .domain import BookingNotFound, Slot, SlotTaken, UnknownCustomer, UnknownProduct
from .repositories import BookingRepository

Atomic = Callable[[], AbstractContextManager[object]]


def booking_create(
    *,
    bookings: BookingRepository,
    product_id: int,
    customer_id: int,
    slot: Slot,
    atomic: Atomic = transaction.atomic,
) -> int:
    """Book product `product_id` for customer `customer_id` during `slot`; return the new booking's id.

    The product is locked first, so two concurrent requests for overlapping slots cannot both pass
    the overlap check. Raises UnknownProduct, UnknownCustomer, or SlotTaken when a confirmed booking
    of the same product overlaps `slot` (on any day: a multi-day booking blocks every day it spans).
    """
    with atomic():
        if not bookings.lock_product(product_id):
            raise UnknownProduct(f"product {product_id!r} does not exist; expected the id of an existing product")
        if not bookings.customer_exists(customer_id):
            raise UnknownCustomer(f"customer {customer_id!r} does not exist; expected the id of an existing customer")
        clash = next(
            (taken for taken in bookings.confirmed_slots(product_id, around=slot) if slot.overlaps(taken)), None
        )
        if clash is not None:
            raise SlotTaken(
                f"slot {slot} overlaps a confirmed booking of product {product_id} "
                f"from {clash.astimezone(slot.start.tzinfo)}; "
                "choose a slot that starts at or after its end, or ends at or before its start"
            )
        return bookings.add(product_id=product_id, customer_id=customer_id, slot=slot)


def booking_cancel(*, bookings: BookingRepository, booking_id: int, atomic: Atomic = transaction.atomic) -> None:
    """Cancel booking `booking_id`, freeing its slot. Raises BookingNotFound, or AlreadyCancelled."""
    with atomic():
        booking = bookings.get(booking_id, for_update=True)
        if booking is None:
            raise BookingNotFound(f"booking {booking_id!r} does not exist; expected the id of an existing booking")
        bookings.set_status(booking_id, booking.cancelled().status)
