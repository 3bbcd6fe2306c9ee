from django import forms
from django.contrib import admin

from ..accounts.admin_site import TenantModelAdmin, tenant_admin_site
from ..errors import InvalidValue
from .domain import normalize_email, normalize_phone
from .models import Customer


class CustomerAdminForm(forms.ModelForm):
    """Applies the customer rules of domain.py to admin edits too (lowercase emails, phone format)."""

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


@admin.register(Customer, site=tenant_admin_site)
class CustomerAdmin(TenantModelAdmin):
    form = CustomerAdminForm
    list_display = ["name", "email", "phone", "created"]
    search_fields = ["name", "email", "phone"]
