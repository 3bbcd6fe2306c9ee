"""Where bookings are stored: the BookingRepository protocol, its ORM implementation and an in-memory fake.

tests/test_bookings_repository.py runs the same contract against both, so the fake stays honest.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from ..customers.models import Customer
from ..products.models import Product
from .domain import Booking, BookingStatus, Slot
from .models import Booking as BookingRow


class BookingRepository(Protocol):
    def lock_product(self, product_id: int) -> bool:
        """Hold off other bookings of `product_id` until the transaction ends; False when there is no such product."""
        ...

    def customer_exists(self, customer_id: int) -> bool:
        """True when the current tenant has customer `customer_id`."""
        ...

    def confirmed_slots(self, product_id: int, *, around: Slot) -> list[Slot]:
        """Slots of the confirmed bookings of `product_id` that overlap `around`, in start order."""
        ...

    def add(self, *, product_id: int, customer_id: int, slot: Slot, created_by_id: int | None = None) -> int:
        """Store a confirmed booking recorded by user `created_by_id` (None: nobody known); return its id."""
        ...

    def get(self, booking_id: int, *, for_update: bool = False) -> Booking | None:
        """The booking with `booking_id`, or None; `for_update` locks it until the transaction ends."""
        ...

    def set_status(self, booking_id: int, status: BookingStatus) -> None:
        """Change the status of an existing booking."""
        ...

    def created_count(self, *, since: datetime, before: datetime) -> int:
        """How many bookings were recorded (added) in [since, before), cancelled ones included."""
        ...


def _to_domain(row: BookingRow) -> Booking:
    return Booking(
        id=row.pk,
        product_id=row.product_id,
        customer_id=row.customer_id,
        slot=Slot(start=row.start, end=row.end),
        status=BookingStatus(row.status),
        created_by_id=row.created_by_id,
    )


class DjangoBookingRepository:
    """Bookings in the current tenant's schema (the connection's search path is set by the caller's edge)."""

    def lock_product(self, product_id: int) -> bool:
        # A row lock on the product serialises concurrent bookings of it: the second transaction waits
        # here until the first commits, then sees its booking in confirmed_slots().
        return (
            Product.objects.select_for_update().filter(pk=product_id).values_list("pk", flat=True).first() is not None
        )

    def customer_exists(self, customer_id: int) -> bool:
        return Customer.objects.filter(pk=customer_id).exists()

    def confirmed_slots(self, product_id: int, *, around: Slot) -> list[Slot]:
        rows = BookingRow.objects.filter(
            product_id=product_id,
            status=BookingStatus.CONFIRMED.value,
            start__lt=around.end,
            end__gt=around.start,
        ).order_by("start")
        return [Slot(start=start, end=end) for start, end in rows.values_list("start", "end")]

    def add(self, *, product_id: int, customer_id: int, slot: Slot, created_by_id: int | None = None) -> int:
        row = BookingRow.objects.create(
            product_id=product_id,
            customer_id=customer_id,
            start=slot.start,
            end=slot.end,
            status=BookingStatus.CONFIRMED.value,
            created_by_id=created_by_id,
        )
        return row.pk

    def get(self, booking_id: int, *, for_update: bool = False) -> Booking | None:
        rows = BookingRow.objects.select_for_update() if for_update else BookingRow.objects.all()
        row = rows.filter(pk=booking_id).first()
        return _to_domain(row) if row is not None else None

    def set_status(self, booking_id: int, status: BookingStatus) -> None:
        BookingRow.objects.filter(pk=booking_id).update(status=status.value)

    def created_count(self, *, since: datetime, before: datetime) -> int:
        return BookingRow.objects.filter(created__gte=since, created__lt=before).count()


class InMemoryBookingRepository:
    """A fake for unit tests: products and customers are sets of ids, bookings a dict by id."""

    def __init__(self, *, product_ids: set[int] | None = None, customer_ids: set[int] | None = None) -> None:
        self.product_ids = set(product_ids or ())
        self.customer_ids = set(customer_ids or ())
        self.bookings: dict[int, Booking] = {}
        self.created: dict[int, datetime] = {}  # when each booking was added
        self._next_id = 1

    def lock_product(self, product_id: int) -> bool:
        return product_id in self.product_ids

    def customer_exists(self, customer_id: int) -> bool:
        return customer_id in self.customer_ids

    def confirmed_slots(self, product_id: int, *, around: Slot) -> list[Slot]:
        slots = [
            b.slot
            for b in self.bookings.values()
            if b.product_id == product_id and b.status is BookingStatus.CONFIRMED and b.slot.overlaps(around)
        ]
        return sorted(slots, key=lambda slot: slot.start)

    def add(self, *, product_id: int, customer_id: int, slot: Slot, created_by_id: int | None = None) -> int:
        booking_id, self._next_id = self._next_id, self._next_id + 1
        self.bookings[booking_id] = Booking(
            id=booking_id,
            product_id=product_id,
            customer_id=customer_id,
            slot=slot,
            status=BookingStatus.CONFIRMED,
            created_by_id=created_by_id,
        )
        self.created[booking_id] = datetime.now(UTC)
        return booking_id

    def get(self, booking_id: int, *, for_update: bool = False) -> Booking | None:
        return self.bookings.get(booking_id)

    def set_status(self, booking_id: int, status: BookingStatus) -> None:
        self.bookings[booking_id] = replace(self.bookings[booking_id], status=status)

    def created_count(self, *, since: datetime, before: datetime) -> int:
        return sum(1 for moment in self.created.values() if since <= moment < before)
