"""clone_tenant: django-tenants' command, refused (its copy skips validation and the owner membership)."""

from django_tenants.management.commands.clone_tenant import Command as StockCommand

from ....tenancy.management.stock import StockCommandRefused


class Command(StockCommandRefused, StockCommand):
    help = (
        "Refused, exit code 2, nothing created. django-tenants' clone takes any schema name and domain unvalidated "
        "and gives the copy no owner. A new empty tenant: `create_tenant --name N --slug S --owner-email E`. A copy "
        "of tenant S's data as tenant NEW: `backup_tenant --tenant S`, then `restore_tenant --input PATH --slug NEW "
        "--owner-email E`. The options below are django-tenants' and change nothing."
    )
    refusal = (
        "clone_tenant is not used in this project: run `manage.py create_tenant --slug S --owner-email E` for a new "
        "tenant, or `backup_tenant --tenant S` then `restore_tenant --input PATH --slug NEW` for a copy of one"
    )
