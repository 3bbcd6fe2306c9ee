"""Audit log (public schema): who did what destructive or privileged thing, when, and from where.

Owns the AuditEvent model (append-only rows, readable in the platform admin, never editable there), the one
writer `services.audit_record`, which the services of other packages call inside their own transaction so an
event exists exactly when its change committed, and the origin of the work in progress (`context.py`: the
client IP of a web request, `cli:<command>` and the OS user of a management command).
{%- if cookiecutter.use_celery == "y" %}
`celery_origin.py` makes `task:<name>` the origin of a Celery task (connected by config/celery_app.py, so processes
without Celery never import it).
{%- endif %}
`admin.AuditedModelAdmin` records what the platform admin adds, changes and deletes.
Events name their tenant by schema name and id, not by a foreign key: they outlive the tenant's row.
May import: Django, django-allauth (the client IP) and `errors` only; `tenancy`, `accounts`, `lifecycle`,
`adoption` and `platform` import it, so it imports none of them.
"""
