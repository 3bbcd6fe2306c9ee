"""Reads of the tenant fleet (public schema)."""

from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name

from .models import Tenant


def tenant_list(*, include_public: bool = False) -> QuerySet[Tenant]:
    """Return tenants ordered by slug with their domains prefetched; the public tenant only when asked."""
    tenants = Tenant.objects.prefetch_related("domains").order_by("slug")
    if not include_public:
        tenants = tenants.exclude(schema_name=get_public_schema_name())
    return tenants


def tenant_get_by_slug(*, slug: str) -> Tenant | None:
    """Return the tenant with `slug`, or None."""
    return Tenant.objects.filter(slug=slug).first()
