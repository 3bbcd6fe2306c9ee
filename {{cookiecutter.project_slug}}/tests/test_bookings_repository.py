"""The BookingRepository contract, run against the in-memory fake and the Django repository on PostgreSQL.

The same tests over both keep the fake honest: the service tests in test_bookings_domain.py trust it.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.services import user_get_or_create
from {{ cookiecutter.project_slug }}.bookings.domain import BookingStatus, Slot, SlotTaken
from {{ cookiecutter.project_slug }}.bookings.models import Booking as BookingRow
from {{ cookiecutter.project_slug }}.bookings.repositories import (
    BookingRepository,
    DjangoBookingRepository,
    InMemoryBookingRepository,
)
from {{ cookiecutter.project_slug }}.bookings.services import booking_create
from {{ cookiecutter.project_slug }}.customers.services import customer_create
from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.products.services import product_create

MISSING_ID = 987_654_321


def at(day: int, hour: int) -> datetime:
    return datetime(2032, 5, day, hour, tzinfo=UTC)


@dataclass
class Setup:
    repo: BookingRepository
    product_id: int
    other_product_id: int
    customer_id: int
    user_id: int  # a user who can record bookings


def _django_setup() -> Setup:
    tag = uuid.uuid4().hex[:8].upper()
    product = product_create(name=f"Court {tag}", sku=f"COURT-{tag}", price=Decimal("20.00"))
    other = product_create(name=f"Room {tag}", sku=f"ROOM-{tag}", price=Decimal("30.00"))
    customer = customer_create(name=f"Repo {tag}", email=f"repo-{tag.lower()}@example.com")
    user = user_get_or_create(email="repo-recorder@example.com")
    return Setup(DjangoBookingRepository(), product.pk, other.pk, customer.pk, user.pk)


@pytest.fixture(params=["in_memory", "django"])
def setup(request: pytest.FixtureRequest) -> Setup:
    if request.param == "django":
        request.getfixturevalue("tenant")  # the database, in acme's schema
        return _django_setup()
    return Setup(InMemoryBookingRepository(product_ids={1, 2}, customer_ids={5}), 1, 2, 5, 9)


def test_added_booking_is_returned_confirmed_by_get(setup: Setup) -> None:
    booked = Slot(start=at(3, 10), end=at(3, 11))

    booking_id = setup.repo.add(product_id=setup.product_id, customer_id=setup.customer_id, slot=booked)

    stored = setup.repo.get(booking_id)
    assert stored is not None
    assert stored.id == booking_id
    assert (stored.product_id, stored.customer_id, stored.slot) == (setup.product_id, setup.customer_id, booked)
    assert stored.status is BookingStatus.CONFIRMED
    assert stored.created_by_id is None
    assert setup.repo.get(booking_id, for_update=True) == stored


def test_added_booking_keeps_the_user_who_recorded_it(setup: Setup) -> None:
    booking_id = setup.repo.add(
        product_id=setup.product_id,
        customer_id=setup.customer_id,
        slot=Slot(start=at(3, 10), end=at(3, 11)),
        created_by_id=setup.user_id,
    )

    stored = setup.repo.get(booking_id)
    assert stored is not None
    assert stored.created_by_id == setup.user_id


def test_each_added_booking_gets_its_own_id(setup: Setup) -> None:
    first = setup.repo.add(product_id=setup.product_id, customer_id=setup.customer_id, slot=Slot(at(3, 10), at(3, 11)))
    second = setup.repo.add(product_id=setup.product_id, customer_id=setup.customer_id, slot=Slot(at(3, 11), at(3, 12)))

    assert first != second


def test_get_returns_none_for_unknown_booking(setup: Setup) -> None:
    assert setup.repo.get(MISSING_ID) is None


def test_lock_product_reports_whether_the_product_exists(setup: Setup) -> None:
    assert setup.repo.lock_product(setup.product_id) is True
    assert setup.repo.lock_product(MISSING_ID) is False


def test_customer_exists_reports_whether_the_customer_exists(setup: Setup) -> None:
    assert setup.repo.customer_exists(setup.customer_id) is True
    assert setup.repo.customer_exists(MISSING_ID) is False


def test_confirmed_slots_returns_every_overlapping_slot_in_start_order(setup: Setup) -> None:
    add = setup.repo.add
    add(product_id=setup.product_id, customer_id=setup.customer_id, slot=Slot(at(4, 12), at(4, 14)))
    add(
        product_id=setup.product_id, customer_id=setup.customer_id, slot=Slot(at(3, 20), at(4, 9))
    )  # from the day before
    add(product_id=setup.product_id, customer_id=setup.customer_id, slot=Slot(at(4, 9), at(4, 10)))

    found = setup.repo.confirmed_slots(setup.product_id, around=Slot(at(4, 8), at(4, 13)))

    assert found == [Slot(at(3, 20), at(4, 9)), Slot(at(4, 9), at(4, 10)), Slot(at(4, 12), at(4, 14))]


def test_confirmed_slots_leaves_out_touching_slots_other_products_and_cancelled_bookings(setup: Setup) -> None:
    add = setup.repo.add
    add(product_id=setup.product_id, customer_id=setup.customer_id, slot=Slot(at(4, 9), at(4, 10)))  # ends at start
    add(product_id=setup.product_id, customer_id=setup.customer_id, slot=Slot(at(4, 11), at(4, 12)))  # starts at end
    add(product_id=setup.other_product_id, customer_id=setup.customer_id, slot=Slot(at(4, 10), at(4, 11)))
    cancelled = add(product_id=setup.product_id, customer_id=setup.customer_id, slot=Slot(at(4, 10), at(4, 11)))
    setup.repo.set_status(cancelled, BookingStatus.CANCELLED)

    assert setup.repo.confirmed_slots(setup.product_id, around=Slot(at(4, 10), at(4, 11))) == []


def test_set_status_is_persisted(setup: Setup) -> None:
    booking_id = setup.repo.add(
        product_id=setup.product_id, customer_id=setup.customer_id, slot=Slot(at(5, 9), at(5, 10))
    )

    setup.repo.set_status(booking_id, BookingStatus.CANCELLED)

    stored = setup.repo.get(booking_id)
    assert stored is not None
    assert stored.status is BookingStatus.CANCELLED


def test_created_count_counts_the_bookings_added_in_the_window_cancelled_ones_too(setup: Setup) -> None:
    now, hour = datetime.now(UTC), timedelta(hours=1)
    before = setup.repo.created_count(since=now - hour, before=now + hour)
    add = setup.repo.add
    add(product_id=setup.product_id, customer_id=setup.customer_id, slot=Slot(at(9, 9), at(9, 10)))
    cancelled = add(product_id=setup.product_id, customer_id=setup.customer_id, slot=Slot(at(9, 10), at(9, 11)))
    setup.repo.set_status(cancelled, BookingStatus.CANCELLED)

    assert setup.repo.created_count(since=now - hour, before=now + hour) == before + 2
    assert setup.repo.created_count(since=now + hour, before=now + 2 * hour) == 0  # added before the window
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    assert setup.repo.created_count(since=long_ago, before=long_ago + 30 * hour) == 0


# --- Django repository only -------------------------------------------------------------------


def test_django_repository_locks_the_product_row_for_update(tenant: object) -> None:
    setup = _django_setup()

    with CaptureQueriesContext(connection) as queries:
        setup.repo.lock_product(setup.product_id)

    assert any("FOR UPDATE" in query["sql"] for query in queries.captured_queries)


def test_django_repository_locks_the_booking_when_read_for_update(tenant: object) -> None:
    setup = _django_setup()
    booking_id = setup.repo.add(
        product_id=setup.product_id, customer_id=setup.customer_id, slot=Slot(at(6, 9), at(6, 10))
    )

    with CaptureQueriesContext(connection) as queries:
        setup.repo.get(booking_id, for_update=True)

    assert any("FOR UPDATE" in query["sql"] for query in queries.captured_queries)


def test_booking_create_with_django_repository_rejects_overlap_and_keeps_one_row(tenant: object) -> None:
    setup = _django_setup()
    booking_create(
        bookings=setup.repo, product_id=setup.product_id, customer_id=setup.customer_id, slot=Slot(at(7, 9), at(7, 11))
    )

    with pytest.raises(SlotTaken):
        booking_create(
            bookings=setup.repo,
            product_id=setup.product_id,
            customer_id=setup.customer_id,
            slot=Slot(at(7, 10), at(7, 12)),
        )

    assert BookingRow.objects.filter(product_id=setup.product_id).count() == 1


def test_database_refuses_a_booking_row_that_ends_before_it_starts(tenant: object) -> None:
    setup = _django_setup()

    with pytest.raises(IntegrityError), transaction.atomic():
        BookingRow.objects.create(
            product_id=setup.product_id, customer_id=setup.customer_id, start=at(8, 10), end=at(8, 9)
        )


def test_a_second_transaction_cannot_lock_a_product_while_a_booking_holds_it(tenant: object) -> None:
    # Uses a committed demo product: rows made inside this test's transaction are invisible to other connections.
    product_id = Product.objects.order_by("pk").values_list("pk", flat=True).first()
    assert product_id is not None
    assert DjangoBookingRepository().lock_product(product_id) is True
    outcome: list[str] = []

    def second_booker() -> None:
        # Django gives each thread its own connection.
        try:
            with tenant_context(tenant), transaction.atomic():
                list(Product.objects.select_for_update(nowait=True).filter(pk=product_id).values_list("pk"))
            outcome.append("locked")
        except DatabaseError as exc:
            outcome.append(str(exc))
        finally:
            connections["default"].close()

    thread = threading.Thread(target=second_booker)
    thread.start()
    thread.join(timeout=30)

    assert len(outcome) == 1
    assert "could not obtain lock" in outcome[0]
