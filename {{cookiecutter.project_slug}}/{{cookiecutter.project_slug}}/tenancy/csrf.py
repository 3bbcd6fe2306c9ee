"""CSRF tokens kept per tenant in the session (settings.CSRF_USE_SESSIONS).

Django keeps the CSRF secret in the session under one key, `_csrftoken`. In path routing one session serves
every tenant (one host), so a token taken from acme's page would be accepted on globex's form.
`TenantCsrfViewMiddleware` (in settings.MIDDLEWARE instead of Django's) keeps one secret per schema, under
`_csrftoken:<schema name>` (csrf_session_key), and during a request puts the current schema's secret, and only
it, under Django's key: every CSRF check of the request (this middleware, `csrf_protect` on the admin's and
django-allauth's views, Django REST framework's SessionAuthentication) reads and rotates the current tenant's
secret with Django's own code. After the request the secret goes back under the schema's key.

The swap never saves the session by itself: a session is saved only when the request changed it (a new or
rotated secret included). In domain routing each host has its own session anyway; the keys are the same.
Logging in rotates the current tenant's secret (Django) and forgets every other one (csrf_secrets_forget), so
no token taken before a login works after it, on any tenant.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.csrf import CSRF_SESSION_KEY, CsrfViewMiddleware
from django_tenants.utils import get_public_schema_name


def csrf_session_key(schema_name: str) -> str:
    """The session key holding the CSRF secret of the tenant with schema `schema_name` ("public" included)."""
    return f"{CSRF_SESSION_KEY}:{schema_name}"


def _request_schema(request: HttpRequest) -> str:
    tenant = getattr(request, "tenant", None)
    return str(getattr(tenant, "schema_name", None) or get_public_schema_name())


def csrf_secrets_forget(sender: object, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Receiver of django.contrib.auth's user_logged_in (connected in TenancyConfig.ready): remove every tenant's
    CSRF secret from the request's session. Django rotates the secret of the request it logs in on; the others
    would outlive the login, so they are dropped, and each tenant's next page makes a new one."""
    session = getattr(request, "session", None)
    if session is None:
        return
    stale = [key for key in session.keys() if key.startswith(f"{CSRF_SESSION_KEY}:")]  # noqa: SIM118  # no __iter__
    for key in stale:
        del session[key]


class TenantCsrfViewMiddleware(CsrfViewMiddleware):
    """Django's CsrfViewMiddleware with the session's CSRF secret kept per tenant schema (module docstring).

    Needs request.tenant (TenantRoutingMiddleware) and request.session (SessionMiddleware) before it; without
    CSRF_USE_SESSIONS (a cookie per host) it is Django's middleware unchanged.
    """

    def process_request(self, request: HttpRequest) -> None:
        if settings.CSRF_USE_SESSIONS and hasattr(request, "session"):
            session = request.session
            modified = session.modified
            secret = session.get(csrf_session_key(_request_schema(request)))
            if secret is None:
                session.pop(CSRF_SESSION_KEY, None)  # one stored under Django's key (older sessions) is no tenant's
            else:
                session[CSRF_SESSION_KEY] = secret
            session.modified = modified  # the session in the database is unchanged
        super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        response = super().process_response(request, response)
        if settings.CSRF_USE_SESSIONS and hasattr(request, "session"):
            session = request.session
            key = csrf_session_key(_request_schema(request))
            modified = session.modified
            secret = session.pop(CSRF_SESSION_KEY, None)
            session.modified = modified
            if secret is not None and secret != session.get(key):  # a new or rotated secret: saved with the session
                session[key] = secret
        return response
