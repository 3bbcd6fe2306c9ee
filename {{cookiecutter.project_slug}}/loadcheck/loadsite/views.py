"""The marker view. It answers with the marker READ FROM THE MARKER ROW of the schema the connection is in, never
from the Host header or request.tenant: a request served in another tenant's schema answers that tenant's marker,
one served in no tenant schema fails (500)."""

import os

from django.db import connection
from django.http import HttpRequest, HttpResponse

from {{ cookiecutter.project_slug }}.products.models import Product

from loadcheck.loadsite import BACKEND_HEADER, MARKER_SKU, WORKER_HEADER

NO_MARKER = "<no marker row>"


def marker(request: HttpRequest) -> HttpResponse:
    """The name of the marker product in the current schema (one SELECT) as text/plain, with headers
    BACKEND_HEADER (the PostgreSQL backend pid of the connection that read it, from the driver's connection info:
    no SQL) and WORKER_HEADER (this server process's pid): they show how many tenants each database connection
    served and how the requests split between the workers."""
    value = Product.objects.filter(sku=MARKER_SKU).values_list("name", flat=True).first()
    response = HttpResponse(value if value is not None else NO_MARKER, content_type="text/plain")
    raw = connection.connection
    response[BACKEND_HEADER] = str(raw.info.backend_pid) if raw is not None else "-"
    response[WORKER_HEADER] = str(os.getpid())
    return response
