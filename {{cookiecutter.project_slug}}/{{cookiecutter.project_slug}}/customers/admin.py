from typing import Any

from django import forms
from django.contrib import admin

from ..accounts.admin_site import ServiceAdminForm, TenantModelAdmin, tenant_admin_site
from ..errors import InvalidValue
from .domain import normalize_email, normalize_phone
from .models import Customer
from .services import customer_create, customer_update


class CustomerAdminForm(ServiceAdminForm):
    """Applies the customer rules of domain.py to admin edits too (lowercase emails, phone format), and writes
    through customers.services."""

    class Meta:
        model = Customer
        fields = ["name", "email", "phone"]

    def clean_email(self) -> str:
        try:
            return normalize_email(self.cleaned_data["email"])
        except InvalidValue as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_phone(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except InvalidValue as exc:
            raise forms.ValidationError(str(exc)) from None

    def write(self, data: dict[str, Any]) -> Customer:
        if self.instance.pk is None:
            return customer_create(name=data["name"], email=data["email"], phone=data.get("phone") or None)
        return customer_update(
            customer_id=self.instance.pk, name=data["name"], email=data["email"], phone=data.get("phone") or None
        )


@admin.register(Customer, site=tenant_admin_site)
class CustomerAdmin(TenantModelAdmin):
    form = CustomerAdminForm
    list_display = ["name", "email", "phone", "created"]
    search_fields = ["name", "email", "phone"]
