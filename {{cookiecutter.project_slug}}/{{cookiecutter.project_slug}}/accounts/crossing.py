"""Crossing from one host to another: absolute URLs on a tenant's host, and the one-time login that gets there.

Session cookies are host-only, so a logged-in user reaches a tenant's host through a URL carrying a
one-time login token (accounts.login_tokens) issued for that tenant.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.urls import reverse
from django_tenants.utils import get_public_schema_name

from ..tenancy.models import Domain
from .login_tokens import login_family_new, login_token_issue
from .selectors import TenantChoice
from .sessions import FAMILY_KEY


def tenant_url(request: HttpRequest, domain: str, path: str) -> str:
    """Absolute URL of `path` on host `domain`, with the scheme of `request` and the port of its Host header
    (so `localhost:8000` leads to `acme.localhost:8000`, and no port behind a proxy on 443)."""
    _host, port = split_domain_port(request.get_host())
    return f"{request.scheme}://{domain}{':' + port if port else ''}{path}"


def public_url(path: str) -> str:
    """Absolute URL of `path` (starting with "/", query allowed) on the public host, for links in emails and
    redirects from tenant hosts: scheme settings.ACCOUNT_DEFAULT_HTTP_PROTOCOL, host the public tenant's primary
    domain (settings.TENANCY_BASE_DOMAIN when it has none), port settings.TENANCY_PUBLIC_PORT (0: none).

    Nothing comes from a request: a Host header (its host or its port) never decides where such a link leads.
    """
    domain = (
        Domain.objects.filter(tenant__schema_name=get_public_schema_name(), is_primary=True)
        .values_list("domain", flat=True)
        .first()
    ) or settings.TENANCY_BASE_DOMAIN
    port = int(getattr(settings, "TENANCY_PUBLIC_PORT", 0) or 0)
    scheme = getattr(settings, "ACCOUNT_DEFAULT_HTTP_PROTOCOL", "http")
    default_port = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{domain}{f':{port}' if port and port != default_port else ''}{path}"


def tenant_crossing_url(request: HttpRequest, choice: TenantChoice) -> str:
    """Issue a one-time login token for the logged-in user on `choice`'s tenant and return the absolute URL
    that logs them in there (`<scheme>://<domain>[:<port>]/accounts/token/<token>/`). The new session joins
    this session's login family, so logging out on either host ends both."""
    family = request.session.get(FAMILY_KEY) or login_family_new()
    request.session[FAMILY_KEY] = family
    token = login_token_issue(user=request.user, tenant=choice.tenant, family=family)  # type: ignore[arg-type]
    path = reverse("login_token", urlconf=settings.ROOT_URLCONF, kwargs={"token": token})
    return tenant_url(request, choice.domain, path)
