"""The tenant dashboard (`/` on a tenant host): counts, the next confirmed bookings, and plan limits nearly or
fully used (billing_views.dashboard_limits)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .accounts.permissions import member_required
from .billing_views import dashboard_limits
from .bookings.domain import BookingStatus
from .bookings.selectors import booking_list, booking_upcoming
from .customers.selectors import customer_list
from .products.selectors import product_list

UPCOMING_LIMIT = 10


@member_required(action="read")
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = {
        "active_product_count": product_list(active=True).count(),
        "customer_count": customer_list().count(),
        "upcoming_booking_count": booking_list(status=BookingStatus.CONFIRMED, ending_after=now).count(),
        "upcoming_bookings": booking_upcoming(now=now, limit=UPCOMING_LIMIT),
        # Limits at 80 % or more of the plan's: a warning each, "limit reached" at 100 % (billing.domain.WARN_AT).
        "limit_rows": dashboard_limits(request.tenant),  # type: ignore[attr-defined]
    }
    return render(request, "dashboard.html", context)
