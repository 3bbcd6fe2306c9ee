"""django-allauth adapter: allauth runs the generic account flows (login, logout, password reset, email
verification); this adapter adds what tenancy changes about them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_tenants.utils import get_public_schema_name

from .crossing import public_url, tenant_crossing_url
from .selectors import user_tenants


def on_public_host(request: HttpRequest) -> bool:
    """Whether `request` came to the public host (the public schema's tenant), not a tenant's host."""
    tenant = getattr(request, "tenant", None)
    return tenant is None or tenant.schema_name == get_public_schema_name()


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """allauth's own sign-up stays closed: people join by creating a workspace (`/signup/` on the
        public host, platform.views.signup) or by accepting an invitation (accounts.views.invitation_accept)."""
        return False

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        """After a login without `next`: on a tenant host, its dashboard; on the public host, the member's only
        tenant (crossing with a one-time login token), or the tenant picker when there are several or none."""
        if not on_public_host(request):
            return "/"
        choices = user_tenants(user=request.user)  # type: ignore[arg-type]
        if len(choices) == 1:
            return tenant_crossing_url(request, choices[0])
        return reverse("tenant_picker")

    def get_reset_password_from_key_url(self, key: str) -> str:
        """The password reset link mailed to a user: always on the public host, with the scheme and port of the
        settings (crossing.public_url), wherever the reset was asked for. A reset asked on a tenant's host (a
        stranger's, or one answering on a domain its owner controls) must not mail a link to that host, nor
        one whose port a Host header chose."""
        path = reverse(
            "account_reset_password_from_key",
            kwargs={"uidb36": "UID", "key": "KEY"},
            urlconf=settings.PUBLIC_SCHEMA_URLCONF,
        )
        return public_url(path.replace("UID-KEY", quote(key)))

    def get_email_confirmation_url(self, request: HttpRequest, emailconfirmation: Any) -> str:
        """The email verification link: on the public host, like the password reset link."""
        path = reverse("account_confirm_email", args=[emailconfirmation.key], urlconf=settings.PUBLIC_SCHEMA_URLCONF)
        return public_url(path)

    def is_safe_url(self, url: str) -> bool:
        """`next` may only point to this same host. (allauth's default also accepts every host matching
        ALLOWED_HOSTS, which would let `next` lead to another tenant's host.)"""
        request = self.request
        return url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
