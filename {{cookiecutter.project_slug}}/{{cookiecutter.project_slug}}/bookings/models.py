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
