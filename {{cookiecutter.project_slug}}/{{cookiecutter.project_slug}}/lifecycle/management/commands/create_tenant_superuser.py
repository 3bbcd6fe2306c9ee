"""create_tenant_superuser: django-tenants' command, refused (users live in the public schema)."""

from django_tenants.management.commands.create_tenant_superuser import Command as StockCommand

from ....tenancy.management.stock import StockCommandRefused


class Command(StockCommandRefused, StockCommand):
    help = (
        "Refused, exit code 2, nothing created. Users live in the public schema and belong to tenants through "
        "memberships, so django-tenants' command would create platform staff whatever the schema. Platform staff: "
        "`createsuperuser`. An owner of tenant S (no platform rights): `createsuperuser --tenant S --email E`. A new "
        "tenant with its owner: `create_tenant --name N --slug S --owner-email E`. The options below are "
        "django-tenants' and change nothing."
    )
    refusal = (
        "create_tenant_superuser is not used in this project (users are global, so it would make platform staff): "
        "run `manage.py createsuperuser` for platform staff, `manage.py createsuperuser --tenant S --email E` for "
        "an owner of tenant S, or `manage.py create_tenant --owner-email E` for a new tenant with its owner"
    )
