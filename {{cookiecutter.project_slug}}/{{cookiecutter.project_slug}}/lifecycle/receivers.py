"""What the tenant lifecycle does when fleet operations announce something (fleet.signals)."""

from typing import Any

from django.conf import settings
from django.dispatch import receiver

from ..fleet.signals import fleet_migrated
from .provisioning import spare_pool_fill


@receiver(fleet_migrated, dispatch_uid="lifecycle.spare_pool_top_up")
def spare_pool_top_up(sender: object, *, stdout: Any, verbosity: int, **kwargs: Any) -> int:
    """Top the spare-schema pool up to settings.TENANCY_SPARE_SCHEMAS after a full fleet migration, so the
    next tenant is provisioned from a current spare; write how many were created to `stdout` (verbosity >= 1)
    and return that number."""
    created = spare_pool_fill()
    if created and verbosity >= 1:
        stdout.write(f"Spare-schema pool: created {created} spare schema(s) (target {settings.TENANCY_SPARE_SCHEMAS}).")
    return created
