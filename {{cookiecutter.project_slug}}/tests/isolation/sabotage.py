"""ISOLATION_SABOTAGE: switch one protection off for the isolation suite only, to prove the suite can fail.

Read by tests/isolation/conftest.py, never by the project's settings or code:

    ISOLATION_SABOTAGE=membership pytest tests/isolation   # non-members keep their identity on tenant hosts
    ISOLATION_SABOTAGE=cache-key pytest tests/isolation    # Django's default cache key function (no schema)

With a sabotage on, exactly the tests marked `guards_membership` / `guards_cache_key` must fail
(the template's CI checks that).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

ENV_VARIABLE = "ISOLATION_SABOTAGE"
MEMBERSHIP_MIDDLEWARE = "{{ cookiecutter.project_slug }}.accounts.middleware.TenantMembershipMiddleware"
# sabotage name -> the marker of the tests that must then fail
SABOTAGES = {"membership": "guards_membership", "cache-key": "guards_cache_key"}


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
    if name == "membership":
        off = f"{__name__}.{MembershipCheckOff.__name__}"
        middleware = [off if entry == MEMBERSHIP_MIDDLEWARE else entry for entry in settings.MIDDLEWARE]
        assert middleware != list(settings.MIDDLEWARE), f"{MEMBERSHIP_MIDDLEWARE} is not in MIDDLEWARE"
        return {"MIDDLEWARE": middleware}
    if name == "cache-key":
        caches = {alias: dict(config) for alias, config in settings.CACHES.items()}
        for config in caches.values():
            config.pop("KEY_FUNCTION", None)  # Django's default: "<prefix>:<version>:<key>", no schema
        return {"CACHES": caches}
    raise ValueError(name)
