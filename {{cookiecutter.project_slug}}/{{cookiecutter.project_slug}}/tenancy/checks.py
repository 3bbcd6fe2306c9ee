"""System checks for settings that would break tenant isolation or the tenant lifecycle (`manage.py check`, run at
every start)."""

from __future__ import annotations

import math
import re
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.module_loading import import_string

POOLER_MODES = ("", "session", "transaction")
# The project's CSRF middleware (tenancy/csrf.py) and the middleware it needs before it in settings.MIDDLEWARE.
CSRF_MIDDLEWARE = "{{ cookiecutter.project_slug }}.tenancy.csrf.TenantCsrfViewMiddleware"
CSRF_NEEDS_BEFORE = (
    "{{ cookiecutter.project_slug }}.tenancy.middleware.TenantRoutingMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
)
# The longest grace period accepted (100 years): datetime arithmetic with far longer ones overflows.
GRACE_DAYS_MAX = 36500
# settings.TENANCY_ROUTING's values, and the shape of TENANCY_PATH_PREFIX (as the template's hook accepts it).
ROUTINGS = ("domain", "path")
PATH_PREFIX_RE = re.compile(r"[a-z][a-z0-9-]{0,29}")
# A literal first path segment of a URL pattern (`accounts/`, `^accounts/(?:...)`).
_FIRST_SEGMENT_RE = re.compile(r"\^?([a-z0-9-]+)/")


@register(Tags.database, deploy=False)
def pooler_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """tenancy.E001-E003: a connection pooler declared in settings must keep each client's search_path.

    django-tenants switches schemas with a session-level `SET search_path`, issued once per request
    (TENANT_LIMIT_SET_CALLS). A pooler in session mode hands each client one server connection for its
    whole session, so that is safe. A pooler in transaction mode (PgBouncer's pool_mode = transaction)
    hands out a server connection per transaction: without restoring the client's search_path on it, a
    query runs in whatever schema the previous client of that server connection left, i.e. another
    tenant's. PgBouncer restores parameters listed in its `track_extra_parameters` (since 1.20) when the
    server reports their changes. Django also needs DISABLE_SERVER_SIDE_CURSORS with transaction pooling
    (Django docs, "Transaction pooling and server-side cursors").
    """
    mode = str(getattr(settings, "TENANCY_POOLER_MODE", "") or "").lower()
    if mode not in POOLER_MODES:
        return [
            Error(
                f"TENANCY_POOLER_MODE {mode!r} is not known; accepted: '' (no pooler), 'session', 'transaction'",
                id="tenancy.E001",
            )
        ]
    errors: list[Error] = []
    if mode == "transaction" and not getattr(settings, "TENANCY_POOLER_TRACKS_SEARCH_PATH", False):
        errors.append(
            Error(
                "a transaction-mode connection pooler (TENANCY_POOLER_MODE = 'transaction') that does not restore "
                "each client's search_path would run queries in another tenant's schema",
                hint="Use PgBouncer's session mode, or make it track search_path (track_extra_parameters = "
                "search_path, on a server that reports search_path) and set TENANCY_POOLER_TRACKS_SEARCH_PATH = True.",
                id="tenancy.E002",
            )
        )
    if mode == "transaction":
        for alias, database in settings.DATABASES.items():
            if not database.get("DISABLE_SERVER_SIDE_CURSORS"):
                errors.append(
                    Error(
                        f"database {alias!r} goes through a transaction-mode pooler but keeps server-side cursors",
                        hint="Set DISABLE_SERVER_SIDE_CURSORS = True for it (Django docs: transaction pooling and "
                        "server-side cursors).",
                        id="tenancy.E003",
                    )
                )
    return errors


@register(deploy=False)
def billing_grace_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """tenancy.E004: settings.BILLING_GRACE_DAYS, the days an overdue tenant keeps full access before it becomes
    read-only (tenancy.models.billing_grace), must be a number from 0 to GRACE_DAYS_MAX."""
    value = getattr(settings, "BILLING_GRACE_DAYS", 7)
    try:
        days = float(value)
    except (TypeError, ValueError):
        days = math.nan
    if isinstance(value, bool) or not math.isfinite(days) or not 0 <= days <= GRACE_DAYS_MAX:
        return [
            Error(
                f"BILLING_GRACE_DAYS {value!r} is not accepted; expected a number of days from 0 to "
                f"{GRACE_DAYS_MAX} (decimals allowed, e.g. 0.5; 0: read-only as soon as a payment is overdue)",
                id="tenancy.E004",
            )
        ]
    return []


