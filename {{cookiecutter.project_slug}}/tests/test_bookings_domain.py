"""Booking rules and use cases without a database: Slot, Booking, and the services over the in-memory fake."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from {{ cookiecutter.project_slug }}.billing.domain import Limit, PlanLimitReached, limit_check
from {{ cookiecutter.project_slug }}.bookings.domain import (
    AlreadyCancelled,
    Booking,
    BookingNotFound,
    BookingStatus,
    InvalidSlot,
    Slot,
    SlotTaken,
    UnknownCustomer,
    UnknownProduct,
    month_window,
)
from {{ cookiecutter.project_slug }}.bookings.repositories import InMemoryBookingRepository
from {{ cookiecutter.project_slug }}.bookings.services import booking_cancel, booking_create
from {{ cookiecutter.project_slug }}.errors import Conflict, InvalidValue, NotFound

PRODUCT, OTHER_PRODUCT, CUSTOMER = 1, 2, 7


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2031, 3, day, hour, minute, tzinfo=UTC)


def slot(day: int, start_hour: int, end_hour: int) -> Slot:
    return Slot(start=at(day, start_hour), end=at(day, end_hour))


class PlanLimit:
    """Stands in for billing.services.plan_limit_check (which needs the database): the same rule
    (billing.domain.limit_check) against `allowed` (None: unlimited); records each limit and usage it checked."""

    def __init__(self, allowed: int | None = None) -> None:
        self.allowed = allowed
        self.checked: list[tuple[Limit, int]] = []

    def __call__(self, limit: Limit, /, *, usage: Callable[[], int], adding: int = 1) -> None:
        used = usage()
        self.checked.append((limit, used))
        limit_check(limit=limit, plan="test", plan_name="Test", allowed=self.allowed, usage=used, adding=adding)


@pytest.fixture
def repo() -> InMemoryBookingRepository:
    return InMemoryBookingRepository(product_ids={PRODUCT, OTHER_PRODUCT}, customer_ids={CUSTOMER})


def book(
    repo: InMemoryBookingRepository, booked: Slot, product_id: int = PRODUCT, limits: PlanLimit | None = None
) -> int:
    return booking_create(
        bookings=repo,
        product_id=product_id,
        customer_id=CUSTOMER,
        slot=booked,
        atomic=contextlib.nullcontext,
        limit_check=limits or PlanLimit(),
    )


# --- Slot -------------------------------------------------------------------------------------


@pytest.mark.parametrize("end", [at(5, 10), at(5, 9)], ids=["end-equals-start", "end-before-start"])
def test_slot_rejected_when_end_is_not_after_start(end: datetime) -> None:
    with pytest.raises(InvalidSlot, match="not after its start"):
        Slot(start=at(5, 10), end=end)


def test_slot_rejected_when_a_datetime_has_no_time_zone() -> None:
    with pytest.raises(InvalidSlot, match="no time zone"):
        Slot(start=datetime(2031, 3, 5, 10), end=at(5, 11))


def test_slot_rejected_when_longer_than_the_maximum() -> None:
    with pytest.raises(InvalidSlot, match="longer than 31 days"):
        Slot(start=at(1, 10), end=at(1, 10) + timedelta(days=31, minutes=1))


def test_invalid_slot_is_an_invalid_value_and_slot_taken_a_conflict() -> None:
    # The API and views map errors by these base classes (400 and 409).
    assert issubclass(InvalidSlot, InvalidValue)
    assert issubclass(SlotTaken, Conflict)
    assert issubclass(AlreadyCancelled, Conflict)
    assert issubclass(BookingNotFound, NotFound)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (slot(5, 10, 12), slot(5, 11, 13)),  # partial overlap
        (slot(5, 10, 14), slot(5, 11, 12)),  # one inside the other
        (slot(5, 10, 12), slot(5, 10, 12)),  # identical
        (Slot(start=at(4, 22), end=at(6, 2)), slot(5, 9, 10)),  # multi-day slot spans the other's day
    ],
)
def test_slots_overlap_when_they_share_time_in_either_order(first: Slot, second: Slot) -> None:
    assert first.overlaps(second)
    assert second.overlaps(first)


def test_back_to_back_slots_do_not_overlap() -> None:
    assert not slot(5, 10, 11).overlaps(slot(5, 11, 12))
    assert not slot(5, 11, 12).overlaps(slot(5, 10, 11))


def test_slots_compare_by_instant_across_time_zones() -> None:
    # 10:00-11:00 UTC and 11:30-12:30 at UTC+01:00 (= 10:30-11:30 UTC) overlap.
    plus_one = timezone(timedelta(hours=1))
    other = Slot(start=datetime(2031, 3, 5, 11, 30, tzinfo=plus_one), end=datetime(2031, 3, 5, 12, 30, tzinfo=plus_one))
    assert slot(5, 10, 11).overlaps(other)


def test_cancelling_a_cancelled_booking_raises_already_cancelled() -> None:
    booking = Booking(
        id=3, product_id=PRODUCT, customer_id=CUSTOMER, slot=slot(5, 10, 11), status=BookingStatus.CONFIRMED
    )
    assert booking.cancelled().status is BookingStatus.CANCELLED
    with pytest.raises(AlreadyCancelled, match="booking 3 is already cancelled"):
        booking.cancelled().cancelled()


# --- booking_create ---------------------------------------------------------------------------


def test_booking_created_as_confirmed_when_slot_is_free(repo: InMemoryBookingRepository) -> None:
    booking_id = book(repo, slot(5, 10, 11))

    stored = repo.get(booking_id)
    assert stored is not None
    assert (stored.product_id, stored.customer_id, stored.slot) == (PRODUCT, CUSTOMER, slot(5, 10, 11))
    assert stored.status is BookingStatus.CONFIRMED


def test_booking_records_the_user_who_created_it_and_nobody_when_not_given(repo: InMemoryBookingRepository) -> None:
    recorded = booking_create(
        bookings=repo,
        product_id=PRODUCT,
        customer_id=CUSTOMER,
        slot=slot(5, 10, 11),
        created_by_id=42,
        atomic=contextlib.nullcontext,
        limit_check=PlanLimit(),
    )
    anonymous = book(repo, slot(5, 11, 12))

    assert repo.bookings[recorded].created_by_id == 42
    assert repo.bookings[anonymous].created_by_id is None


def test_booking_rejected_when_slot_overlaps_a_confirmed_booking(repo: InMemoryBookingRepository) -> None:
    book(repo, slot(5, 10, 12))

    with pytest.raises(SlotTaken, match="2031-03-05 10:00"):
        book(repo, slot(5, 11, 13))
    assert len(repo.bookings) == 1


def test_slot_taken_message_shows_the_clash_in_the_requesters_time_zone(repo: InMemoryBookingRepository) -> None:
    book(repo, slot(5, 10, 12))  # 10:00-12:00 UTC = 12:00-14:00 at UTC+02:00
    plus_two = timezone(timedelta(hours=2))
    requested = Slot(start=datetime(2031, 3, 5, 13, tzinfo=plus_two), end=datetime(2031, 3, 5, 15, tzinfo=plus_two))

    with pytest.raises(SlotTaken, match=r"from 2031-03-05 12:00 UTC\+02:00 to 2031-03-05 14:00 UTC\+02:00"):
        book(repo, requested)


def test_booking_rejected_when_a_booking_from_the_previous_day_runs_into_the_slot(
    repo: InMemoryBookingRepository,
) -> None:
    book(repo, Slot(start=at(4, 20), end=at(5, 9)))

    with pytest.raises(SlotTaken):
        book(repo, slot(5, 8, 10))


def test_booking_rejected_when_slot_runs_past_midnight_into_a_booking(repo: InMemoryBookingRepository) -> None:
    book(repo, slot(6, 1, 3))

    with pytest.raises(SlotTaken):
        book(repo, Slot(start=at(5, 22), end=at(6, 2)))


def test_booking_allowed_back_to_back_with_another(repo: InMemoryBookingRepository) -> None:
    book(repo, slot(5, 10, 11))
    book(repo, slot(5, 11, 12))
    book(repo, slot(5, 9, 10))

    assert len(repo.bookings) == 3


def test_booking_allowed_when_the_overlapping_booking_was_cancelled(repo: InMemoryBookingRepository) -> None:
    first = book(repo, slot(5, 10, 11))
    booking_cancel(bookings=repo, booking_id=first, atomic=contextlib.nullcontext)

    second = book(repo, slot(5, 10, 11))

    assert repo.bookings[second].status is BookingStatus.CONFIRMED


def test_booking_allowed_when_another_product_is_booked_at_the_same_time(repo: InMemoryBookingRepository) -> None:
    book(repo, slot(5, 10, 11), product_id=OTHER_PRODUCT)

    book(repo, slot(5, 10, 11), product_id=PRODUCT)

    assert len(repo.bookings) == 2


def test_booking_rejected_for_unknown_product(repo: InMemoryBookingRepository) -> None:
    with pytest.raises(UnknownProduct, match="product 999 does not exist"):
        book(repo, slot(5, 10, 11), product_id=999)
    assert repo.bookings == {}


def test_booking_rejected_for_unknown_customer(repo: InMemoryBookingRepository) -> None:
    with pytest.raises(UnknownCustomer, match="customer 999 does not exist"):
        booking_create(
            bookings=repo,
            product_id=PRODUCT,
            customer_id=999,
            slot=slot(5, 10, 11),
            atomic=contextlib.nullcontext,
            limit_check=PlanLimit(),
        )
    assert repo.bookings == {}


class RecordingRepository(InMemoryBookingRepository):
    """Logs the calls the services make, and whether each ran inside the transaction."""

    def __init__(self) -> None:
        super().__init__(product_ids={PRODUCT}, customer_ids={CUSTOMER})
        self.in_transaction = False
        self.calls: list[tuple[str, bool]] = []

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        self.in_transaction = True
        try:
            yield
        finally:
            self.in_transaction = False

    def lock_product(self, product_id: int) -> bool:
        self.calls.append(("lock_product", self.in_transaction))
        return super().lock_product(product_id)

    def created_count(self, *, since: datetime, before: datetime) -> int:
        self.calls.append(("created_count", self.in_transaction))
        return super().created_count(since=since, before=before)

    def confirmed_slots(self, product_id: int, *, around: Slot) -> list[Slot]:
        self.calls.append(("confirmed_slots", self.in_transaction))
        return super().confirmed_slots(product_id, around=around)

    def add(self, *, product_id: int, customer_id: int, slot: Slot, created_by_id: int | None = None) -> int:
        self.calls.append(("add", self.in_transaction))
        return super().add(product_id=product_id, customer_id=customer_id, slot=slot, created_by_id=created_by_id)


def test_booking_locks_the_product_before_checking_overlaps_all_in_one_transaction() -> None:
    repo = RecordingRepository()

    booking_create(
        bookings=repo,
        product_id=PRODUCT,
        customer_id=CUSTOMER,
        slot=slot(5, 10, 11),
        atomic=repo.atomic,
        limit_check=PlanLimit(),
    )

    # The plan's month count first (plan_limit_check locks the subscription before any row), then the product.
    assert repo.calls == [("created_count", True), ("lock_product", True), ("confirmed_slots", True), ("add", True)]


def test_booking_counts_this_months_bookings_cancelled_ones_included_against_the_plan(
    repo: InMemoryBookingRepository,
) -> None:
    limits = PlanLimit(allowed=3)
    booking_cancel(bookings=repo, booking_id=book(repo, slot(5, 10, 11), limits=limits), atomic=contextlib.nullcontext)
    book(repo, slot(5, 11, 12), limits=limits)
    book(repo, slot(5, 12, 13), limits=limits)  # the third of 3: allowed

    with pytest.raises(PlanLimitReached, match="The Test plan allows 3 bookings this month; this workspace has 3"):
        book(repo, slot(6, 10, 11), limits=limits)

    assert len(repo.bookings) == 3
    assert limits.checked == [(Limit.BOOKINGS_PER_MONTH, used) for used in (0, 1, 2, 3)]


def test_bookings_of_earlier_months_do_not_count(repo: InMemoryBookingRepository) -> None:
    book(repo, slot(5, 10, 11))
    repo.created = {booking_id: datetime(2020, 1, 31, 23, tzinfo=UTC) for booking_id in repo.created}

    limits = PlanLimit(allowed=1)
    book(repo, slot(5, 11, 12), limits=limits)

    assert limits.checked == [(Limit.BOOKINGS_PER_MONTH, 0)]


@pytest.mark.parametrize(
    ("moment", "start", "after"),
    [
        (datetime(2031, 3, 15, 12, tzinfo=UTC), datetime(2031, 3, 1, tzinfo=UTC), datetime(2031, 4, 1, tzinfo=UTC)),
        (
            datetime(2031, 12, 31, 23, 59, tzinfo=UTC),
            datetime(2031, 12, 1, tzinfo=UTC),
            datetime(2032, 1, 1, tzinfo=UTC),
        ),
        (datetime(2031, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC), datetime(2031, 2, 1, tzinfo=UTC)),
    ],
    ids=["mid-month", "december", "first-instant"],
)
def test_month_window_is_the_calendar_month_of_the_moment(moment: datetime, start: datetime, after: datetime) -> None:
    assert month_window(moment) == (start, after)


def test_month_window_follows_the_moments_time_zone() -> None:
    # 23:30 UTC on 31 March is already 1 April in Berlin: April's window, from midnight Berlin time.
    berlin = ZoneInfo("Europe/Berlin")
    start, after = month_window(datetime(2031, 3, 31, 23, 30, tzinfo=UTC).astimezone(berlin))

    assert (start, after) == (datetime(2031, 4, 1, tzinfo=berlin), datetime(2031, 5, 1, tzinfo=berlin))
    assert start == datetime(2031, 3, 31, 22, tzinfo=UTC)


# --- booking_cancel ---------------------------------------------------------------------------


def test_cancelled_booking_is_marked_cancelled(repo: InMemoryBookingRepository) -> None:
    booking_id = book(repo, slot(5, 10, 11))

    booking_cancel(bookings=repo, booking_id=booking_id, atomic=contextlib.nullcontext)

    assert repo.bookings[booking_id].status is BookingStatus.CANCELLED


def test_cancelling_twice_raises_already_cancelled(repo: InMemoryBookingRepository) -> None:
    booking_id = book(repo, slot(5, 10, 11))
    booking_cancel(bookings=repo, booking_id=booking_id, atomic=contextlib.nullcontext)

    with pytest.raises(AlreadyCancelled):
        booking_cancel(bookings=repo, booking_id=booking_id, atomic=contextlib.nullcontext)


def test_cancelling_an_unknown_booking_raises_booking_not_found(repo: InMemoryBookingRepository) -> None:
    with pytest.raises(BookingNotFound, match="booking 404 does not exist"):
        booking_cancel(bookings=repo, booking_id=404, atomic=contextlib.nullcontext)
