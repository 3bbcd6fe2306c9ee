"""On a tenant host, a logged-in user who is not a member of that tenant is anonymous (domain routing) or refused
(path routing)."""

from collections.abc import Callable

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django_tenants.utils import get_public_schema_name

from .permissions import stranger_refusal, strangers_refused
from .selectors import membership_role


class TenantMembershipMiddleware:
    """Sets `request.membership_role` (a Role or None) and hides non-members' identity, or refuses them.

    Must follow AuthenticationMiddleware. Sessions live in the public schema, so a session
    cookie copied from another tenant's host would otherwise authenticate here: in domain routing a logged-in
    user who is not a member of the request's tenant becomes anonymous (the login page, for pages). In path
    routing one session serves every tenant's paths, and such a user gets accounts.permissions.stranger_refusal's
    403 instead, except where strangers_refused says they count as anonymous (logging in and out, login tokens,
    invitations).
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
                if strangers_refused(request):
                    return stranger_refusal(request)
                request.user = AnonymousUser()
            request.membership_role = role  # type: ignore[attr-defined]
        return self.get_response(request)
