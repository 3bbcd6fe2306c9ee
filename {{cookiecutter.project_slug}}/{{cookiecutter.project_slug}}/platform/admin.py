"""Platform admin (public host): tenants, their domains and lifecycle; plans and subscriptions.

Tenants are created through the same service as `manage.py create_tenant` (lifecycle.services.
tenant_create) and change status through tenant_status_set, as the `tenant_status` command does;
the admin never writes those fields itself. It deletes no tenant (neither the stock "Delete selected" action
nor the delete page): a tenant is removed with `manage.py drop_schema`, which backs its schema up first and
drops it with the row, where a plain delete would leave the schema behind.

Plans are edited here field by field (`manage.py plans` lists them). A subscription's plan changes through
billing.services.plan_change, as `manage.py subscription --plan` changes it: recorded as `billing.plan_change`
with source "admin", effective at once. Status and dates are edited as they are; a past-due subscription
without a date counts from the save. Subscriptions come and go with their tenants: none is added or deleted here.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from ..audit.admin import AuditedModelAdmin
from ..billing.domain import SubscriptionStatus
from ..billing.models import Plan, Subscription
from ..billing.services import plan_change
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


class PlanForm(forms.ModelForm):
    """Every field of a plan; one default plan at a time, named in the error."""

    class Meta:
        model = Plan
        fields = [
            "code", "name", "price_monthly", "price_yearly", "currency", "trial_days", "max_members", "max_products",
            "max_customers", "max_bookings_per_month", "max_storage_mb", "features", "is_default", "offered",
            "position",
        ]  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("is_default"):
            other = Plan.objects.filter(is_default=True).exclude(pk=self.instance.pk).first()
            if other is not None:
                self.add_error(
                    "is_default",
                    f"plan {other.code!r} is the default plan; untick it there first (one default plan at a time)",
                )
        return data

    def validate_constraints(self, exclude: Any = None) -> None:
        # The one-default constraint is clean()'s check, with the message above.
        pass


@admin.register(Plan)
class PlanAdmin(AuditedModelAdmin):
    form = PlanForm
    list_display = [
        "code", "name", "price_monthly", "price_yearly", "currency", "trial_days", "max_members", "max_products",
        "max_customers", "max_bookings_per_month", "max_storage_mb", "is_default", "offered", "position",
    ]  # fmt: skip
    list_display_links = ["code", "name"]
    list_filter = ["offered", "is_default"]
    search_fields = ["code", "name"]
    ordering = ["position", "code"]


class SubscriptionForm(forms.ModelForm):
    class Meta:
        model = Subscription
        fields = [
            "plan", "interval", "status", "trial_end", "current_period_end", "past_due_since", "cancel_at_period_end",
        ]  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("status") == SubscriptionStatus.PAST_DUE and not data.get("past_due_since"):
            data["past_due_since"] = self.instance.past_due_since or timezone.now()
        elif data.get("status") and data.get("status") != SubscriptionStatus.PAST_DUE:
            data["past_due_since"] = None
        return data


@admin.register(Subscription)
class SubscriptionAdmin(AuditedModelAdmin):
    form = SubscriptionForm
    list_display = ["tenant_slug", "tenant_name", "plan", "status", "interval", "current_period_end", "provider"]
    list_filter = ["status", "plan", "provider"]
    list_select_related = ["tenant", "plan"]
    search_fields = ["tenant__slug", "tenant__name"]
    ordering = ["tenant__slug"]
    readonly_fields = [
        "tenant", "provider", "stripe_customer_id", "stripe_subscription_id", "stripe_state_at", "created", "updated",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": ["tenant", "plan", "interval", "status", "cancel_at_period_end"]}),
        ("Dates", {"fields": ["trial_end", "current_period_end", "past_due_since"]}),
        ("Provider", {"fields": ["provider", "stripe_customer_id", "stripe_subscription_id", "stripe_state_at"]}),
        (None, {"fields": ["created", "updated"]}),
    ]

    @admin.display(description="tenant", ordering="tenant__slug")
    def tenant_slug(self, obj: Subscription) -> str:
        return obj.tenant.slug

    @admin.display(description="name", ordering="tenant__name")
    def tenant_name(self, obj: Subscription) -> str:
        return obj.tenant.name

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # lifecycle.services.tenant_create starts each tenant's subscription

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # deleted with its tenant (`manage.py drop_schema`)

    def save_model(self, request: HttpRequest, obj: Subscription, form: forms.ModelForm, change: bool) -> None:
        if "plan" in form.changed_data:
            # Through the service: audited as billing.plan_change (source "admin"), limits change at once.
            plan_change(tenant=obj.tenant, plan_code=obj.plan.code, actor=request.user, source="admin")
        super().save_model(request, obj, form, change)
