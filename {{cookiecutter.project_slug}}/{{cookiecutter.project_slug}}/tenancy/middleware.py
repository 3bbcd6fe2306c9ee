"""Tenant routing: the request's host, or in path routing its path, selects the tenant and its schema (state in
tenancy/routing.py)."""

{% if cookiecutter.use_celery == "y" -%}
import functools
import re

import redis
{% else -%}
import re

{% endif -%}
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseNotFound,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.http.request import split_domain_port
from django.template.loader import render_to_string
from django.urls import get_script_prefix, set_script_prefix
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from .domain import Access, TenantReadOnly, TenantSuspended
from .routing import connection_schema_visited, connection_slots, directory

HEALTH_PATH = "/healthz"
# Seconds a client should wait before retrying a tenant that is still provisioning.
PROVISIONING_RETRY_AFTER = 5
# The Billing page of a tenant host (billing_views); its checkout and portal live under it too.
BILLING_PATH = "/billing/"
# What a tenant its subscription makes read-only or suspended still serves, whatever the method: the Billing
# page (checkout, portal), logging in and out, one-time login tokens and the workspace switcher, and static
# files (settings.STATIC_URL, when served by this host). A suspension by an operator (tenant.status) has none.
BILLING_EXEMPT_PREFIXES = (
    BILLING_PATH, "/accounts/login/", "/accounts/logout/", "/accounts/token/", "/accounts/switch/",
)  # fmt: skip
# Methods a read-only tenant still serves (RFC 9110 section 9.2.1's safe methods, TRACE aside).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Under this prefix a refusal is JSON, `{"detail": ..., "code": ...}`, like the API's own errors.
API_PREFIX = "/api/"
# What a path's tenant slug may look like before it is looked up (path routing): tenancy.domain's slug characters,
# in either case. Anything else (`acme.`, a NUL byte, which PostgreSQL refuses in text) is no tenant's: 404, no SQL.
PATH_SLUG_SHAPE = re.compile(r"[A-Za-z0-9-]{1,63}")


