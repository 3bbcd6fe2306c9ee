from typing import Any

from django import forms
from django.contrib import admin
from django.db.models.fields.files import FieldFile

from ..accounts.admin_site import ServiceAdminForm, TenantModelAdmin, tenant_admin_site
from ..errors import InvalidValue
from .domain import normalize_sku, parse_price
from .models import Category, Product
from .services import KEEP, category_create, category_update, product_create, product_update


class CategoryAdminForm(ServiceAdminForm):
    """Creates and renames categories through services.category_create / category_update."""

    class Meta:
        model = Category
        fields = ["name"]

    def write(self, data: dict[str, Any]) -> Category:
        if self.instance.pk is None:
            return category_create(name=data["name"])
        return category_update(category_id=self.instance.pk, name=data["name"])


class ProductAdminForm(ServiceAdminForm):
    """Applies the catalogue rules of domain.py to admin edits too, and writes through products.services."""

    class Meta:
        model = Product
        fields = ["name", "sku", "price", "category", "active", "stock", "image"]

    def clean_sku(self) -> str:
        try:
            return normalize_sku(self.cleaned_data["sku"])
        except InvalidValue as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_price(self) -> object:
        try:
            return parse_price(self.cleaned_data["price"])
        except InvalidValue as exc:
            raise forms.ValidationError(str(exc)) from None

    def write(self, data: dict[str, Any]) -> Product:
        category = data.get("category")
        fields = {
            "name": data["name"], "sku": data["sku"], "price": data["price"], "active": data["active"],
            "stock": data["stock"], "category_id": category.pk if category else None,
        }  # fmt: skip
        image = data.get("image")
        # The admin's file input gives the stored file back when unchanged, False when "clear" is ticked.
        if self.instance.pk is None:
            return product_create(**fields, image=image or None)
        kept = KEEP if image is None or isinstance(image, FieldFile) else (image or None)
        return product_update(product_id=self.instance.pk, **fields, image=kept)


@admin.register(Category, site=tenant_admin_site)
class CategoryAdmin(TenantModelAdmin):
    form = CategoryAdminForm
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Product, site=tenant_admin_site)
class ProductAdmin(TenantModelAdmin):
    form = ProductAdminForm
    list_display = ["name", "sku", "price", "category", "active", "stock", "low_stock"]
    list_filter = ["active", "low_stock", "category"]
    search_fields = ["name", "sku"]
