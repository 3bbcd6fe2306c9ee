"""The Celery task of `migrate_schemas --executor=celery`: one batch of schemas migrated in a worker.

Its name keeps the `tenancy.` prefix: messages already queued by an earlier release still find it.
"""

from dataclasses import asdict
from typing import Any

from ..tenancy.celery_tenancy import PlatformTask
from .executor import fleet_migrate
from config.celery_app import IDEMPOTENT, app


# Its hard time limit stays below the broker's visibility timeout (30 min by default,
# CELERY_BROKER_TRANSPORT_OPTIONS in base.py), or the broker would redeliver it while it still runs.
@app.task(
    name="tenancy.migrate_schemas_batch", base=PlatformTask, time_limit=25 * 60, soft_time_limit=24 * 60, **IDEMPOTENT
)
def migrate_schemas_batch(
    schemas: list[str], *, continue_on_error: bool, retries: int, lock_timeout_ms: int
) -> list[dict[str, Any]]:
    """Migrate the schemas named in `schemas` in this worker; return one dict per schema (SchemaResult fields).

    Sent in batches by `migrate_schemas --executor=celery`, from the public schema. The worker plans
    its batch once and applies it like the in-process executor (fleet/executor.py). Retries are
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
