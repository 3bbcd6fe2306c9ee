"""Tenant provisioning and removal.

Every write happens in one database transaction: the tenant row, `CREATE SCHEMA`,
the tenant migrations (PostgreSQL runs DDL transactionally), the domain and the
owner membership either all commit or none do, so a failure or a killed process
leaves no orphan schema, tenant row or domain.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

from ..accounts.services import membership_grant, user_get_or_create
from ..errors import InvalidValue, NotFound
from .domain import (
    DomainTaken,
    InvalidSlug,
    TenantExists,
    normalize_domain,
    schema_name_for,
    validate_slug,
)
from .models import Domain, Tenant

NAME_MAX = 100


def validate_tenant_name(name: object) -> str:
    """Return `name` stripped; raise InvalidValue when it is empty or over 100 characters."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidValue(f"name {name!r} is empty; a tenant name is 1-{NAME_MAX} characters")
    if len(name.strip()) > NAME_MAX:
        raise InvalidValue(f"name {name[:20]!r}... has {len(name.strip())} characters; at most {NAME_MAX} are accepted")
    if any(ord(ch) < 32 for ch in name):
        raise InvalidValue(f"name {name!r} contains control characters")
    return name.strip()


def tenant_slug_validate(slug: object) -> str:
    """Validate `slug` against the slug rule and settings.TENANCY_RESERVED_SLUGS / _PREFIXES; raise InvalidSlug."""
    return validate_slug(
        slug,
        reserved=settings.TENANCY_RESERVED_SLUGS,
        reserved_prefixes=settings.TENANCY_RESERVED_SLUG_PREFIXES,
    )


def default_domain_for(slug: str) -> str:
    """Return `<slug>.<settings.TENANCY_BASE_DOMAIN>`, e.g. `acme.localhost` in development."""
    return f"{slug}.{settings.TENANCY_BASE_DOMAIN}"


def tenant_create(
    *,
    name: str,
    slug: str,
    domain: str | None = None,
    owner_email: str | None = None,
    verbosity: int = 0,
) -> Tenant:
    """Provision a tenant: validate, create schema `tenant_<slug>` with all tenant migrations, its domain
    (default `<slug>.<TENANCY_BASE_DOMAIN>`) and, when `owner_email` is given, an owner membership
    (the user is created without a usable password when the email is new).

    Raises InvalidValue / InvalidSlug / InvalidDomain for malformed input, TenantExists when the slug or
    schema is taken, DomainTaken when the domain routes elsewhere. Nothing is left behind on failure.
    """
    name = validate_tenant_name(name)
    slug = tenant_slug_validate(slug)
    domain_name = normalize_domain(domain if domain is not None else default_domain_for(slug))
    schema_name = schema_name_for(slug)
    if owner_email is not None:
        from ..accounts.domain import normalize_email

        owner_email = normalize_email(owner_email)

    # Tenant rows live in the public schema; the caller's schema is restored afterwards.
    try:
        with schema_context(get_public_schema_name()), transaction.atomic():
            _ensure_free(slug=slug, schema_name=schema_name, domain_name=domain_name)
            tenant = Tenant(name=name, slug=slug, schema_name=schema_name, status=Tenant.Status.ACTIVE)
            tenant.save()
            tenant.create_schema(check_if_exists=False, verbosity=verbosity)
            Domain.objects.create(domain=domain_name, tenant=tenant, is_primary=True)
            if owner_email is not None:
                owner = user_get_or_create(email=owner_email)
                membership_grant(user=owner, tenant=tenant, role="owner")
    except IntegrityError as exc:
        # A concurrent creation won the race for the slug, schema or domain.
        raise TenantExists(f"slug {slug!r} or domain {domain_name!r} was taken while creating the tenant") from exc
    return tenant


def _ensure_free(*, slug: str, schema_name: str, domain_name: str) -> None:
    if Tenant.objects.filter(slug=slug).exists():
        raise TenantExists(f"slug {slug!r} is taken by an existing tenant; choose another slug")
    if Tenant.objects.filter(schema_name=schema_name).exists() or schema_exists(schema_name):
        raise TenantExists(f"schema {schema_name!r} for slug {slug!r} already exists; choose another slug")
    existing = Domain.objects.filter(domain=domain_name).select_related("tenant").first()
    if existing is not None:
        raise DomainTaken(f"domain {domain_name!r} already routes to tenant {existing.tenant.slug!r}")


def tenant_drop(*, slug: str) -> Tenant:
    """Delete the tenant with `slug`: its domains, memberships, row and schema (DROP SCHEMA ... CASCADE),
    in one transaction. Returns the deleted (unsaved) tenant.

    Raises InvalidSlug for the public tenant, NotFound for an unknown slug.
    """
    if slug == "public" or slug == get_public_schema_name():
        raise InvalidSlug(f"tenant {slug!r} is the public schema and cannot be dropped")
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        known = ", ".join(Tenant.objects.exclude(schema_name=get_public_schema_name()).values_list("slug", flat=True))
        raise NotFound(f"no tenant with slug {slug!r}; existing slugs: {known or '(none)'}")
    if tenant.schema_name == get_public_schema_name():
        raise InvalidSlug(f"tenant {slug!r} uses the public schema and cannot be dropped")
    with schema_context(get_public_schema_name()), transaction.atomic():
        tenant.delete(force_drop=True)
    return tenant


def public_tenant_ensure(*, domain: str) -> Tenant:
    """Create the public tenant (schema `public`) when missing and make sure `domain` routes to it.

    Idempotent. Raises InvalidDomain for a malformed domain, DomainTaken when it routes to another tenant.
    """
    domain_name = normalize_domain(domain)
    public_schema = get_public_schema_name()
    with schema_context(public_schema), transaction.atomic():
        tenant, _ = Tenant.objects.get_or_create(
            schema_name=public_schema, defaults={"name": "Public", "slug": "public", "status": Tenant.Status.ACTIVE}
        )
        existing = Domain.objects.filter(domain=domain_name).select_related("tenant").first()
        if existing is None:
            Domain.objects.create(domain=domain_name, tenant=tenant, is_primary=not tenant.domains.exists())
        elif existing.tenant_id != tenant.pk:
            raise DomainTaken(f"domain {domain_name!r} already routes to tenant {existing.tenant.slug!r}")
    return tenant
