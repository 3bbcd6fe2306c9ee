"""Crossing from one tenant to another: where the tenant picker and switcher send a logged-in user.

Domain mode: session cookies are host-only, so a logged-in user reaches a tenant's host through a URL carrying a
one-time login token (accounts.login_tokens) issued for that tenant. Path mode: one session on the one host, so
the URL is simply the tenant's home (`/<prefix>/<slug>/`), with no token. Absolute URLs are built by
tenancy.addressing (`public_url` is re-exported here for the account pages that link to the public host).
"""

from __future__ import annotations

from django.http import HttpRequest

from ..tenancy.addressing import public_url, routing_mode, tenant_base_path, tenant_reverse_url
from .login_tokens import login_family_new, login_token_issue
from .selectors import TenantChoice
from .sessions import FAMILY_KEY

__all__ = ["public_url", "tenant_crossing_url"]


def tenant_crossing_url(request: HttpRequest, choice: TenantChoice) -> str:
    """The URL that opens `choice`'s tenant for the logged-in user of `request`.

    Path mode: the tenant's home on this host, `/<prefix>/<slug>/` (the session is already there); nothing is
    issued. Domain mode: issue a one-time login token for the user on that tenant and return the absolute URL
    that logs them in there (`<scheme>://<domain>[:<port>]/accounts/token/<token>/`, scheme and port of
    `request`); the new session joins this session's login family, so logging out on either host ends both.
    """
    if routing_mode() == "path":
        return tenant_base_path(choice.tenant) + "/"
    family = request.session.get(FAMILY_KEY) or login_family_new()
    request.session[FAMILY_KEY] = family
    token = login_token_issue(user=request.user, tenant=choice.tenant, family=family)  # type: ignore[arg-type]
    return tenant_reverse_url(choice.tenant, "login_token", kwargs={"token": token}, request=request)
