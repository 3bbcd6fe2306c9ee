"""Booking use cases: primitives in, the transaction boundary owned here, storage behind a BookingRepository."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from ..billing.domain import Limit
from ..billing.services import plan_limit_check
from ..tenancy.addressing import TenantUnaddressable, tenant_base_url
from ..tenancy.models import Tenant
from .domain import BookingNotFound, BookingStatus, Slot, SlotTaken, UnknownCustomer, UnknownProduct, month_window
from .models import Booking as BookingRow
from .repositories import BookingRepository
from .selectors import booking_list

Atomic = Callable[[], AbstractContextManager[object]]


class LimitCheck(Protocol):
    """billing.services.plan_limit_check's shape: refuse (raise) when `adding` more of `limit` would exceed the
    plan, given the current `usage`."""

    def __call__(self, limit: Limit, /, *, usage: Callable[[], int], adding: int = 1) -> object: ...


def booking_create(
    *,
    bookings: BookingRepository,
    product_id: int,
    customer_id: int,
    slot: Slot,
    created_by_id: int | None = None,
    atomic: Atomic = transaction.atomic,
    limit_check: LimitCheck = plan_limit_check,
) -> int:
    """Book product `product_id` for customer `customer_id` during `slot`, recorded by user `created_by_id`
    (the logged-in user's id; None when nobody is known); return the new booking's id.

    The plan's bookings-per-month limit is checked first (`limit_check`, in the same transaction: it locks the
    tenant's subscription, so concurrent bookings count each other): it counts the bookings recorded in the
    current calendar month in settings.TIME_ZONE, cancelled ones included. Then the product is locked, so two
    concurrent requests for overlapping slots cannot both pass the overlap check. Raises PlanLimitReached or
    TenantReadOnly (from `limit_check`), UnknownProduct, UnknownCustomer, or SlotTaken when a confirmed booking
    of the same product overlaps `slot` (on any day: a multi-day booking blocks every day it spans).
    """
    with atomic():
        since, before = month_window(dt.datetime.now(ZoneInfo(settings.TIME_ZONE)))
        limit_check(Limit.BOOKINGS_PER_MONTH, usage=lambda: bookings.created_count(since=since, before=before))
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
        return bookings.add(product_id=product_id, customer_id=customer_id, slot=slot, created_by_id=created_by_id)


def booking_cancel(*, bookings: BookingRepository, booking_id: int, atomic: Atomic = transaction.atomic) -> None:
    """Cancel booking `booking_id`, freeing its slot. Raises BookingNotFound, or AlreadyCancelled."""
    with atomic():
        booking = bookings.get(booking_id, for_update=True)
        if booking is None:
            raise BookingNotFound(f"booking {booking_id!r} does not exist; expected the id of an existing booking")
        bookings.set_status(booking_id, booking.cancelled().status)


def reminders_send(*, day: dt.date | None = None) -> int:
    """Email every customer with a confirmed booking starting on `day` one reminder; return how many were sent.

    `day` is a calendar day in settings.TIME_ZONE (default: tomorrow there); a booking belongs to the day
    its start falls on in that zone. Cancelled bookings and bookings of other days get nothing. Works in
    the current tenant's schema; the subject and body name the product, the local start time and the
    tenant, and the body ends with the tenant's web address (tenancy.addressing.tenant_base_url: its host in
    domain mode, `<public host>/<prefix>/<slug>/` in path mode; settings decide scheme and port).
    Mail goes through the configured EMAIL_BACKEND from DEFAULT_FROM_EMAIL, in one connection.

    Idempotent: a booking gets one reminder however often this runs. Each booking is locked, sent and
    marked (Booking.reminder_sent_at) in a transaction of its own, and a booking already marked is
    skipped, so a rerun, a redelivered task or a concurrent run (which waits for the lock, then sees the
    mark) sends nothing twice. Only a crash between the mail server accepting a message and the commit
    can repeat that one reminder. Errors of the email backend (SMTPException, OSError) propagate; the
    reminders sent before the error stay marked, the failed one is sent by the next run.
    """
    zone = ZoneInfo(settings.TIME_ZONE)
    if day is None:
        day = dt.datetime.now(zone).date() + dt.timedelta(days=1)
    starting_from = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    starting_before = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    due = booking_list(
        status=BookingStatus.CONFIRMED, starting_from=starting_from, starting_before=starting_before
    ).filter(reminder_sent_at__isnull=True)
    due_ids = list(due.values_list("pk", flat=True))
    if not due_ids:
        return 0
    tenant_name, tenant_address = _tenant_name(), _tenant_address()
    sent = 0
    with mail.get_connection() as mailer:
        for booking_id in due_ids:
            with transaction.atomic():
                # The lock makes a concurrent run wait here; PostgreSQL then re-reads the row, which no longer
                # matches once the other run marked it (or the booking was cancelled meanwhile).
                booking = due.select_for_update(of=("self",)).filter(pk=booking_id).first()
                if booking is None:
                    continue
                message = _reminder(booking, zone=zone, tenant_name=tenant_name, address=tenant_address)
                sent += mailer.send_messages([message]) or 0
                BookingRow.objects.filter(pk=booking_id).update(reminder_sent_at=timezone.now())
    return sent


def _tenant_name() -> str:
    # The edge (task headers, `shell --tenant`, tenant_context) set the tenant; a bare set_schema()
    # leaves a FakeTenant without a name, and the reminder then simply names no tenant.
    return str(getattr(getattr(connection, "tenant", None), "name", "") or "")


def _tenant_address() -> str:
    # The tenant's home URL ("" with no real tenant on the connection, or a tenant no URL leads to).
    tenant = getattr(connection, "tenant", None)
    if not isinstance(tenant, Tenant):
        return ""
    try:
        return tenant_base_url(tenant) + "/"
    except TenantUnaddressable:
        return ""


def _reminder(booking: BookingRow, *, zone: ZoneInfo, tenant_name: str, address: str) -> mail.EmailMessage:
    start, end = booking.start.astimezone(zone), booking.end.astimezone(zone)
    when = f"{start:%A %d %B %Y} at {start:%H:%M}"
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%A %d %B %Y %H:%M}"
    product = booking.product.name
    with_tenant = f" with {tenant_name}" if tenant_name else ""
    lines = [
        f"Hello {booking.customer.name},",
        "",
        f"This is a reminder of your booking{with_tenant}:",
        "",
        f"    {product}",
        f"    {when}, until {until} ({zone.key})",
        "",
        "We look forward to seeing you.",
        *(["", tenant_name] if tenant_name else []),
        *([address] if address else []),
    ]
    return mail.EmailMessage(
        subject=f"Reminder: {product} on {when}{with_tenant}",
        body="\n".join(lines) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[booking.customer.email],
    )
