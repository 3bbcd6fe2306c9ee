"""Tenant routing: the request's host selects the tenant and its schema (state in tenancy/routing.py)."""

{% if cookiecutter.use_celery == "y" -%}
import functools

import redis
from django.conf import settings
{% endif -%}
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotFound, JsonResponse
from django.http.request import split_domain_port
from django.template.loader import render_to_string
from django_tenants.middleware.main import TenantMainMiddleware

from .routing import connection_schema_visited, directory

HEALTH_PATH = "/healthz"
# Seconds a client should wait before retrying a tenant that is still provisioning.
PROVISIONING_RETRY_AFTER = 5


class TenantRoutingMiddleware(TenantMainMiddleware):
    """Routes a request to its tenant by host name, like django-tenants' TenantMainMiddleware, with these changes.

    - **Cost:** the host is resolved through a per-process directory (tenancy.routing.directory) whose entries
      hold the routing version they were loaded at; database triggers move it with every committed change to
      tenants or domains. Routing costs one SQL statement per request (the routing version read together with
      setting the search path; two on the first request after a change); stock costs three.
    - **No leaks between requests:** after every request, whether it succeeded or failed mid-transaction, the
      connection is back in the public schema. A connection that served more than
      TENANCY_CONNECTION_MAX_SCHEMAS distinct schemas is closed (tenancy.routing.connection_schema_visited).
    - **Health:** `/healthz` answers on any Host (load balancers probe by IP address) before host validation,
      with 200 when the database answers `SELECT 1` and 503 otherwise{% if cookiecutter.use_celery == "y" %}; it also names Redis "ok" or "down",
      which never changes the status (pages work without Redis){% endif %}.
    - **Host names:** they are normalised before the lookup: lowercase, port and one trailing dot removed
      (`ACME.localhost.:8000` routes like `acme.localhost`). An unknown host gets the project's 404 page,
      never the public site.
    - **Lifecycle:** only active tenants serve the apps. A tenant still provisioning answers a "setting up"
      page (503 with Retry-After), a suspended one 403, an archived one 404 (tenant.status).
    """

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return super().__call__(request)
        finally:
            schema = connection.schema_name  # type: ignore[attr-defined]  # django-tenants' backend
            connection.set_schema_to_public()  # type: ignore[attr-defined]  # lazy: no SQL until the next query
            connection_schema_visited(connection, schema)

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if request.path == HEALTH_PATH:
            return health_response()
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:  # malformed, or not in ALLOWED_HOSTS: no tenant has it
            return self.no_tenant_found(request, "")
        tenant = directory.route(hostname, connection)  # sets the connection to the tenant
        if tenant is None:
            return self.no_tenant_found(request, hostname)
        tenant.domain_url = hostname
        request.tenant = tenant  # type: ignore[attr-defined]
        self.setup_url_routing(request)
        return lifecycle_response(tenant)

    @staticmethod
    def hostname_from_request(request: HttpRequest) -> str:
        domain, _port = split_domain_port(request.get_host())
        return domain

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        body = render_to_string("404.html", {"hostname": hostname}, request=None)
        return HttpResponseNotFound(body)


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


def lifecycle_response(tenant: object) -> HttpResponse | None:
    """The response for a tenant that is not active (None for an active tenant or the public tenant)."""
    status = getattr(tenant, "status", "active")
    if status == "active":
        return None
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
