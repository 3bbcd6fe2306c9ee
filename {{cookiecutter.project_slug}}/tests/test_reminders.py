"""Booking reminders (bookings.services.reminders_send): who gets an email, what it says, which tenant's bookings.

The service is tested directly, without Celery, so these tests also run in a project baked without it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import mail
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.bookings.domain import Slot
from {{ cookiecutter.project_slug }}.bookings.models import Booking
from {{ cookiecutter.project_slug }}.bookings.repositories import DjangoBookingRepository
from {{ cookiecutter.project_slug }}.bookings.services import booking_cancel, booking_create, reminders_send
from {{ cookiecutter.project_slug }}.customers.services import customer_create
from {{ cookiecutter.project_slug }}.products.services import product_create

DAY = dt.date(2031, 6, 4)


def book(product_name: str, *, start: dt.datetime, hours: int = 1, customer: str | None = None) -> str:
    """Book a new product named `product_name` for a new customer at `start`; return the customer's email."""
    tag = uuid.uuid4().hex[:8]
    product = product_create(name=product_name, sku=f"R-{tag.upper()}", price="10.00")
    email = f"{customer or 'guest'}-{tag}@example.com"
    booking_create(
        bookings=DjangoBookingRepository(),
        product_id=product.pk,
        customer_id=customer_create(name=f"{customer or 'Guest'} {tag}", email=email).pk,
        slot=Slot(start=start, end=start + dt.timedelta(hours=hours)),
    )
    return email


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(settings.TIME_ZONE))


def test_each_confirmed_booking_of_the_day_gets_one_reminder_naming_product_time_and_tenant(tenant: object) -> None:
    first = book("Anvil Deluxe", start=local(DAY, 10), customer="wile")
    second = book("Rocket Skates XL", start=local(DAY, 16, 30), customer="road")
    cancelled = book("Giant Magnet", start=local(DAY, 12))
    booking_cancel(bookings=DjangoBookingRepository(), booking_id=Booking.objects.get(customer__email=cancelled).pk)
    day_before = book("Anvil", start=local(DAY - dt.timedelta(days=1), 23))
    day_after = book("Anvil", start=local(DAY + dt.timedelta(days=1), 0, 30))

    assert reminders_send(day=DAY) == 2

    sent = {message.to[0]: message for message in mail.outbox}
    assert set(sent) == {first, second}
    assert not {cancelled, day_before, day_after} & set(sent)
    reminder = sent[first]
    assert reminder.from_email == settings.DEFAULT_FROM_EMAIL
    assert "Anvil Deluxe" in reminder.subject and "10:00" in reminder.subject
    assert "Acme Corporation" in reminder.subject
    assert "Anvil Deluxe" in reminder.body and "10:00" in reminder.body and "11:00" in reminder.body
    assert "Acme Corporation" in reminder.body and "Wednesday 04 June 2031" in reminder.body
    assert "Rocket Skates XL" in sent[second].subject and "16:30" in sent[second].body


def test_default_day_is_tomorrow_in_the_site_time_zone(tenant: object) -> None:
    Booking.objects.all().delete()  # the demo booking's day depends on when the test database was made
    today = dt.datetime.now(ZoneInfo(settings.TIME_ZONE)).date()
    tomorrow = book("Anvil", start=local(today + dt.timedelta(days=1), 9))
    book("Anvil", start=local(today, 23, 59))
    book("Anvil", start=local(today + dt.timedelta(days=2), 0))

    assert reminders_send() == 1
    assert [message.to for message in mail.outbox] == [[tomorrow]]


def test_day_and_start_time_are_those_of_the_site_time_zone(tenant: object, settings: Any) -> None:
    settings.TIME_ZONE = "Pacific/Auckland"  # 12 or 13 hours ahead of UTC: days there start the previous UTC day
    early = book("Dawn Yoga", start=local(DAY, 0, 30))
    late = book("Night Swim", start=local(DAY, 23, 30))
    book("Anvil", start=local(DAY - dt.timedelta(days=1), 23, 30))
    book("Anvil", start=local(DAY + dt.timedelta(days=1), 0, 30))

    assert reminders_send(day=DAY) == 2

    sent = {message.to[0]: message for message in mail.outbox}
    assert set(sent) == {early, late}
    assert "00:30" in sent[early].subject and "Pacific/Auckland" in sent[early].body
    assert "23:30" in sent[late].subject


def test_reminders_run_in_acme_never_include_globex_bookings(tenant: object, other_tenant: object) -> None:
    acme = book("Anvil", start=local(DAY, 10))
    with tenant_context(other_tenant):
        globex = book("Hammock", start=local(DAY, 10))

    assert reminders_send(day=DAY) == 1
    assert [message.to for message in mail.outbox] == [[acme]]
    assert "Globex" not in f"{mail.outbox[0].subject} {mail.outbox[0].body}"

    with tenant_context(other_tenant):
        assert reminders_send(day=DAY) == 1
    assert mail.outbox[1].to == [globex]
    assert "Globex Corporation" in mail.outbox[1].body and "Hammock" in mail.outbox[1].subject


def test_a_rerun_sends_only_the_reminders_not_sent_yet(tenant: object) -> None:
    early = book("Anvil", start=local(DAY, 9))
    assert reminders_send(day=DAY) == 1
    late = book("Rocket Skates", start=local(DAY, 18))  # booked after the first run

    assert reminders_send(day=DAY) == 1
    assert reminders_send(day=DAY) == 0
    assert [message.to for message in mail.outbox] == [[early], [late]]
    assert Booking.objects.filter(customer__email__in=[early, late], reminder_sent_at__isnull=True).count() == 0


def test_a_day_without_bookings_sends_nothing(tenant: object) -> None:
    assert reminders_send(day=dt.date(2041, 6, 4)) == 0
    assert mail.outbox == []
