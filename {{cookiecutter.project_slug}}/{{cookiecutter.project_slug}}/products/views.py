"""Product pages on tenant hosts: list, create, edit."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from ..errors import DomainError, NotFound
from .forms import ProductForm
from .selectors import product_get, product_list
from .services import product_create, product_update

PAGE_SIZE = 50


def _show_error(form: forms.Form, exc: DomainError) -> None:
    # Domain errors name the input they refer to; others are shown above the form.
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, str(exc))


@login_required
def product_list_view(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")
    page = Paginator(product_list(search=search), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "products/list.html", {"page": page, "search": search})


@login_required
def product_create_view(request: HttpRequest) -> HttpResponse:
    form = ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            product = product_create(**form.service_kwargs())  # type: ignore[arg-type]
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"Product {product.name} created.")
            return redirect("products:list")
    return render(request, "products/form.html", {"form": form, "product": None})


@login_required
def product_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        product = product_get(product_id=pk)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    initial = {
        "name": product.name,
        "sku": product.sku,
        "price": product.price,
        "category": product.category,
        "active": product.active,
        "stock": product.stock,
    }
    form = ProductForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            product = product_update(product_id=product.pk, **form.service_kwargs())  # type: ignore[arg-type]
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"Product {product.name} saved.")
            return redirect("products:list")
    return render(request, "products/form.html", {"form": form, "product": product})
