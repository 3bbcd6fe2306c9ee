"""On a tenant host, a logged-in user who is not a member of that tenant is anonymous."""

from collections.abc import Callable

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django_tenants.utils import get_public_schema_name

from .selectors import membership_role


class TenantMembershipMiddleware:
    """Sets `request.membership_role` (a Role or None) and hides non-members' identity.

    Must follow AuthenticationMiddleware. Sessions live in the public schema, so a session
    cookie copied from another tenant's host would otherwise authenticate here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership_role = None  # type: ignore[attr-defined]
        tenant = getattr(request, "tenant", None)
        user = request.user
        if tenant is not None and tenant.schema_name != get_public_schema_name() and user.is_authenticated:
            role = membership_role(user_id=user.pk, tenant_id=tenant.pk)
            if role is None:
                request.user = AnonymousUser()
            request.membership_role = role  # type: ignore[attr-defined]
        return self.get_response(request)
