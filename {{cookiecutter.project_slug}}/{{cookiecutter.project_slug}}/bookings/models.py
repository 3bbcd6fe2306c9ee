from django.conf import settings
from django.db import models

from ..customers.models import Customer
from ..products.models import Product
from .domain import BookingStatus


class Booking(models.Model):
    """A customer's booking of a product for a time slot [start, end)."""

    class Status(models.TextChoices):
        CONFIRMED = BookingStatus.CONFIRMED.value, "Confirmed"
        CANCELLED = BookingStatus.CANCELLED.value, "Cancelled"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="bookings")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="bookings")
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONFIRMED)
    created = models.DateTimeField(auto_now_add=True)
    # Set in the transaction that sends the reminder (bookings.services.reminders_send), so a rerun of
    # the reminders task, a redelivered message or a concurrent run never sends it twice.
    reminder_sent_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the booking's reminder email went out (none yet: empty)."
    )
    # Users live in the public schema, bookings in each tenant's schema. No foreign key in the database
    # (db_constraint=False; bookings migration 0004 says why): a user's row is never deleted (accounts
    # migration 0005, accounts.services.user_delete), so the id stays valid. DO_NOTHING keeps Django's
    # delete collector from querying this table from the public schema, where it does not exist.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        help_text="Who recorded the booking (a global user, public schema).",
    )

    class Meta:
        ordering = ["start", "pk"]
        indexes = [models.Index(fields=["product", "start", "end"], name="bookings_product_slot_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="bookings_booking_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} for {self.customer} from {self.start:%Y-%m-%d %H:%M}"
