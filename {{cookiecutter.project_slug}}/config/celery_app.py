"""Celery application on tenant-schemas-celery, with the project's tenant rules.

A task sent from inside a tenant (a request on a tenant host, a command run with
`--tenant`, `tenant_context`) carries that tenant's schema in its headers, and the
worker runs it in that schema, or rejects it when there is no such active tenant
(tenancy/celery_tenancy.py: tasks never fall back to the public schema). Tasks
about the platform itself use `base=PlatformTask` and run in the public schema.

Start a worker with `celery -A config.celery_app worker` and the scheduler of
periodic per-tenant tasks with `celery -A config.celery_app beat` (`make dev`
starts both).
"""

import os

from celery.signals import task_postrun, task_prerun
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# tenant-schemas-celery switches schemas in these signal handlers, querying the tenant table for
# every task and falling back to the public schema; the project's task class does it instead.
task_prerun.disconnect(dispatch_uid="tenant_schemas_switch_schema")
task_postrun.disconnect(dispatch_uid="tenant_schemas_restore_schema")

# Every task runs in its sender's tenant or is rejected; see tenancy/celery_tenancy.py.
TASK_CLASS = "{{ cookiecutter.project_slug }}.tenancy.celery_tenancy:TenantScopedTask"
app = CeleryApp("{{ cookiecutter.project_slug }}", task_cls=TASK_CLASS)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
