"""Celery application on tenant-schemas-celery.

A task sent from inside a tenant (a request on a tenant host, a command run with
`--tenant`) carries that tenant's schema in its headers, and the worker runs it
in that schema. Start a worker with `celery -A config.celery_app worker`.
"""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = CeleryApp("{{ cookiecutter.project_slug }}")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
