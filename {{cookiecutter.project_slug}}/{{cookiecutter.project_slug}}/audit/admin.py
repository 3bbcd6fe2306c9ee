"""The audit log in the platform admin (public host): read-only, and the mixin that records admin writes.

Every ModelAdmin registered on the platform admin (django.contrib.admin.site) derives from
AuditedModelAdmin, so each add, change and delete made there is an audit event (admin.add, admin.change,
admin.delete) in the transaction of the admin's own write.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import AuditEvent
from .services import audit_record


def _described(obj: models.Model) -> str:
    return f"{obj._meta.label} {obj.pk}: {obj}"


def _tenant_of(obj: models.Model) -> Any:
    """The tenant `obj` is (a Tenant: it has a schema name) or belongs to (a `tenant` attribute), else None."""
    if hasattr(obj, "schema_name"):
        return obj
    tenant = getattr(obj, "tenant", None)
    return tenant if hasattr(tenant, "schema_name") else None


class AuditedModelAdmin(admin.ModelAdmin):
    """A platform-admin ModelAdmin whose adds, changes and deletes are recorded in the audit log."""

    def log_addition(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        entry = super().log_addition(request, obj, message)
        audit_record(
            "admin.add", actor=request.user, tenant=_tenant_of(obj), target=_described(obj),  # type: ignore[arg-type]
            detail={"model": obj._meta.label, "pk": str(obj.pk), "message": message},
        )  # fmt: skip
        return entry

    def log_change(self, request: HttpRequest, obj: models.Model, message: Any) -> Any:
        entry = super().log_change(request, obj, message)
        audit_record(
            "admin.change", actor=request.user, tenant=_tenant_of(obj), target=_described(obj),  # type: ignore[arg-type]
            detail={"model": obj._meta.label, "pk": str(obj.pk), "message": message},
        )  # fmt: skip
        return entry

    def log_deletions(self, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        # Called before the objects are deleted, in the admin's transaction: one event per object.
        objects = list(queryset)  # evaluated once; the queryset keeps these rows for the admin log too
        entries = super().log_deletions(request, queryset)
        for obj in objects:
            audit_record(
                "admin.delete", actor=request.user, tenant=_tenant_of(obj), target=_described(obj),  # type: ignore[arg-type]
                detail={"model": obj._meta.label, "pk": str(obj.pk)},
            )  # fmt: skip
        return entries


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only list of audit events: nobody adds, changes or deletes them here."""

    list_display = ["created", "action", "actor_email", "origin", "ip_address", "os_user", "schema_name", "target"]
    list_filter = ["action", ("created", admin.DateFieldListFilter)]
    search_fields = ["actor_email", "schema_name", "target", "os_user"]
    date_hierarchy = "created"
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
