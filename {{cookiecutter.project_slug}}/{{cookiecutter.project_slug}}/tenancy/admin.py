"""Platform admin (public host): tenants and their domains."""

from django.contrib import admin

from .models import Domain, Tenant


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "schema_name", "status", "created"]
    list_filter = ["status"]
    search_fields = ["slug", "name", "schema_name"]
    readonly_fields = ["schema_name", "created"]
    inlines = [DomainInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        # Tenants are provisioned by `manage.py create_tenant` (schema and migrations included).
        return False
