"""Platform admin (public host): tenants, their domains and lifecycle.

Tenants are created through the same service as `manage.py create_tenant` (lifecycle.services.
tenant_create) and change status through tenant_status_set, as the `tenant_status` command does;
the admin never writes those fields itself. It deletes no tenant (neither the stock "Delete selected" action
nor the delete page): a tenant is removed with `manage.py drop_schema`, which backs its schema up first and
drops it with the row, where a plain delete would leave the schema behind.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from ..audit.admin import AuditedModelAdmin
from ..errors import DomainError
from ..lifecycle.domains import domain_validate
from ..lifecycle.services import tenant_create, tenant_request_validate, tenant_status_set
from ..tenancy.models import Domain, SpareSchema, Tenant


class DomainInlineForm(forms.ModelForm):
    """A domain added or changed on the tenant's page, checked as `create_domain` checks it."""

    def clean_domain(self) -> str:
        try:
            return domain_validate(domain=self.cleaned_data.get("domain"), tenant=self.instance.tenant)
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from exc


class DomainInline(admin.TabularInline):
    model = Domain
    form = DomainInlineForm
    extra = 0


class TenantCreateForm(forms.ModelForm):
    """The add form: the fields of `create_tenant`, validated by the provisioning service's own rules."""

    domain = forms.CharField(required=False, help_text="Default: <slug>.<TENANCY_BASE_DOMAIN>.")
    owner_email = forms.EmailField(required=False, help_text="Gets an owner membership; created when new.")

    class Meta:
        model = Tenant
        fields = ["name", "slug"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            tenant_request_validate(
                name=data.get("name"),
                slug=data.get("slug"),
                domain=data.get("domain") or None,
                owner_email=data.get("owner_email") or None,
            )
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data

    def validate_unique(self) -> None:
        # Uniqueness of slug, schema and domain is the service's check (with a clearer message).
        pass


def _set_status(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Tenant], status: str) -> None:
    changed = 0
    for tenant in queryset:
        try:
            _, previous = tenant_status_set(slug=tenant.slug, status=status)
        except DomainError as exc:
            modeladmin.message_user(request, str(exc), level=messages.ERROR)
            continue
        changed += previous != status
    modeladmin.message_user(request, f"{changed} tenant(s) set to {status}.")


@admin.action(description="Activate selected tenants")
def activate(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
    _set_status(modeladmin, request, queryset, Tenant.Status.ACTIVE)


@admin.action(description="Suspend selected tenants (403 page, data kept)")
def suspend(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
    _set_status(modeladmin, request, queryset, Tenant.Status.SUSPENDED)


@admin.action(description="Archive selected tenants (404, data kept)")
def archive(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
    _set_status(modeladmin, request, queryset, Tenant.Status.ARCHIVED)


@admin.register(Tenant)
class TenantAdmin(AuditedModelAdmin):
    list_display = ["slug", "name", "schema_name", "status", "created"]
    list_filter = ["status"]
    search_fields = ["slug", "name", "schema_name"]
    readonly_fields = ["slug", "schema_name", "status", "created"]
    actions = [activate, suspend, archive]
    inlines = [DomainInline]

    def get_form(self, request: HttpRequest, obj: Tenant | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = TenantCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> Any:
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Tenant | None = None) -> Any:
        if obj is None:
            return ["name", "slug", "domain", "owner_email"]
        return ["name", "slug", "schema_name", "status", "created"]

    def get_inlines(self, request: HttpRequest, obj: Tenant | None) -> Any:
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Also removes the stock "Delete selected" action; `manage.py drop_schema` removes a tenant (docstring).
        return False

    def save_model(self, request: HttpRequest, obj: Tenant, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        created = tenant_create(
            name=data["name"], slug=data["slug"], domain=data.get("domain") or None,
            owner_email=data.get("owner_email") or None,
        )  # fmt: skip
        for field in ("pk", "schema_name", "status", "created"):
            setattr(obj, field, getattr(created, field))


@admin.register(SpareSchema)
class SpareSchemaAdmin(AuditedModelAdmin):
    """Read-only view of the provisioning pool (`manage.py list_tenants --spares` shows their state)."""

    list_display = ["schema_name", "created"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
