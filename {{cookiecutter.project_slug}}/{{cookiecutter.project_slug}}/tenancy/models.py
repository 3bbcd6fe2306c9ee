"""Tenant and Domain: the public schema's map of tenants to schemas and host names."""

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin

from .domain import Access, BillingSnapshot, access_for


def billing_grace() -> dt.timedelta:
    """settings.BILLING_GRACE_DAYS (days, a number >= 0; default 7) as a timedelta: how long an overdue tenant
    keeps working, with a banner, before it becomes read-only."""
    return dt.timedelta(days=float(getattr(settings, "BILLING_GRACE_DAYS", 7)))


class Tenant(TenantMixin):
    """One customer organisation, with its own PostgreSQL schema `tenant_<slug>`."""

    class Status(models.TextChoices):
        PROVISIONING = "provisioning", "Provisioning"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=40, unique=True)
    # A tenant is served only while active; provisioning answers "setting up" (503), suspended 403,
    # archived 404 (tenancy/middleware.py). Only lifecycle.services change it.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROVISIONING)
    created = models.DateTimeField(auto_now_add=True)
    # The subscription's state, copied here by a database trigger on billing_subscription (billing migration
    # 0001) whatever writes the subscription, so routing, Celery and the fleet commands read it with the tenant
    # row (and the routing version moves with it). Read through `billing_snapshot`; never written by code.
    billing_status = models.CharField(max_length=20, default="active", editable=False)
    billing_past_due_since = models.DateTimeField(null=True, blank=True, editable=False)
    billing_period_end = models.DateTimeField(null=True, blank=True, editable=False)
    billing_trial_end = models.DateTimeField(null=True, blank=True, editable=False)

    # Schemas are created and dropped by lifecycle.services, inside the same
    # transaction as the tenant row, never implicitly by save() or delete().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def billing_snapshot(self) -> BillingSnapshot:
        """The subscription state this row carries (tenancy.domain.access_for decides what it allows)."""
        return BillingSnapshot(
            status=self.billing_status,
            past_due_since=self.billing_past_due_since,
            period_end=self.billing_period_end,
            trial_end=self.billing_trial_end,
        )

    def access(self, *, now: dt.datetime | None = None) -> Access:
        """What the subscription allows now (settings.BILLING_GRACE_DAYS of grace for an overdue payment)."""
        return access_for(self.billing_snapshot, now=now or timezone.now(), grace=billing_grace())


class Domain(DomainMixin):
    """A host name that routes to a tenant (stored lowercase, internationalised names as punycode)."""

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class SpareSchema(models.Model):
    """A schema migrated ahead of time, waiting to become a tenant's schema (lifecycle/provisioning.py).

    Its name starts with `spare_`; it has no tenant row and no domain, so no request can reach it.
    """

    schema_name = models.CharField(max_length=63, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.schema_name


class SchemaScript(models.Model):
    """The SQL that builds a tenant schema as the migrations on disk build it, captured from a migrated spare and
    verified against it (lifecycle/schema_script.py). `key` names the migration set (and the server's major
    version) it was captured for: a schema is built from it only while the key is current."""

    key = models.CharField(max_length=64, unique=True)
    script = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"schema script {self.key[:12]}"


class RoutingVersion(models.Model):
    """One row (id 1) whose `version` moves with every committed change to tenants or domains: statement-level
    triggers on both tables bump it in the writing transaction (migration 0003), whatever wrote the rows
    (ORM save, QuerySet.update, raw SQL, psql, a restore). Processes that cache routing or tenant state
    compare it instead of trusting an announcement that some write path could skip."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"routing version {self.version}"


class MigrationState(models.Model):
    """What one schema's `django_migrations` table records, kept by the database (migration 0005): a
    statement-level trigger on that table recomputes this row in the writing transaction after every INSERT,
    UPDATE, DELETE, TRUNCATE or COPY, whatever issued it (Django's recorder, psql, a restore of rows).

    Keyed by the table's oid, not the schema name: renaming a schema (a claimed spare) keeps the row, and a
    table dropped and created again has a new oid, so its old row can never be taken for it. fleet/state.py
    reads these rows and trusts one only while its table still carries that very trigger, enabled; see there.
    """

    table_oid = models.BigIntegerField(primary_key=True)
    # The trigger that computed the row (0: none). A restore creates the table and then its trigger anew (new
    # oids) after loading the rows: even if the table got a dropped table's oid back, this one differs.
    trigger_oid = models.BigIntegerField()
    schema_name = models.TextField()  # the table's schema at the last write (informational)
    applied_count = models.IntegerField()
    # md5 of every recorded "app.name", sorted bytewise and joined with ",": equal exactly when the sets are.
    fingerprint = models.CharField(max_length=32)
    last_applied = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"{self.schema_name}: {self.applied_count} migrations recorded"
