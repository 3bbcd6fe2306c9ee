"""ISOLATION_SABOTAGE: switch one protection off for the isolation suite only, to prove the suite can fail.

Read by tests/isolation/conftest.py, never by the project's settings or code:

    ISOLATION_SABOTAGE=membership pytest tests/isolation   # non-members keep their identity on tenant hosts
    ISOLATION_SABOTAGE=role-layer ...           # accounts.permissions.role_permits lets every logged-in user in
    ISOLATION_SABOTAGE=authorization ...        # both: only the views' own checks are left
    ISOLATION_SABOTAGE=cache-key pytest tests/isolation    # Django's default cache key function (no schema)
    ISOLATION_SABOTAGE=media-containment ...    # /media/<path> joins the path to the tenant's folder unchecked
    ISOLATION_SABOTAGE=schema-reset ...         # the connection stays in the tenant's schema after a request
    ISOLATION_SABOTAGE=next-redirect ...        # allauth's stock `next` check: any host in ALLOWED_HOSTS
    ISOLATION_SABOTAGE=csrf ...                 # CSRF checks accept everything (forms and the API)
{%- if cookiecutter.use_celery == "y" %}
    ISOLATION_SABOTAGE=celery-header ...        # a task ignores its schema header, runs where the worker is
{%- endif %}

With a sabotage on, exactly the tests carrying its marker in SABOTAGES must fail, and none when its marker is
None (`make test-sabotage` checks that, in the project's CI and the template's).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse

ENV_VARIABLE = "ISOLATION_SABOTAGE"
MEMBERSHIP_MIDDLEWARE = "{{ cookiecutter.project_slug }}.accounts.middleware.TenantMembershipMiddleware"
# sabotage name -> the marker of the tests that must then fail, or None when every test must still pass
# (a protection another layer backs up: the switch proves that layer alone still holds)
SABOTAGES: dict[str, str | None] = {
    # Authorization has two layers (docs/security.md#roles): with either one off, every test still passes.
    "membership": None,
    "role-layer": None,
    "authorization": "guards_authorization",
    "cache-key": "guards_cache_key",
    "media-containment": "guards_media_containment",
    "schema-reset": "guards_schema_reset",
    "next-redirect": "guards_next_redirect",
    "csrf": "guards_csrf",
{%- if cookiecutter.use_celery == "y" %}
    "celery-header": "guards_celery_header",
{%- endif %}
}


def requested() -> str:
    """The sabotage named by ISOLATION_SABOTAGE ("" for none); raise ValueError for an unknown name."""
    name = os.environ.get(ENV_VARIABLE, "").strip()
    if name and name not in SABOTAGES:
        raise ValueError(f"{ENV_VARIABLE}={name!r} is not known; expected one of {', '.join(sorted(SABOTAGES))}")
    return name


class MembershipCheckOff:
    """Stands in for TenantMembershipMiddleware: sets `request.membership_role` the same way, but a logged-in
    user who is not a member of the host's tenant stays logged in there instead of becoming anonymous."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from {{ cookiecutter.project_slug }}.accounts.selectors import membership_role

        tenant = getattr(request, "tenant", None)
        role = None
        if tenant is not None and request.user.is_authenticated:
            role = membership_role(user_id=request.user.pk, tenant_id=tenant.pk)
        request.membership_role = role  # type: ignore[attr-defined]
        return self.get_response(request)


def settings_overrides(name: str, settings: Any) -> dict[str, Any]:
    """The settings that switch protection `name` off, given the project's `settings`."""
    if name in ("membership", "authorization"):
        off = f"{__name__}.{MembershipCheckOff.__name__}"
        middleware = [off if entry == MEMBERSHIP_MIDDLEWARE else entry for entry in settings.MIDDLEWARE]
        assert middleware != list(settings.MIDDLEWARE), f"{MEMBERSHIP_MIDDLEWARE} is not in MIDDLEWARE"
        return {"MIDDLEWARE": middleware}
    if name == "cache-key":
        caches = {alias: dict(config) for alias, config in settings.CACHES.items()}
        for config in caches.values():
            config.pop("KEY_FUNCTION", None)  # Django's default: "<prefix>:<version>:<key>", no schema
        return {"CACHES": caches}
    if name in SABOTAGES:
        return {}  # switched off in code instead: code_patches
    raise ValueError(name)


def media_file_unchecked(path: str) -> Path:
    """Stands in for tenancy.media.tenant_media_file: `path` joined to the tenant's folder with no containment
    check (`..`, absolute paths and symbolic links lead anywhere); Http404 only for a file that does not exist."""
    from {{ cookiecutter.project_slug }}.tenancy.media import tenant_media_root

    candidate = tenant_media_root() / path
    if not candidate.is_file():
        raise Http404("no such file")
    return candidate


def role_permits_any_user(user: Any, tenant: Any, action: Any) -> bool:
    """Stands in for accounts.permissions.role_permits: every logged-in user may do anything in any tenant."""
    return user is not None and bool(user.is_authenticated)


def csrf_check_off(self: Any, request: HttpRequest, *args: Any) -> None:
    """Stands in for CsrfViewMiddleware.process_view: accepts every request. DRF's SessionAuthentication runs
    the same check (a CsrfViewMiddleware subclass), so the API's session-authenticated writes lose it too."""
    return None


def code_patches(name: str) -> list[tuple[Any, str, Any]]:
    """(owner, attribute, stand-in) triples that switch protection `name` off in code ([] for a settings switch)."""
    if name in ("role-layer", "authorization"):
        from {{ cookiecutter.project_slug }}.accounts import permissions

        return [(permissions, "role_permits", role_permits_any_user)]
    if name == "media-containment":
        from {{ cookiecutter.project_slug }}.tenancy import media

        return [(media, "tenant_media_file", media_file_unchecked)]
    if name == "schema-reset":
        from django_tenants.middleware.main import TenantMainMiddleware

        from {{ cookiecutter.project_slug }}.tenancy.middleware import TenantRoutingMiddleware

        # The stock __call__: the request's tenant schema stays on the connection after the response.
        return [(TenantRoutingMiddleware, "__call__", TenantMainMiddleware.__call__)]
    if name == "next-redirect":
        from allauth.account.adapter import DefaultAccountAdapter

        from {{ cookiecutter.project_slug }}.accounts.adapter import AccountAdapter

        # allauth's stock check also accepts every host ALLOWED_HOSTS matches: `.localhost` is every tenant's.
        return [(AccountAdapter, "is_safe_url", DefaultAccountAdapter.is_safe_url)]
    if name == "csrf":
        from django.middleware.csrf import CsrfViewMiddleware

        return [(CsrfViewMiddleware, "process_view", csrf_check_off)]
{%- if cookiecutter.use_celery == "y" %}
    if name == "celery-header":
        from django.db import connection

        from {{ cookiecutter.project_slug }}.tenancy import celery_tenancy

        # The task's `_schema_name` header is ignored: the task runs in whatever schema the worker's
        # connection was left in.
        return [(celery_tenancy, "_schema_of", lambda request: connection.schema_name)]
{%- endif %}
    return []
