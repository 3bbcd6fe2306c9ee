"""A tenant's host names after provisioning: adding and removing the domains that route to it.

Used by `create_domain` and `delete_domain`. A domain is checked by the same rules as at provisioning
(tenancy.domain.normalize_domain, check_domain_not_reserved). Routing follows without any announcement: the
tenancy_domain triggers move the routing version in the writing transaction (tenancy/routing.py), so the first
request after the commit routes by the new state in every process.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django_tenants.utils import get_public_schema_name, schema_context

from ..errors import Conflict, NotFound
from ..tenancy.domain import (
    DomainTaken,
    InvalidDomain,
    check_domain_has_dot,
    check_domain_not_reserved,
    normalize_domain,
)
from ..tenancy.models import Domain, Tenant


def domain_validate(*, domain: object, tenant: Tenant) -> str:
    """Return `domain` normalised (lowercase ASCII, punycode) when it may route to `tenant`.

    Raises InvalidDomain for a malformed or spoofing name, a name without a dot other than a dotless
    settings.TENANCY_BASE_DOMAIN itself (`localhost`), or (for a tenant other than the public one) a
    reserved name under settings.TENANCY_BASE_DOMAIN such as `admin.<base>`. Reads nothing.
    """
    name = check_domain_has_dot(normalize_domain(domain), base_domain=settings.TENANCY_BASE_DOMAIN)
    if tenant.schema_name == get_public_schema_name():
        return name
    return check_domain_not_reserved(
        name,
        base_domain=settings.TENANCY_BASE_DOMAIN,
        reserved=settings.TENANCY_RESERVED_SLUGS,
        reserved_prefixes=settings.TENANCY_RESERVED_SLUG_PREFIXES,
    )


def domain_add(*, slug: str, domain: object, is_primary: bool = False) -> Domain:
    """Route host name `domain` to the tenant with `slug` (the public tenant's slug is `public`); return the new
    Domain. With `is_primary` it becomes the tenant's primary domain (the one its links use) and the previous
    primary stays as an alias; without, it is an alias unless the tenant has no primary domain yet.

    Raises NotFound for an unknown slug, InvalidDomain (see domain_validate), DomainTaken when the domain
    already routes to a tenant (this one included).
    """
    with schema_context(get_public_schema_name()), transaction.atomic():
        tenant = Tenant.objects.select_for_update().filter(slug=slug).first()
        if tenant is None:
            raise NotFound(f"no tenant with slug {slug!r}; see `manage.py list_tenants --include-public`")
        name = domain_validate(domain=domain, tenant=tenant)
        existing = Domain.objects.filter(domain=name).select_related("tenant").first()
        if existing is not None:
            raise DomainTaken(f"domain {name!r} already routes to tenant {existing.tenant.slug!r}")
        try:
            with transaction.atomic():
                return Domain.objects.create(domain=name, tenant=tenant, is_primary=is_primary)
        except IntegrityError as exc:
            raise DomainTaken(f"domain {name!r} was taken by a concurrent change; choose another") from exc


def domain_remove(*, domain: str, slug: str | None = None) -> Domain:
    """Stop routing host name `domain` (as stored, or in its normalised form); return the deleted Domain.
    With `slug`, the domain must belong to that tenant.

    Raises NotFound when no tenant (or not tenant `slug`) has the domain, Conflict for a tenant's primary
    domain (make another domain primary first; drop_schema removes a whole tenant).
    """
    with schema_context(get_public_schema_name()), transaction.atomic():
        found = Domain.objects.select_for_update().filter(domain=domain).first()
        if found is None:
            try:
                found = Domain.objects.select_for_update().filter(domain=normalize_domain(domain)).first()
            except InvalidDomain:
                found = None
        if found is None or (slug is not None and found.tenant.slug != slug):
            owner = f"tenant {slug!r}" if slug is not None else "any tenant"
            raise NotFound(
                f"domain {domain!r} does not route to {owner}; see `manage.py list_tenants --include-public`"
            )
        if found.is_primary:
            raise Conflict(
                f"domain {found.domain!r} is the primary domain of tenant {found.tenant.slug!r}; make another "
                "domain primary first (`manage.py create_domain --primary`), or drop the tenant (`drop_schema`)"
            )
        found.delete()
    return found
