"""Tenant routing: the request's host selects the tenant and its schema."""

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.http.request import split_domain_port
from django.template.loader import render_to_string
from django_tenants.middleware.main import TenantMainMiddleware

HEALTH_PATH = "/healthz"


class TenantRoutingMiddleware(TenantMainMiddleware):
    """django-tenants' TenantMainMiddleware with three changes.

    - `/healthz` answers on any Host (load balancers probe by IP address) before host
      validation, with 200 when the database answers `SELECT 1` and 503 otherwise.
    - Host names are normalised before the domain lookup: lowercase, port and one trailing
      dot removed (`ACME.localhost.:8000` routes like `acme.localhost`).
    - An unknown host gets the project's 404 page, never the public site.
    """

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if request.path == HEALTH_PATH:
            return health_response()
        return super().process_request(request)

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
