"""delete_tenant: django-tenants' command, refused in favour of drop_schema (which backs up first)."""

from django_tenants.management.commands.delete_tenant import Command as StockCommand

from ....tenancy.management.stock import StockCommandRefused


class Command(StockCommandRefused, StockCommand):
    help = (
        "Refused, exit code 2, nothing deleted. django-tenants' command drops the schema with no backup and prompts "
        "even without a terminal. Use `drop_schema --tenant S`: it writes a backup of the schema first, then "
        "deletes the tenant, its domains, memberships and schema in one transaction. The options below are "
        "django-tenants' and change nothing."
    )
    refusal = (
        "delete_tenant is not used in this project (it keeps no backup): run `manage.py drop_schema --tenant S`, "
        "which backs the schema up first"
    )
