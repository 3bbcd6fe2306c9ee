"""django-allauth adapter: allauth runs the generic account flows (login, logout, password reset, email
verification); this adapter adds what tenancy changes about them."""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_tenants.utils import get_public_schema_name

from ..tenancy.addressing import public_reverse_url, unprefixed_reverse
from .crossing import public_url, tenant_crossing_url
from .selectors import user_tenants


def on_public_host(request: HttpRequest) -> bool:
    """Whether `request` came to the public host (the public schema's tenant), not a tenant's host."""
    tenant = getattr(request, "tenant", None)
    return tenant is None or tenant.schema_name == get_public_schema_name()


def next_stays_in_tenant(request: HttpRequest, url: str) -> bool:
    """Whether `url` (a `next` target on the request's own host) leads to the request's own tenant in path routing
    (settings.TENANCY_ROUTING == "path"), where every tenant shares the public host: on a tenant's paths, under
    its base path (the request's script name, `/<prefix>/<slug>/`); on the public site, outside every tenant's
    `/<prefix>/`. Relative URLs, dot segments and percent-encoded characters are resolved first (`../globex/`,
    `/<prefix>/acme/%2e%2e/globex/`). Always True in domain routing and on a tenant's own domain, where the
    host alone decides.
    """
    if settings.TENANCY_ROUTING != "path":
        return True
    # Resolved against an absolute URL (Python keeps excess `..` of a path-only base): only the path matters.
    path = unquote(urlsplit(urljoin(f"http://next.invalid{request.path}", url)).path) or "/"
    normal = posixpath.normpath(path).rstrip("/") + "/"  # "/clinic/acme" and "/clinic/acme/x/.." -> "/clinic/acme/"
    # The request's own script name, not Django's per-thread script prefix: "", or "/<prefix>/<slug>" for a tenant
    # routed by path (tenancy.middleware), after the deployment's own.
    base = f"{request.META.get('SCRIPT_NAME', '').rstrip('/')}/"
    if on_public_host(request):
        return not normal.startswith(f"{base}{settings.TENANCY_PATH_PREFIX}/")
    tenant_base = f"/{settings.TENANCY_PATH_PREFIX}/{request.tenant.slug}/"  # type: ignore[attr-defined]
    if not base.endswith(tenant_base):
        return True  # the tenant's own domain, routed by host
    return normal.startswith(base)


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """allauth's own sign-up stays closed: people join by creating a workspace (`/signup/` on the
        public host, platform.views.signup) or by accepting an invitation (accounts.views.invitation_accept)."""
        return False

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        """After a login without `next`: on a tenant, its dashboard (`/`, or `/<prefix>/<slug>/` in path mode);
        on the public host, the member's only tenant (crossing.tenant_crossing_url: with a one-time login token in
        domain mode, straight to its path in path mode), or the tenant picker when there are several or none."""
        if not on_public_host(request):
            return reverse("home")  # the tenant URLconf's dashboard, under the script prefix in path mode
        choices = user_tenants(user=request.user)  # type: ignore[arg-type]
        if len(choices) == 1:
            return tenant_crossing_url(request, choices[0])
        return reverse("tenant_picker")

    def get_reset_password_from_key_url(self, key: str) -> str:
        """The password reset link mailed to a user: always on the public host, with the scheme and port of the
        settings (crossing.public_url), wherever the reset was asked for. A reset asked on a tenant's host (a
        stranger's, or one answering on a domain its owner controls) must not mail a link to that host, nor
        one whose port a Host header chose."""
        path = unprefixed_reverse(
            "account_reset_password_from_key",
            kwargs={"uidb36": "UID", "key": "KEY"},
            urlconf=settings.PUBLIC_SCHEMA_URLCONF,
        )
        return public_url(path.replace("UID-KEY", quote(key)))

    def get_email_confirmation_url(self, request: HttpRequest, emailconfirmation: Any) -> str:
        """The email verification link: on the public host, like the password reset link."""
        return public_reverse_url("account_confirm_email", kwargs={"key": emailconfirmation.key})

    def is_safe_url(self, url: str) -> bool:
        """`next` may only point to this same host, and in path routing to this same tenant's paths
        (next_stays_in_tenant). (allauth's default also accepts every host matching ALLOWED_HOSTS, which would let
        `next` lead to another tenant's host.)"""
        request = self.request
        same_host = url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        return same_host and next_stays_in_tenant(request, url)
