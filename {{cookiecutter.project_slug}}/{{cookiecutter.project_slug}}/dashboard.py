"""The tenant dashboard (`/` on a tenant host): counts and the next confirmed bookings."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .bookings.domain import BookingStatus
from .bookings.selectors import booking_list, booking_upcoming
from .customers.selectors import customer_list
from .products.selectors import product_list

UPCOMING_LIMIT = 10


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    context = {
        "active_product_count": product_list(active=True).count(),
        "customer_count": customer_list().count(),
        "upcoming_booking_count": booking_list(status=BookingStatus.CONFIRMED, ending_after=now).count(),
        "upcoming_bookings": booking_upcoming(now=now, limit=UPCOMING_LIMIT),
    }
    return render(request, "dashboard.html", context)