def url_first_segments() -> set[str]:
    """The literal first path segments the project serves: of the tenant and public URLconfs (ROOT_URLCONF,
    PUBLIC_SCHEMA_URLCONF), STATIC_URL, MEDIA_URL and the health probe (`healthz`)."""
    segments = {"healthz"}
    for url in (settings.STATIC_URL, settings.MEDIA_URL):
        match = _FIRST_SEGMENT_RE.match(str(url or "").lstrip("/"))
        if match:
            segments.add(match.group(1))
    for urlconf in {settings.ROOT_URLCONF, getattr(settings, "PUBLIC_SCHEMA_URLCONF", settings.ROOT_URLCONF)}:
        for pattern in get_resolver(urlconf).url_patterns:
            if isinstance(pattern, URLPattern | URLResolver):
                match = _FIRST_SEGMENT_RE.match(str(pattern.pattern))
                if match:
                    segments.add(match.group(1))
    return segments


@register(Tags.urls, deploy=False)
def routing_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """tenancy.E005-E006: settings.TENANCY_ROUTING is "domain" or "path"; TENANCY_PATH_PREFIX is one lowercase URL
    segment (a letter, then up to 29 letters, digits or hyphens) that no URL of the project starts with, since
    `/<prefix>/...` on the public host belongs to the tenants in path routing (url_first_segments)."""
    routing = getattr(settings, "TENANCY_ROUTING", "domain")
    if routing not in ROUTINGS:
        return [
            Error(
                f"TENANCY_ROUTING {routing!r} is not known; accepted: 'domain' (a host per tenant) or 'path' "
                "(/<TENANCY_PATH_PREFIX>/<slug>/ on the public host)",
                id="tenancy.E005",
            )
        ]
    prefix = getattr(settings, "TENANCY_PATH_PREFIX", "")
    if not isinstance(prefix, str) or not PATH_PREFIX_RE.fullmatch(prefix):
        return [
            Error(
                f"TENANCY_PATH_PREFIX {prefix!r} is not a lowercase URL segment; accepted: a lowercase letter, "
                "then up to 29 lowercase letters, digits or hyphens, without slashes (e.g. 't' or 'clinic')",
                id="tenancy.E006",
            )
        ]
    taken = url_first_segments()
    if prefix in taken:
        return [
            Error(
                f"TENANCY_PATH_PREFIX {prefix!r} is a path the project uses; accepted: any other lowercase URL "
                f"segment, not one of {', '.join(sorted(taken))}",
                id="tenancy.E006",
            )
        ]
    return []


def _is_csrf_middleware(path: str) -> bool:
    # app loading: tenancy.csrf imports the session machinery, which needs the apps ready
    from .csrf import TenantCsrfViewMiddleware

    try:
        middleware = import_string(path)
    except ImportError:
        return False  # Django reports a middleware that does not import when it loads MIDDLEWARE
    return isinstance(middleware, type) and issubclass(middleware, TenantCsrfViewMiddleware)


@register(Tags.security, deploy=False)
def csrf_middleware_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """tenancy.E007: settings.MIDDLEWARE has the project's CSRF middleware (CSRF_MIDDLEWARE or a subclass), after
    the routing and session middleware (CSRF_NEEDS_BEFORE), and not Django's own CsrfViewMiddleware.

    This check replaces Django's deploy check security.W003 ("CsrfViewMiddleware is not in your MIDDLEWARE"),
    which config/settings/base.py silences (SILENCED_SYSTEM_CHECKS): W003 looks for Django's class by its import
    path, so it warns about the project's subclass and would say nothing useful once silenced. Django's class in
    its place would keep one CSRF secret for every tenant of a session (tenancy/csrf.py).
    """
    middleware = [str(entry) for entry in settings.MIDDLEWARE]
    found = [index for index, entry in enumerate(middleware) if _is_csrf_middleware(entry)]
    if not found:
        return [
            Error(
                "settings.MIDDLEWARE has no CSRF protection: the project's CSRF middleware is missing",
                hint=f"Add {CSRF_MIDDLEWARE!r} after {CSRF_NEEDS_BEFORE[-1]!r}; it stands in for Django's "
                "CsrfViewMiddleware, keeping one CSRF secret per tenant.",
                id="tenancy.E007",
            )
        ]
    errors: list[Error] = []
    if "django.middleware.csrf.CsrfViewMiddleware" in middleware:
        errors.append(
            Error(
                "settings.MIDDLEWARE has Django's CsrfViewMiddleware as well as the project's CSRF middleware",
                hint=f"Remove 'django.middleware.csrf.CsrfViewMiddleware'; {CSRF_MIDDLEWARE!r} replaces it.",
                id="tenancy.E007",
            )
        )
    for needed in CSRF_NEEDS_BEFORE:
        if needed not in middleware[: found[0]]:
            errors.append(
                Error(
                    f"settings.MIDDLEWARE has the CSRF middleware {middleware[found[0]]!r} without {needed!r} "
                    "before it",
                    hint=f"Put {needed!r} before the CSRF middleware: it reads request.tenant and request.session.",
                    id="tenancy.E007",
                )
            )
    return errors
