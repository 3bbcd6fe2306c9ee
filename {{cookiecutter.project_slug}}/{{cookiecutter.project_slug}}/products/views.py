"""Product pages on tenant hosts: list, create, edit, and the catalogue (cached per tenant with cache_page)."""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control, cache_page
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_cookie

from ..accounts.permissions import member_required
from ..errors import DomainError, NotFound
from .catalogue import catalogue_generation
from .forms import ProductForm
from .selectors import product_get, product_list
from .services import product_create, product_update

PAGE_SIZE = 50
# Seconds the catalogue page is served from the cache (a catalogue change shows at once: catalogue.py).
CATALOGUE_SECONDS = 60
CATALOGUE_MAX_PRODUCTS = 200


def _show_error(form: forms.Form, exc: DomainError) -> None:
    # Domain errors name the input they refer to; others are shown above the form.
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, str(exc))


@member_required(action="read")
def product_list_view(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")
    page = Paginator(product_list(search=search), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "products/list.html", {"page": page, "search": search})


@member_required(action="create")
def product_create_view(request: HttpRequest) -> HttpResponse:
    form = ProductForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            product = product_create(**form.service_kwargs())  # type: ignore[arg-type]
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"Product {product.name} created.")
            return redirect("products:list")
    return render(request, "products/form.html", {"form": form, "product": None})


@member_required(action="update")
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
        "image": product.image,
    }
    form = ProductForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            product = product_update(product_id=product.pk, **form.service_kwargs())  # type: ignore[arg-type]
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, f"Product {product.name} saved.")
            return redirect("products:list")
    return render(request, "products/form.html", {"form": form, "product": product})


@vary_on_cookie  # inside cache_page: each session gets its own entry (the page names the user)
def _catalogue_page(request: HttpRequest) -> HttpResponse:
    products = product_list(active=True)[:CATALOGUE_MAX_PRODUCTS]
    return render(request, "products/catalogue.html", {"products": products})


@require_safe
@member_required(action="read")
@cache_control(private=True)  # outside cache_page: Django's cache skips responses marked private
def catalogue_view(request: HttpRequest) -> HttpResponse:
    """`/products/catalogue/`: the tenant's active products with their images, for its members.

    Cached with `cache_page` for CATALOGUE_SECONDS: per tenant (the cache KEY_FUNCTION puts the schema name
    in every key, so two tenants never share an entry, even for the same URL), per session (Vary: Cookie),
    and per catalogue generation (a product or category change starts a new one: catalogue.py).
    """
    key_prefix = f"products.catalogue.{catalogue_generation()}"
    return cache_page(CATALOGUE_SECONDS, key_prefix=key_prefix)(_catalogue_page)(request)
