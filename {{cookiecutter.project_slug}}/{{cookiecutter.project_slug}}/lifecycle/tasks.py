"""Tasks of the tenant lifecycle: a tenant probe, spare-pool refills, provisioning from a worker.

Task names keep their `tenancy.` prefix: messages already queued by an earlier release still find them.
"""

import logging
from typing import Any

from django.db import connection

from ..tenancy.celery_tenancy import PlatformTask
from .provisioning import spare_pool_fill
from .services import tenant_create
from config.celery_app import IDEMPOTENT, app

logger = logging.getLogger(__name__)


class TenantPingFailure(Exception):
    """Raised by tenant_ping when asked to (`fail_first_in`); the task retries itself on it (autoretry_for)."""


@app.task(
    name="tenancy.tenant_ping", bind=True, max_retries=5, autoretry_for=(TenantPingFailure,), retry_backoff=1,
    retry_backoff_max=2,
)  # fmt: skip
def tenant_ping(self: Any, retries: int = 0, fail_first_in: list[str] | None = None) -> str:
    """Return the schema the worker ran this task in, after retrying itself `retries` times (0-5).

    A probe for operators and tests: sent from inside a tenant, it must answer that tenant's
    schema (`tenant_<slug>`), also after retries; sent from the public schema it is rejected
    (tenancy/celery_tenancy.py). Each attempt logs a line, which carries the schema. In the schemas named in
    `fail_first_in`, the first attempt raises TenantPingFailure, which the task retries with Celery's
    `autoretry_for` and a backoff of at most 2 s, as a task does after a lost database connection.
    """
    schema = str(connection.schema_name)  # type: ignore[attr-defined]  # added by django-tenants' backend
    logger.info("tenant_ping attempt %d in schema %s", self.request.retries + 1, schema)
    if self.request.retries == 0 and schema in (fail_first_in or ()):
        raise TenantPingFailure(f"tenant_ping fails its first attempt in schema {schema}, as asked")
    if self.request.retries < retries:
        raise self.retry(countdown=0)
    return schema


# Hard time limits of idempotent tasks stay below the broker's visibility timeout (30 min by default,
# CELERY_BROKER_TRANSPORT_OPTIONS in base.py), or the broker redelivers them while they still run.
@app.task(
    name="tenancy.spare_pool_refill", base=PlatformTask, time_limit=20 * 60, soft_time_limit=19 * 60, **IDEMPOTENT
)
def spare_pool_refill() -> int:
    """Create spare schemas until the pool holds settings.TENANCY_SPARE_SCHEMAS; return how many were created.

    Sent after a spare schema is claimed (lifecycle/provisioning.py); a refill already running elsewhere
    makes this one return 0 at once.
    """
    return spare_pool_fill()


@app.task(name="tenancy.provision_tenant", base=PlatformTask)
def provision_tenant(name: str, slug: str, domain: str | None = None, owner_email: str | None = None) -> str:
    """Provision a tenant on a worker with lifecycle.services.tenant_create; return its schema name.

    For callers that must not wait (bulk imports, an API that answers 202). Bad or taken values fail
    the task once with the service's message (InvalidValue, TenantExists, DomainTaken); nothing is
    retried, and nothing is left behind.
    """
    return tenant_create(name=name, slug=slug, domain=domain, owner_email=owner_email).schema_name
