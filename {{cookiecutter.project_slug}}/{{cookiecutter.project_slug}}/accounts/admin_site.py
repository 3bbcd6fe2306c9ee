"""The tenant admin: served on tenant hosts, for that tenant's owners and admins only.

Permissions come from the membership role, not from Django's auth permissions,
which live in the public schema and know nothing of tenants.
"""

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from .domain import MANAGING_ROLES


def manages_tenant(request: HttpRequest) -> bool:
    """True when the user is an owner or admin of the tenant behind the current host."""
    return request.user.is_authenticated and getattr(request, "membership_role", None) in MANAGING_ROLES


class TenantAdminSite(admin.AdminSite):
    site_header = "Tenant administration"
    site_title = "Tenant admin"
    index_title = "Manage this tenant"

    def has_permission(self, request: HttpRequest) -> bool:
        return manages_tenant(request)

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if request.user.is_authenticated:
            raise PermissionDenied("The tenant admin is for the tenant's owners and admins.")
        return redirect_to_login(request.get_full_path())


class TenantModelAdmin(admin.ModelAdmin):
    """ModelAdmin for tenant apps: owners and admins of the current tenant may do everything."""

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
