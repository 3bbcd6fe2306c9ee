"""Tenancy core: what every request and task touches to know its tenant.

Owns the Tenant and Domain models (public schema) with their statuses and the spare-schema and
routing-version rows; the tenancy rules in plain Python (slugs, schema and domain names: `domain.py`);
the host -> tenant routing directory and its middleware (`routing.py`, `middleware.py`);
{%- if cookiecutter.use_celery == "y" %}
the Celery task edge that runs a task in its tenant, and the fan-out of a task to every tenant in batches
(`celery_tenancy.py`, its batch tasks in `tasks.py`);
{%- endif %}
per-tenant media storage; tenant-tagged logs; fleet reads (`selectors.py`); the shared base of the
project's management commands and of its answers to django-tenants' commands (`management/stock.py`), the
`shell` and `tenant_command` commands; the system checks.
Where tenant routing is decided: `middleware.TenantRoutingMiddleware` asks `routing.TenantDirectory`
(host -> active tenant, refreshed when the database's routing version moves).
{%- if cookiecutter.use_celery == "y" %}
Where a task's tenant is decided: `celery_tenancy.TenantScopedTask`.
{%- endif %}
May import: Django, django-tenants, `errors` and `audit.context` (the command base sets the audit origin)
only{% if cookiecutter.use_celery == "y" %}, besides Celery and the app the batch tasks register with (`config.celery_app`){% endif %};
every other package builds on this one, so nothing here imports them.
"""
