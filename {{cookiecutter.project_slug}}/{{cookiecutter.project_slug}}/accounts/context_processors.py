from collections.abc import Callable

from django.http import HttpRequest
from django.urls import get_script_prefix
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from ..tenancy.domain import billing_banner
from ..tenancy.middleware import BILLING_PATH
from ..tenancy.models import billing_grace
from .permissions import role_allowed_actions
from .selectors import TenantChoice, user_tenants


def tenant(request: HttpRequest) -> dict[str, object]:
    """Expose `current_tenant` (None on the public host), `membership_role`, `allowed_actions` and `switch_tenants`.

    `allowed_actions`: the action names (`"read"`, `"update"`, ...) the user's role allows in the host's tenant,
    per accounts.permissions.RULES, so pages offer only the links the role may follow.

    `switch_tenants` is a callable (run only when a template reads it): the logged-in user's other active
    tenants, for the tenant switcher in the header.
    """
    current = getattr(request, "tenant", None)
    if current is not None and current.schema_name == get_public_schema_name():
        current = None

    def switch_tenants() -> list[TenantChoice]:
        if current is None or not request.user.is_authenticated:
            return []
        return [c for c in user_tenants(user=request.user) if c.tenant.pk != current.pk]  # type: ignore[arg-type]

    role = getattr(request, "membership_role", None)
    switch: Callable[[], list[TenantChoice]] = switch_tenants
    return {
        "current_tenant": current,
        "membership_role": role,
        "allowed_actions": {action.value for action in role_allowed_actions(role)},
        "switch_tenants": switch,
    }


def billing(request: HttpRequest) -> dict[str, object]:
    """Expose `billing_banner` and `billing_url` to the pages of a tenant host.

    `billing_banner`: for a member of the request's tenant, the text of tenancy.domain.billing_banner (payment
    overdue with the date the workspace becomes read-only, read-only, or canceled and suspended on a date),
    else None. Read from the tenant row routing loaded (no SQL). `billing_url`: the Billing page for those whose
    role has the `billing` action (owners; admins too with settings.BILLING_ADMINS_MANAGE), else None.
    """
    current = getattr(request, "tenant", None)
    role = getattr(request, "membership_role", None)
    if current is None or role is None or current.schema_name == get_public_schema_name():
        return {"billing_banner": None, "billing_url": None}
    banner = billing_banner(current.billing_snapshot, now=timezone.now(), grace=billing_grace())
    payer = "billing" in {action.value for action in role_allowed_actions(role)}
    # Under the script prefix: `/<prefix>/<slug>/billing/` in path routing, `/billing/` on a tenant's host.
    billing_url = get_script_prefix().rstrip("/") + BILLING_PATH
    return {"billing_banner": banner, "billing_url": billing_url if payer else None}
