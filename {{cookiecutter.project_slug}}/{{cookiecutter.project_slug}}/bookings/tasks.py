"""Bookings tasks: thin wrappers around services, run by the worker in the tenant they were sent from."""

from config.celery_app import app

from .services import reminders_send


@app.task(name="bookings.send_reminders")
def send_reminders() -> int:
    """Email tomorrow's confirmed bookings (settings.TIME_ZONE) their reminder; return how many were sent.

    A tenant task: send it from inside a tenant (`shell --tenant acme`, a request, tenant_context) or to
    every active tenant with the fan-out helper / beat. Each run sends again, so schedule it once a day.
    """
    return reminders_send()
