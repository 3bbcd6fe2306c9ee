"""Booking pages on tenant hosts: list, create, cancel (POST)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from ..accounts.permissions import member_required
from ..errors import DomainError
from .domain import Slot
from .forms import BookingForm
from .repositories import DjangoBookingRepository
from .selectors import booking_list
from .services import booking_cancel, booking_create

PAGE_SIZE = 50


@member_required(action="read")
def booking_list_view(request: HttpRequest) -> HttpResponse:
    """Bookings not yet over, soonest first; `?show=all` includes past ones."""
    show_all = request.GET.get("show") == "all"
    # The users who recorded the bookings are in the public schema; the search path reaches them in the same query.
    bookings = booking_list(ending_after=None if show_all else timezone.now()).select_related("created_by")
    page = Paginator(bookings, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "bookings/list.html", {"page": page, "show_all": show_all})


@member_required(action="create")
def booking_create_view(request: HttpRequest) -> HttpResponse:
    form = BookingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            booking_create(
                bookings=DjangoBookingRepository(),
                product_id=data["product"].pk,
                customer_id=data["customer"].pk,
                slot=Slot(start=data["start"], end=data["end"]),
                created_by_id=request.user.pk,
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{data['product'].name} booked for {data['customer'].name}.")
            return redirect("bookings:list")
    return render(request, "bookings/form.html", {"form": form})


@require_POST
@member_required(action="update")
def booking_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        booking_cancel(bookings=DjangoBookingRepository(), booking_id=pk)
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Booking {pk} cancelled.")
    return redirect("bookings:list")