class TenantRoutingMiddleware(TenantMainMiddleware):
    """Routes a request to its tenant by host name, like django-tenants' TenantMainMiddleware, with these changes.

    - **Cost:** the host is resolved through a per-process directory (tenancy.routing.directory) whose entries
      hold the routing version they were loaded at; database triggers move it with every committed change to
      tenants or domains. Routing costs one SQL statement per request (the routing version read together with
      setting the search path; two on the first request after a change); stock costs three.
    - **No leaks between requests:** after every request, whether it succeeded or failed mid-transaction, the
      connection is back in the public schema. A connection that served more than
      TENANCY_CONNECTION_MAX_SCHEMAS distinct schemas is closed (tenancy.routing.connection_schema_visited).
    - **Warm connections:** with TENANCY_CONNECTION_SLOTS = N > 0 (production default 16), a request runs on one
      of the process's N slot connections, chosen by its host (affinity_key), so each connection serves about
      1/N of the tenants and keeps their catalog entries warm (tenancy.routing.ConnectionSlots); while another
      request holds that slot, it runs on the thread's own connection, which is `django.db.connection` again
      after every request.
    - **Health:** `/healthz` answers on any Host (load balancers probe by IP address) before host validation,
      with 200 when the database answers `SELECT 1` and 503 otherwise{% if cookiecutter.use_celery == "y" %}; it also names Redis "ok" or "down",
      which never changes the status (pages work without Redis){% endif %}.
    - **Host names:** they are normalised before the lookup: lowercase, port and one trailing dot removed
      (`ACME.localhost.:8000` routes like `acme.localhost`). An unknown host gets the project's 404 page,
      never the public site.
    - **Lifecycle:** only active tenants serve the apps. A tenant still provisioning answers a "setting up"
      page (503 with Retry-After), a suspended one 403, an archived one 404 (tenant.status).
    - **Billing:** an active tenant is served as its subscription allows (Tenant.access, from the billing
      columns the routing query loaded with the tenant: no SQL of its own). Read-only: GET, HEAD and OPTIONS
      work, other methods answer 403; suspended (canceled, the paid period over): the suspended page. The
      Billing page, logging in and out, and static files stay reachable (BILLING_EXEMPT_PREFIXES).
    - **Path routing** (settings.TENANCY_ROUTING = "path"): on the public tenant's host, `/<prefix>/<slug>/...`
      (settings.TENANCY_PATH_PREFIX) serves the tenant with that slug; the rest of the host is the public site.
      `/<prefix>/<slug>` moves into the script name (request.META["SCRIPT_NAME"] and Django's script prefix,
      so reverse(), redirect() and templates produce `/<prefix>/<slug>/...`); request.path stays the full path
      and request.path_info is what follows (`/products/`), which the tenant URLconf and every path rule here
      (billing exemptions, API refusals) match. `/<prefix>/<slug>` without its slash is redirected (301) to
      `/<prefix>/<slug>/`; an unknown slug answers the project's 404, and the lifecycle and billing rules are
      those of domain routing. A tenant's own domain (a Domain row of its own) still routes by host. Same cost:
      one statement per request for a known host and slug (TenantDirectory.route_path). tenant.domain_url is
      `<host>/<prefix>/<slug>` (logs). The script prefix is restored after every request, failed ones too.
    """

    def __call__(self, request: HttpRequest) -> HttpResponse:
        script_prefix = get_script_prefix()  # the deployment's (WSGI SCRIPT_NAME), restored for the next request
        # A slot connection for the request's host (TENANCY_CONNECTION_SLOTS > 0), else the thread's own.
        lease = connection_slots.lease(affinity_key(request)) if settings.TENANCY_CONNECTION_SLOTS else None
        try:
            return super().__call__(request)
        finally:
            set_script_prefix(script_prefix)
            try:
                schema = connection.schema_name  # type: ignore[attr-defined]  # django-tenants' backend
                connection.set_schema_to_public()  # type: ignore[attr-defined]  # lazy: no SQL until the next query
                connection_schema_visited(connection, schema)
            finally:
                if lease is not None:
                    lease.release()

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if request.path == HEALTH_PATH:
            return health_response()
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:  # malformed, or not in ALLOWED_HOSTS: no tenant has it
            return self.no_tenant_found(request, "")
        path_slug = tenant_path_split(request.path_info) if settings.TENANCY_ROUTING == "path" else None
        if path_slug is not None and not PATH_SLUG_SHAPE.fullmatch(path_slug[0]):
            return self.no_tenant_found(request, hostname)
        if path_slug is None:
            tenant, by_path = directory.route(hostname, connection), False  # sets the connection to the tenant
        else:
            tenant, by_path = directory.route_path(hostname, path_slug[0], connection)
        if tenant is None:
            if by_path and path_slug is not None:  # the public host, and no tenant has this slug
                hostname = f"{hostname}/{settings.TENANCY_PATH_PREFIX}/{path_slug[0]}"
            return self.no_tenant_found(request, hostname)
        tenant.domain_url = hostname
        request.tenant = tenant  # type: ignore[attr-defined]
        if by_path:
            assert path_slug is not None
            base = f"{request.META.get('SCRIPT_NAME', '').rstrip('/')}/{settings.TENANCY_PATH_PREFIX}/{tenant.slug}"
            tenant.domain_url = f"{hostname}{base}"
            request.META["SCRIPT_NAME"] = base
            request.path_info = path_slug[1] or "/"
            set_script_prefix(base)  # adds the trailing slash
        self.setup_url_routing(request)
        refusal = lifecycle_response(tenant, request)
        if refusal is None and by_path and path_slug is not None and not path_slug[1]:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
        return refusal

    @staticmethod
    def hostname_from_request(request: HttpRequest) -> str:
        domain, _port = split_domain_port(request.get_host())
        return domain

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        body = render_to_string("404.html", {"hostname": hostname}, request=None)
        return HttpResponseNotFound(body)


