"""Customer pages on tenant hosts: list, create, edit."""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from ..accounts.permissions import member_required
from ..errors import DomainError, NotFound
from .forms import CustomerForm
from .selectors import customer_get, customer_list
from .services import customer_create, customer_update

PAGE_SIZE = 50


def _show_error(form: forms.Form, exc: DomainError) -> None:
    # Domain errors name the input they refer to; others are shown above the form.
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, str(exc))


@member_required(action="read")
def customer_list_view(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")
    page = Paginator(customer_list(search=search), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "customers/list.html", {"page": page, "search": search})


@member_required(action="create")
def customer_create_view(request: HttpRequest) -> HttpResponse:
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = customer_create(**form.service_kwargs())
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"Customer {customer.name} created.")
            return redirect("customers:list")
    return render(request, "customers/form.html", {"form": form, "customer": None})


@member_required(action="update")
def customer_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        customer = customer_get(customer_id=pk)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    initial = {"name": customer.name, "email": customer.email, "phone": customer.phone}
    form = CustomerForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            customer = customer_update(customer_id=customer.pk, **form.service_kwargs())
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"Customer {customer.name} saved.")
            return redirect("customers:list")
    return render(request, "customers/form.html", {"form": form, "customer": customer})
