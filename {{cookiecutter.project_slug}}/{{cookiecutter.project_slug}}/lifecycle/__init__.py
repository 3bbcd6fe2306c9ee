"""Tenant lifecycle: provisioning a tenant, changing its status, backing it up, restoring, dropping it.

Owns provisioning (`services.tenant_create`: validation, the spare-schema pool of `provisioning.py`,
the one-statement database function of migrations 0001 and 0002, the schema script of `schema_script.py` that builds
a schema without running migrations, the owner membership), status changes (active, suspended, archived),
backup and restore (`backup.py`, `archives.py`, `pgtools.py`), dropping a tenant, the doctor that finds and repairs
drift (`doctor.py`), and the commands `create_tenant`, `drop_schema`, `list_tenants`, `tenant_status`,
`backup_tenant`, `restore_tenant`, `tenants_doctor`, `ensure_public_tenant` and `createsuperuser`; a tenant's
further domains (`domains.py`: `create_domain`, `delete_domain`); and the django-tenants commands it refuses
in favour of its own (`delete_tenant`, `clone_tenant`, `rename_schema`, `create_tenant_superuser`,
`create_missing_schemas`, `collectstatic_schemas`; docs/commands.md).
{%- if cookiecutter.use_celery == "y" %}
`tasks.py` holds the platform's Celery tasks (spare-pool refills, provisioning from a worker).
{%- endif %}
Where provisioning is decided: `services.tenant_create`.
May import: `fleet` (to migrate a new schema), `accounts` (owner memberships), `tenancy`, `errors`;
never a tenant app or the public site.
"""