def affinity_key(request: HttpRequest) -> str:
    """The key a request's database connection slot is chosen by (tenancy.routing.ConnectionSlots): the Host
    header as sent, lowercased and without its port, plus `/<slug>` for a path-routed request. No validation
    (process_request does it); requests for one tenant share a key, so they share a warm connection."""
    host = str(request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME") or "").lower()
    host = host.rpartition(":")[0] if host.rpartition(":")[2].isdigit() else host
    if settings.TENANCY_ROUTING == "path":
        path_slug = tenant_path_split(request.path_info)
        if path_slug is not None:
            return f"{host}/{path_slug[0].lower()}"
    return host


def tenant_path_split(path_info: str) -> tuple[str, str] | None:
    """Split `/<prefix>/<slug>/<rest>` (path routing, prefix settings.TENANCY_PATH_PREFIX) into (slug, "/<rest>");
    (slug, "") for `/<prefix>/<slug>` without its slash; None for any other path (the public site's)."""
    prefix = f"/{settings.TENANCY_PATH_PREFIX}/"
    if not path_info.startswith(prefix):
        return None
    slug, slash, rest = path_info[len(prefix) :].partition("/")
    return (slug, slash + rest) if slug else None


def health_response() -> HttpResponse:
    """Return 200 `{"status": "ok", "database": "ok"{% if cookiecutter.use_celery == "y" %}, "redis": "ok" | "down"{% endif %}}` when the database answers,
    else 503 `{"status": "error", "database": <error class>{% if cookiecutter.use_celery == "y" %}, "redis": ...{% endif %}}`.{% if cookiecutter.use_celery == "y" %}

    Redis is reported, not required: the cache falls back without it (config/redis_cache.py), and a frozen
    Redis costs this probe at most settings.REDIS_CONNECT_TIMEOUT + REDIS_TIMEOUT.{% endif %}
    """
{%- if cookiecutter.use_celery == "y" %}
    services = {"redis": redis_state()}
{%- else %}
    services: dict[str, str] = {}
{%- endif %}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return JsonResponse({"status": "error", "database": type(exc).__name__, **services}, status=503)
    return JsonResponse({"status": "ok", "database": "ok", **services})
{%- if cookiecutter.use_celery == "y" %}


@functools.lru_cache(maxsize=1)
def _redis_client(url: str) -> redis.Redis:
    # One connection pool per process; no retries: a dead Redis answers "down" after one attempt.
    return redis.Redis.from_url(
        url, socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT, socket_timeout=settings.REDIS_TIMEOUT
    )


def redis_state() -> str:
    """Return "ok" when Redis at settings.REDIS_URL answers PING within the Redis timeouts, else "down"."""
    try:
        _redis_client(settings.REDIS_URL).ping()
    except redis.RedisError:
        return "down"
    return "ok"
{%- endif %}


def lifecycle_response(tenant: object, request: HttpRequest | None = None) -> HttpResponse | None:
    """The response for a tenant that may not serve `request`, or None to serve it.

    tenant.status first (set by operators): provisioning 503, suspended 403, archived 404, for every path.
    Then, for an active tenant and a request, what its subscription allows (billing_response).
    """
    status = getattr(tenant, "status", "active")
    if status == "active":
        return None if request is None else billing_response(tenant, request)
    if status == "provisioning":
        body = render_to_string(
            "tenancy/status_provisioning.html", {"tenant": tenant, "retry_after": PROVISIONING_RETRY_AFTER}
        )
        response = HttpResponse(body, status=503)
        response["Retry-After"] = str(PROVISIONING_RETRY_AFTER)
        response["Cache-Control"] = "no-store"
        return response
    if status == "suspended":
        return HttpResponseForbidden(render_to_string("tenancy/status_suspended.html", {"tenant": tenant}))
    # Archived: answered like an unknown host, so an archived tenant's name is not confirmed.
    hostname = getattr(tenant, "domain_url", "")  # set by TenantMainMiddleware
    return HttpResponseNotFound(render_to_string("404.html", {"hostname": hostname}))


def billing_exempt(path: str) -> bool:
    """Whether `path` (a request's path_info) is served whatever the tenant's subscription allows."""
    static = str(settings.STATIC_URL or "")
    return path.startswith(BILLING_EXEMPT_PREFIXES) or (static.startswith("/") and path.startswith(static))


def billing_response(tenant: object, request: HttpRequest) -> HttpResponse | None:
    """The 403 for a request the subscription of `tenant` (an active Tenant) does not allow, or None.

    Access.READ_ONLY (payment overdue past the grace period): unsafe methods answer 403, an HTML page naming
    the Billing page, or under /api/ `{"detail": ..., "code": "tenant_read_only"}`. Access.SUSPENDED (canceled,
    the paid period over): every method answers the suspended page (403) with a link to the Billing page, or
    under /api/ `{"detail": ..., "code": "tenant_suspended"}`. billing_exempt paths are always served.
    Reads only the tenant row's billing columns (no SQL).
    """
    access_of = getattr(tenant, "access", None)
    if access_of is None or getattr(tenant, "schema_name", None) == get_public_schema_name():
        return None
    access = access_of()
    if access is Access.FULL or billing_exempt(request.path_info):
        return None
    if access is Access.READ_ONLY and request.method in SAFE_METHODS:
        return None
    name = getattr(tenant, "name", "")
    home_url = get_script_prefix()  # `/`, or `/<prefix>/<slug>/` in path routing
    billing_url = f"{home_url.rstrip('/')}{BILLING_PATH}"
    if access is Access.READ_ONLY:
        error: TenantReadOnly | TenantSuspended = TenantReadOnly(
            f"{name} is read-only because its payment is overdue; nothing was changed. "
            f"An owner can pay on the Billing page ({billing_url})."
        )
        template = "tenancy/status_read_only.html"
    else:
        error = TenantSuspended(
            f"{name} is suspended because its subscription has ended; its data is kept. "
            f"An owner can subscribe again on the Billing page ({billing_url})."
        )
        template = "tenancy/status_suspended.html"
    if request.path_info.startswith(API_PREFIX):
        return JsonResponse({"detail": str(error), "code": error.code}, status=403)
    context = {"tenant": tenant, "billing_url": billing_url, "home_url": home_url}
    return HttpResponseForbidden(render_to_string(template, context))
