"""Bookings tasks: thin wrappers around services, run by the worker in the tenant they were sent from."""

from .services import reminders_send
from config.celery_app import IDEMPOTENT, app


@app.task(name="bookings.send_reminders", **IDEMPOTENT)
def send_reminders() -> int:
    """Email tomorrow's confirmed bookings (settings.TIME_ZONE) their reminder; return how many were sent.

    A tenant task: send it from inside a tenant (`shell --tenant acme`, a request, tenant_context) or to
    every active tenant with the fan-out helper / beat. Idempotent: each booking gets one reminder however
    often this runs (Booking.reminder_sent_at), so it is delivered at least once, requeued when its worker
    dies and retried when the database connection is lost (config.celery_app.IDEMPOTENT).
    """
    return reminders_send()
