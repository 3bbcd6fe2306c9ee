"""django-allauth adapter: allauth runs the generic account flows (login, logout, password reset, email
verification); this adapter adds what tenancy changes about them."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_tenants.utils import get_public_schema_name

from .crossing import tenant_crossing_url
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

    def is_safe_url(self, url: str) -> bool:
        """`next` may only point to this same host. (allauth's default also accepts every host matching
        ALLOWED_HOSTS, which would let `next` lead to another tenant's host.)"""
        request = self.request
        return url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
