"""Tenant and Domain: the public schema's map of tenants to schemas and host names."""

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Tenant(TenantMixin):
    """One customer organisation, with its own PostgreSQL schema `tenant_<slug>`."""

    class Status(models.TextChoices):
        PROVISIONING = "provisioning", "Provisioning"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=40, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created = models.DateTimeField(auto_now_add=True)

    # Schemas are created and dropped by tenancy.services, inside the same
    # transaction as the tenant row, never implicitly by save() or delete().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class Domain(DomainMixin):
    """A host name that routes to a tenant (stored lowercase, internationalised names as punycode)."""

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain
