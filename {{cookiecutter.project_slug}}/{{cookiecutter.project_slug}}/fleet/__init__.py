"""Fleet operations: migrating every schema of the fleet, and proving the result.

Owns the migration planner (`plan.py`: one migration plan for the whole fleet from each schema's
`django_migrations`), the executor (`executor.py`: groups of schemas with equal plans, SQL shared only
when proven identical), the catalog comparison against stock django-tenants (`verification.py`), the
progress output and `--report` file (`report.py`), and the `migrate_schemas` / `migrate` commands that
wrap django-tenants' own.
{%- if cookiecutter.use_celery == "y" %}
`tasks.py` holds the Celery batch task of `--executor=celery`.
{%- endif %}
Where tenant migrations are decided: `plan.plan_fleet` and `executor.fleet_migrate`.
May import: `tenancy` and `errors`. It knows no tenant lifecycle: after a full run it sends
`fleet.signals.fleet_migrated`, which the lifecycle package answers (topping up the spare pool).
"""
