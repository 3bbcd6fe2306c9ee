"""The batch tasks of tenants_fan_out: one message runs a tenant task in a batch of tenants (celery_tenancy.py).

Two tasks with one body, so that a batch keeps the delivery promise of the task it carries: `run_for_tenants`
is acknowledged when a worker takes it (Celery's default), `run_for_tenants_acks_late` once it has run (for
tasks declared with `acks_late`, such as those with config.celery_app.IDEMPOTENT, whose options it has): a worker
lost mid-batch then runs the whole batch again, which such tasks allow. Its `autoretry_for` never sees a
tenant's error: each tenant's run is traced, and retried, alone (celery_tenancy.tenants_batch_run).
"""

from typing import Any

from .celery_tenancy import PlatformTask, tenants_batch_run
from config.celery_app import IDEMPOTENT, app


def tenants_batch(
    self: Any, task_name: str, schemas: list[str], args: list[Any], kwargs: dict[str, Any]
) -> dict[str, int]:
    """Run the tenant task `task_name` with `args` and `kwargs` in each schema of `schemas` (names of tenant
    schemas); return the counts of tenants_batch_run ({"ok", "refused", "retried", "failed", "tenant_lookups"}).

    A platform task: the batch itself runs in the public schema, each tenant's run in its own schema or not at
    all. Sent by tenants_fan_out, up to its `batch_size` schemas (FAN_OUT_BATCH_SIZE by default) to a message.
    """
    return tenants_batch_run(self, task_name, schemas, args, kwargs)


# The names tenants_fan_out sends (celery_tenancy.FAN_OUT_TASK, FAN_OUT_TASK_ACKS_LATE).
run_for_tenants = app.task(name="tenancy.run_for_tenants", base=PlatformTask, bind=True)(tenants_batch)
run_for_tenants_acks_late = app.task(
    name="tenancy.run_for_tenants_acks_late", base=PlatformTask, bind=True, **IDEMPOTENT
)(tenants_batch)
