from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name


def tenant(request: HttpRequest) -> dict[str, object]:
    """Expose `current_tenant` (None on the public host) and `membership_role` to templates."""
    current = getattr(request, "tenant", None)
    if current is not None and current.schema_name == get_public_schema_name():
        current = None
    return {"current_tenant": current, "membership_role": getattr(request, "membership_role", None)}
