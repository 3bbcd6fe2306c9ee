"""Booking rules in plain Python (stdlib only): time slots, overlaps, statuses, cancellation.

A customer books a product (a room, a court, a service) for a time slot. Two confirmed
bookings of the same product may not overlap; cancelled bookings free their slot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from ..errors import Conflict, InvalidValue, NotFound

MAX_SLOT_LENGTH = timedelta(days=31)


class BookingStatus(StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class InvalidSlot(InvalidValue):
    """A slot whose end is not after its start, without a time zone, or longer than MAX_SLOT_LENGTH."""


class SlotTaken(Conflict):
    """The requested slot overlaps a confirmed booking for the same product."""


class BookingNotFound(NotFound):
    """No booking with that id in the current tenant."""


class AlreadyCancelled(Conflict):
    """The booking was cancelled before."""


class UnknownProduct(NotFound):
    """A booking names a product the current tenant does not have."""


class UnknownCustomer(NotFound):
    """A booking names a customer the current tenant does not have."""


def month_window(moment: datetime) -> tuple[datetime, datetime]:
    """The calendar month `moment` (time-zone-aware) falls in, as [first instant, first instant of the next
    month) in `moment`'s time zone: the window of the plan's bookings-per-month limit."""
    start = datetime(moment.year, moment.month, 1, tzinfo=moment.tzinfo)
    after = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=moment.tzinfo)
    return start, after


def _fmt(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M %Z}".strip()


@dataclass(frozen=True)
class Slot:
    """A half-open time interval [start, end) with time-zone-aware ends: 10:00-11:00 and 11:00-12:00 do not overlap."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name, moment in (("start", self.start), ("end", self.end)):
            if not isinstance(moment, datetime) or moment.utcoffset() is None:
                raise InvalidSlot(
                    f"slot {name} {moment!r} has no time zone; expected an aware datetime such as 2030-01-31T10:00Z"
                )
        if self.end <= self.start:
            raise InvalidSlot(
                f"slot end {_fmt(self.end)} is not after its start {_fmt(self.start)}; expected end > start"
            )
        if self.end - self.start > MAX_SLOT_LENGTH:
            raise InvalidSlot(
                f"slot {_fmt(self.start)} to {_fmt(self.end)} is longer than {MAX_SLOT_LENGTH.days} days; "
                "expected a shorter slot"
            )

    def overlaps(self, other: Slot) -> bool:
        """True when the two slots share any instant (touching ends do not count)."""
        return self.start < other.end and other.start < self.end

    def astimezone(self, tz: tzinfo | None) -> Slot:
        """The same slot with both ends expressed in `tz` (to show it in the zone a user works in)."""
        return Slot(start=self.start.astimezone(tz), end=self.end.astimezone(tz))

    def __str__(self) -> str:
        return f"{_fmt(self.start)} to {_fmt(self.end)}"


@dataclass(frozen=True)
class Booking:
    """A booking as the services see it: ids of its product and customer, its slot and status, and the id of
    the user who recorded it (None when nobody is known: demo data, bookings from before it was recorded)."""

    id: int
    product_id: int
    customer_id: int
    slot: Slot
    status: BookingStatus
    created_by_id: int | None = None

    def cancelled(self) -> Booking:
        """Return this booking cancelled; raise AlreadyCancelled when it already is."""
        if self.status is BookingStatus.CANCELLED:
            raise AlreadyCancelled(f"booking {self.id} is already cancelled; only confirmed bookings can be cancelled")
        return replace(self, status=BookingStatus.CANCELLED)
