"""Logs and error reports that say which tenant they come from.

Logging (settings.LOGGING): every record passes `TenantContextFilter`, which adds `schema_name` and
`domain_url`: those of the request's tenant for records about a request (django.request's "Bad
Request" and "Internal Server Error" are logged after routing put the connection back in the public
schema), else of the connection's current tenant: the task's tenant in a Celery worker (the task runs
in its sender's schema), `public` (and no domain) in commands and other code outside a tenant.
DJANGO_LOG_FORMAT=json switches the console from one text line per record to one JSON object per
line (python-json-logger) with those fields.

Error tracking: with SENTRY_DSN set, production settings call `sentry_init`; every event is tagged
with `tenant` (the tenant's slug, `public` outside a tenant), `schema` and, in a request,
`tenant_domain`, read when the event is captured (`sentry_before_send`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.db import connection

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint


def current_tenant(record: logging.LogRecord | None = None) -> object | None:
    """The tenant a log record or an event is about: the tenant of the request the record carries (Django's
    request loggers attach it), else the connection's current tenant. Reads no database."""
    request = getattr(record, "request", None)
    tenant = getattr(request, "tenant", None)
    return tenant if tenant is not None else getattr(connection, "tenant", None)


class TenantContextFilter(logging.Filter):
    """Add `schema_name` and `domain_url` (None outside a request) to every record; see the module docstring.

    Like django-tenants' filter of the same name, plus the request's tenant for records about a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        tenant = current_tenant(record)
        record.schema_name = getattr(tenant, "schema_name", None) or getattr(connection, "schema_name", "public")
        record.domain_url = getattr(tenant, "domain_url", None)
        return True


def tenant_tags(tenant: object | None) -> dict[str, str]:
    """Tags naming `tenant`: `tenant` (its slug; the schema name for a tenant without one), `schema` and,
    when it was routed from a request, `tenant_domain`."""
    schema = getattr(tenant, "schema_name", None)
    if not schema:
        return {}
    tags = {"tenant": str(getattr(tenant, "slug", None) or schema), "schema": str(schema)}
    domain = getattr(tenant, "domain_url", None)
    if domain:
        tags["tenant_domain"] = str(domain)
    return tags


def sentry_before_send(event: Event, hint: Hint) -> Event | None:
    """Sentry `before_send`: tag the event with the tenant it is about (tags set explicitly on the scope win)."""
    tags = event.get("tags")
    if not isinstance(tags, dict):
        tags = event["tags"] = {}
    for key, value in tenant_tags(current_tenant(hint.get("log_record"))).items():
        tags.setdefault(key, value)
    return event


def sentry_init(dsn: str, **options: Any) -> None:
    """Start the Sentry SDK with its Django integration (and Celery's, in projects with Celery), tagging every
    event with its tenant. `options` go to `sentry_sdk.init` (environment, release, traces_sample_rate, and
    `transport` in tests). Personal data (user emails, IP addresses, cookies) is not sent: the SDK's default."""
    import sentry_sdk
{%- if cookiecutter.use_celery == "y" %}
    from sentry_sdk.integrations.celery import CeleryIntegration
{%- endif %}
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration(){% if cookiecutter.use_celery == "y" %}, CeleryIntegration(){% endif %}],
        before_send=sentry_before_send,
        **options,
    )
