"""Catalogue reads for the current tenant."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .domain import ProductNotFound
from .models import Category, Product


def product_list(*, active: bool | None = None, search: str | None = None) -> QuerySet[Product]:
    """Products ordered by name, with their category; `active` filters on the flag, `search` on name or SKU."""
    products = Product.objects.select_related("category")
    if active is not None:
        products = products.filter(active=active)
    if search and search.strip():
        term = search.strip()
        products = products.filter(Q(name__icontains=term) | Q(sku__icontains=term))
    return products


def product_get(*, product_id: int) -> Product:
    """Return product `product_id`; raise ProductNotFound when the current tenant has none with that id."""
    product = Product.objects.select_related("category").filter(pk=product_id).first()
    if product is None:
        raise ProductNotFound(f"product {product_id!r} does not exist; expected the id of an existing product")
    return product


def category_list() -> QuerySet[Category]:
    """Categories ordered by name."""
    return Category.objects.all()
