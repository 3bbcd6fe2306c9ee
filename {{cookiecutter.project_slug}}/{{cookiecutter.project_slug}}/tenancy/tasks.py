"""Tenancy tasks."""

import logging
from dataclasses import asdict
from typing import Any

from django.db import connection

from config.celery_app import IDEMPOTENT, app

from .celery_tenancy import PlatformTask
from .fleet_migrate import fleet_migrate
from .provisioning import spare_pool_fill
from .services import tenant_create

logger = logging.getLogger(__name__)


@app.task(name="tenancy.tenant_ping", bind=True, max_retries=5)
def tenant_ping(self: Any, retries: int = 0) -> str:
    """Return the schema the worker ran this task in, after retrying itself `retries` times (0-5).

    A probe for operators and tests: sent from inside a tenant, it must answer that tenant's
    schema (`tenant_<slug>`), also after retries; sent from the public schema it is rejected
    (tenancy/celery_tenancy.py). Each attempt logs a line, which carries the schema.
    """
    schema = str(connection.schema_name)  # type: ignore[attr-defined]  # added by django-tenants' backend
    logger.info("tenant_ping attempt %d in schema %s", self.request.retries + 1, schema)
    if self.request.retries < retries:
        raise self.retry(countdown=0)
    return schema


# Hard time limits of idempotent tasks stay below the broker's visibility timeout (30 min by default,
# CELERY_BROKER_TRANSPORT_OPTIONS in base.py), or the broker redelivers them while they still run.
@app.task(
    name="tenancy.migrate_schemas_batch", base=PlatformTask, time_limit=25 * 60, soft_time_limit=24 * 60, **IDEMPOTENT
)
def migrate_schemas_batch(
    schemas: list[str], *, continue_on_error: bool, retries: int, lock_timeout_ms: int
) -> list[dict[str, Any]]:
    """Migrate the schemas named in `schemas` in this worker; return one dict per schema (SchemaResult fields).

    Sent in batches by `migrate_schemas --executor=celery`, from the public schema. The worker plans
    its batch once and applies it like the in-process executor (tenancy/fleet_migrate.py). Retries are
    logged here as they happen (a warning per retry, in the worker's log) and sent back in each dict's
    `retries` (attempt, sqlstate, condition, backoff_seconds, error), which the command prints and puts
    in its --report; read a dict back with `SchemaResult.from_fields`.
    """
    report = fleet_migrate(
        schemas=[(schema, None) for schema in schemas],
        continue_on_error=continue_on_error,
        retries=retries,
        lock_timeout_ms=lock_timeout_ms,
    )
    return [asdict(result) for result in report.results]


@app.task(
    name="tenancy.spare_pool_refill", base=PlatformTask, time_limit=20 * 60, soft_time_limit=19 * 60, **IDEMPOTENT
)
def spare_pool_refill() -> int:
    """Create spare schemas until the pool holds settings.TENANCY_SPARE_SCHEMAS; return how many were created.

    Sent after a spare schema is claimed (tenancy/provisioning.py); a refill already running elsewhere
    makes this one return 0 at once.
    """
    return spare_pool_fill()


@app.task(name="tenancy.provision_tenant", base=PlatformTask)
def provision_tenant(name: str, slug: str, domain: str | None = None, owner_email: str | None = None) -> str:
    """Provision a tenant on a worker with tenancy.services.tenant_create; return its schema name.

    For callers that must not wait (bulk imports, an API that answers 202). Bad or taken values fail
    the task once with the service's message (InvalidValue, TenantExists, DomainTaken); nothing is
    retried, and nothing is left behind.
    """
    return tenant_create(name=name, slug=slug, domain=domain, owner_email=owner_email).schema_name
