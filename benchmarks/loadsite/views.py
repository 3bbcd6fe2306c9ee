"""The tables view: the load check's marker view (loadcheck/loadsite/views.py: the marker READ FROM THE MARKER ROW
of the schema the connection is in, never from the Host header) after touching every tenant table."""

import functools

from django.apps import apps
from django.conf import settings
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from loadcheck.loadsite.views import marker


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
    return marker(request)
