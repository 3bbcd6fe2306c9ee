"""The benchmark views. Both answer with the marker READ FROM THE MARKER ROW of the schema the connection is in,
never from the Host header or request.tenant: a request served in another tenant's schema answers that tenant's
marker, one served in no tenant schema fails (500)."""

import functools
import os

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

from benchmarks.loadsite import BACKEND_HEADER, MARKER_SKU, WORKER_HEADER
from benchmarks.project import from_project

NO_MARKER = "<no marker row>"


def marker_text() -> str:
    """The name of the marker product in the current schema (one SELECT), or NO_MARKER."""
    Product = from_project("products.models", "Product")

    value = Product.objects.filter(sku=MARKER_SKU).values_list("name", flat=True).first()
    return value if value is not None else NO_MARKER


def marker_response(text: str) -> HttpResponse:
    """`text` as text/plain, with headers BACKEND_HEADER (the PostgreSQL backend pid of the connection that read it,
    from the driver's connection info: no SQL) and WORKER_HEADER (this server process's pid): they let the benchmark
    see how many tenants each database connection served and how the requests split between the workers.
    """
    response = HttpResponse(text, content_type="text/plain")
    raw = connection.connection
    response[BACKEND_HEADER] = str(raw.info.backend_pid) if raw is not None else "-"
    response[WORKER_HEADER] = str(os.getpid())
    return response


def marker(request: HttpRequest) -> HttpResponse:
    """The marker, as text/plain: one SQL statement."""
    return marker_response(marker_text())


@functools.cache
def tenant_models() -> list[type[Model]]:
    """Every concrete model of the tenant apps (settings.TENANT_APPS): one table each in every tenant schema."""
    names = set(settings.TENANT_APPS)
    return [
        model
        for config in apps.get_app_configs()
        if config.name in names
        for model in config.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]


def tables(request: HttpRequest) -> HttpResponse:
    """The marker, after one `exists()` query on every table of the tenant apps, as a page that lists a tenant's
    products, customers and bookings would touch them: for the backend-memory measurement of benchmarks/routing.py.
    """
    for model in tenant_models():
        model._default_manager.exists()
    return marker_response(marker_text())
