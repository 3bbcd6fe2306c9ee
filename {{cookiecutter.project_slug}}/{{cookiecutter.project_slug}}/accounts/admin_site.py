"""The tenant admin: served on tenant hosts, for that tenant's owners and admins only.

Permissions come from the membership role, not from Django's auth permissions,
which live in the public schema and know nothing of tenants.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse

from ..errors import DomainError
from .domain import MANAGING_ROLES


def manages_tenant(request: HttpRequest) -> bool:
    """True when the user is an owner or admin of the tenant behind the current host: the `manage` action of
    accounts.permissions.role_permits (read from the database), and, when TenantMembershipMiddleware ran, the
    role it put on the request too."""
    # App loading: the tenant apps' admin modules import this module under the adoption's legacy settings
    # too, where the tenancy app (which permissions -> selectors reads) is not installed.
    from . import permissions

    if hasattr(request, "membership_role") and request.membership_role not in MANAGING_ROLES:  # type: ignore[attr-defined]
        return False
    return permissions.role_permits(request.user, getattr(request, "tenant", None), permissions.Action.MANAGE)


class TenantAdminSite(admin.AdminSite):
    site_header = "Tenant administration"
    site_title = "Tenant admin"
    index_title = "Manage this tenant"

    def has_permission(self, request: HttpRequest) -> bool:
        return manages_tenant(request)

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # Members without the role are refused; anonymous users log in first, and so do other tenants' users in
        # domain routing (in path routing they are refused: permissions.strangers_refused).
        from . import permissions  # app loading: see manages_tenant

        user = request.user
        if permissions.is_member(user, getattr(request, "tenant", None)) or (
            user.is_authenticated and permissions.strangers_refused(request)
        ):
            raise PermissionDenied("The tenant admin is for the tenant's owners and admins.")
        return redirect_to_login(request.get_full_path())


class ServiceAdminForm(forms.ModelForm):
    """An admin form that writes through the app's services, the only writers of domain data.

    A subclass implements `write(data)`: call the create service (`self.instance.pk` is None) or the
    update service with the cleaned data and return the saved object. It runs once the fields and the
    model's own checks pass; a DomainError it raises becomes an error of the field it names (`exc.field`)
    or of the whole form, so the page shows it instead of failing. TenantModelAdmin.save_model then only
    takes the saved object over.
    """

    written: models.Model | None = None

    def write(self, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError(f"{type(self).__name__}.write must call a service")

    def full_clean(self) -> None:
        # After Django's own checks of the fields and the model (unique columns, constraints): the write comes last.
        super().full_clean()
        if self.is_bound and not self.errors:
            try:
                self.written = self.write(self.cleaned_data)
            except DomainError as exc:
                field = getattr(exc, "field", None)
                self.add_error(field if field in self.fields else None, str(exc))


class TenantModelAdmin(admin.ModelAdmin):
    """ModelAdmin for tenant apps: owners and admins of the current tenant may do everything.

    With a ServiceAdminForm the row was written by a service when the form was cleaned; saving only takes
    the written object's fields over (Django's admin logs and redirects with it).
    """

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> None:
        if isinstance(form, ServiceAdminForm) and form.written is not None:
            obj.__dict__.update(form.written.__dict__)
            return
        super().save_model(request, obj, form, change)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return manages_tenant(request)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return manages_tenant(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return manages_tenant(request)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return manages_tenant(request)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return manages_tenant(request)


tenant_admin_site = TenantAdminSite(name="tenant_admin")
