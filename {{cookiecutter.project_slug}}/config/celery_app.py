"""Celery application on tenant-schemas-celery, with the project's tenant rules.

A task sent from inside a tenant (a request on a tenant host, a command run with
`--tenant`, `tenant_context`) carries that tenant's schema in its headers, and the
worker runs it in that schema, or rejects it when there is no such active tenant
(tenancy/celery_tenancy.py: tasks never fall back to the public schema). Tasks
about the platform itself use `base=PlatformTask` and run in the public schema.

Tasks that are safe to run twice (a second run changes nothing) declare `**IDEMPOTENT` and get
at-least-once delivery: the message is acknowledged only after the task returns, it goes back to
the queue when the pool process running it dies (`WorkerLostError`), the broker redelivers it when
the whole worker died (after CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"], base.py), and a
lost or refused database connection (a PostgreSQL restart or failover) is retried with exponential
backoff instead of failing the task.

Start a worker with `celery -A config.celery_app worker` and the scheduler of
periodic per-tenant tasks with `celery -A config.celery_app beat` (`make dev`
starts both).
"""

import os
from typing import Any

from celery.schedules import crontab
from celery.signals import task_postrun, task_prerun
from django.db import InterfaceError, OperationalError
from tenant_schemas_celery.app import CeleryApp

from config.devservices import environ_ensure

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# `celery -A config.celery_app` starts here: with the local or test settings, the embedded PostgreSQL/Redis
# for the URLs neither the environment nor .env sets, before the settings read them.
environ_ensure()

# tenant-schemas-celery switches schemas in these signal handlers, querying the tenant table for
# every task and falling back to the public schema; the project's task class does it instead.
task_prerun.disconnect(dispatch_uid="tenant_schemas_switch_schema")
task_postrun.disconnect(dispatch_uid="tenant_schemas_restore_schema")

# Every task runs in its sender's tenant or is rejected; see tenancy/celery_tenancy.py.
TASK_CLASS = "{{ cookiecutter.project_slug }}.tenancy.celery_tenancy:TenantScopedTask"
app = CeleryApp("{{ cookiecutter.project_slug }}", task_cls=TASK_CLASS)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic per-tenant work (`celery -A config.celery_app beat`, scheduler CELERY_BEAT_SCHEDULER): an entry
# without `tenant_schemas` runs once in every active tenant with full access; `tenant_schemas: ["public"]` runs
# once, for platform tasks. Here rather than in the settings, which would make every process import Celery.
BEAT_SCHEDULE = {
    "booking-reminders": {"task": "bookings.send_reminders", "schedule": crontab(hour=17, minute=0)},
    "flag-low-stock": {"task": "products.flag_low_stock", "schedule": 60 * 60},
    "spare-pool-refill": {"task": "tenancy.spare_pool_refill", "schedule": 10 * 60, "tenant_schemas": ["public"]},
}
app.conf.beat_schedule = BEAT_SCHEDULE

# The audit origin of tasks (`task:<name>`), in every process that can run one: each imports this module.
from {{ cookiecutter.project_slug }}.audit import celery_origin  # noqa: E402, F401

# Errors of a database connection that a later attempt may not meet: the server restarted, failed
# over or ended the backend (OperationalError), or the connection was already closed (InterfaceError).
# Also deadlocks and lock timeouts (OperationalError too), which a retry of an idempotent task resolves.
DATABASE_CONNECTION_ERRORS = (OperationalError, InterfaceError)

#: Options of every idempotent task: `@app.task(name=..., **IDEMPOTENT)`. Retries wait about 1, 2, 4,
#: ... s (at most RETRY_BACKOFF_MAX, with jitter so a fleet of tenant tasks does not reconnect at once)
#: and give up after 8 retries (an outage of about 1.5 min on average, 3 min at most). Keep every
#: such task's hard time limit below the broker's visibility timeout (base.py), or it is redelivered
#: while it still runs (tests/test_celery_faults.py checks it). The price of requeueing on a lost process:
#: a task that kills its process every time (out of memory) is requeued every time; look for repeated
#: WorkerLostError lines in the worker's log.
RETRY_BACKOFF_MAX = 60
IDEMPOTENT: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": DATABASE_CONNECTION_ERRORS,
    "retry_backoff": 1,
    "retry_backoff_max": RETRY_BACKOFF_MAX,
    "retry_jitter": True,
    "max_retries": 8,
}
