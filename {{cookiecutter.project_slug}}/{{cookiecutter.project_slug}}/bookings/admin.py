from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from ..accounts.admin_site import TenantModelAdmin, tenant_admin_site
from ..errors import DomainError
from .models import Booking
from .repositories import DjangoBookingRepository
from .services import booking_cancel


@admin.register(Booking, site=tenant_admin_site)
class BookingAdmin(TenantModelAdmin):
    """Read-only apart from cancelling: creating or moving a booking must pass the overlap check in services."""

    list_display = ["id", "product", "customer", "start", "end", "status", "created", "created_by"]
    list_filter = ["status", "product"]
    search_fields = ["product__name", "product__sku", "customer__name", "customer__email"]
    date_hierarchy = "start"
    list_select_related = ["product", "customer", "created_by"]
    actions = ["cancel_bookings"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description="Cancel selected bookings", permissions=["view"])
    def cancel_bookings(self, request: HttpRequest, queryset: QuerySet[Booking]) -> None:
        repository = DjangoBookingRepository()
        cancelled = 0
        for booking_id in queryset.values_list("pk", flat=True):
            try:
                booking_cancel(bookings=repository, booking_id=booking_id)
            except DomainError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                cancelled += 1
        self.message_user(request, f"Cancelled {cancelled} booking(s).", messages.SUCCESS)
