"""Tenancy tasks."""

from celery import shared_task
from django.db import connection


@shared_task(name="tenancy.tenant_ping")
def tenant_ping() -> str:
    """Return the schema the worker ran this task in.

    A probe for operators and tests: sent from inside a tenant, it must answer that tenant's
    schema (`tenant_<slug>`); tenant-schemas-celery carries the schema in the task headers.
    """
    return str(connection.schema_name)  # type: ignore[attr-defined]  # added by django-tenants' backend
