"""Platform admin (public host) for users and memberships; its writes are audit events (audit.admin)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from ..audit.admin import AuditedModelAdmin
from .models import Invitation, LoginToken, Membership, User
from .services import user_delete


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["tenant"]


@admin.register(User)
class UserAdmin(AuditedModelAdmin, DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "name"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name",)}),
        ("Platform rights", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        # Tenant schemas refer to users (admin logs, bookings): user_delete keeps the row as a tombstone.
        user_delete(user=obj)

    def delete_queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        for user in queryset:
            user_delete(user=user)


@admin.register(Membership)
class MembershipAdmin(AuditedModelAdmin):
    list_display = ["user", "tenant", "role", "created"]
    list_filter = ["role"]
    search_fields = ["user__email", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]


class ReadOnlyAdmin(AuditedModelAdmin):
    """Rows the application writes; the admin lists them and may delete them."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(LoginToken)
class LoginTokenAdmin(ReadOnlyAdmin):
    """One-time login tokens, read-only: issued by sign-up, consumed on the tenant's host."""

    list_display = ["user", "tenant", "created", "expires_at", "used_at"]
    search_fields = ["user__email", "tenant__slug"]
    readonly_fields = ["user", "tenant", "token_hash", "created", "expires_at", "used_at"]


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    """Invitations, read-only: sent and withdrawn from each tenant's members page, accepted on its host."""

    list_display = ["email", "tenant", "role", "invited_by", "created", "expires_at", "accepted_at"]
    list_filter = ["role"]
    search_fields = ["email", "tenant__slug"]
    readonly_fields = [
        "tenant", "email", "role", "token_hash", "invited_by", "created", "expires_at", "accepted_at", "accepted_by"
    ]  # fmt: skip
