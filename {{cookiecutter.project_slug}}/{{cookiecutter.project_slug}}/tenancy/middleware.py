"""Tenant routing: the request's host selects the tenant and its schema."""

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotFound, JsonResponse
from django.http.request import split_domain_port
from django.template.loader import render_to_string
from django_tenants.middleware.main import TenantMainMiddleware

HEALTH_PATH = "/healthz"
# Seconds a client should wait before retrying a tenant that is still provisioning.
PROVISIONING_RETRY_AFTER = 5


class TenantRoutingMiddleware(TenantMainMiddleware):
    """django-tenants' TenantMainMiddleware with four changes.

    - `/healthz` answers on any Host (load balancers probe by IP address) before host
      validation, with 200 when the database answers `SELECT 1` and 503 otherwise.
    - Host names are normalised before the domain lookup: lowercase, port and one trailing
      dot removed (`ACME.localhost.:8000` routes like `acme.localhost`).
    - An unknown host gets the project's 404 page, never the public site.
    - Only active tenants serve the apps: a tenant still provisioning answers a "setting up" page
      (503 with Retry-After), a suspended one 403, an archived one 404 (tenant.status).
    """

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if request.path == HEALTH_PATH:
            return health_response()
        response = super().process_request(request)
        if response is not None:
            return response
        return lifecycle_response(request.tenant)  # type: ignore[attr-defined]  # set by super()

    @staticmethod
    def hostname_from_request(request: HttpRequest) -> str:
        domain, _port = split_domain_port(request.get_host())
        return domain

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        body = render_to_string("404.html", {"hostname": hostname}, request=None)
        return HttpResponseNotFound(body)


def health_response() -> HttpResponse:
    """Return 200 `{"status": "ok"}` when the database answers, else 503 with the error class."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return JsonResponse({"status": "error", "database": type(exc).__name__}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


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
