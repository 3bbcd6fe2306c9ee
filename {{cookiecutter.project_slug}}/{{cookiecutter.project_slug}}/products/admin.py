from django import forms
from django.contrib import admin

from ..accounts.admin_site import TenantModelAdmin, tenant_admin_site
from ..errors import InvalidValue
from .domain import normalize_sku, parse_price
from .models import Category, Product


class ProductAdminForm(forms.ModelForm):
    """Applies the catalogue rules of domain.py to admin edits too."""

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


@admin.register(Category, site=tenant_admin_site)
class CategoryAdmin(TenantModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Product, site=tenant_admin_site)
class ProductAdmin(TenantModelAdmin):
    form = ProductAdminForm
    list_display = ["name", "sku", "price", "category", "active", "stock", "low_stock"]
    list_filter = ["active", "low_stock", "category"]
    search_fields = ["name", "sku"]
