"""rename_schema: django-tenants' command, refused (a tenant's schema is always tenant_<slug>)."""

from django_tenants.management.commands.rename_schema import Command as StockCommand

from ....tenancy.management.stock import StockCommandRefused


class Command(StockCommandRefused, StockCommand):
    help = (
        "Refused, exit code 2, nothing renamed. Every tenant's schema is tenant_<slug> (backups, restores, "
        "tenants_doctor and the spare pool rely on it), so a schema is never renamed on its own. To move tenant S "
        "to slug NEW: `backup_tenant --tenant S`, `restore_tenant --input PATH --slug NEW`, then "
        "`drop_schema --tenant S`. The options below are django-tenants' and change nothing."
    )
    refusal = (
        "rename_schema is not used in this project (a schema is always tenant_<slug>): to move a tenant to a new "
        "slug run `manage.py backup_tenant --tenant S`, `restore_tenant --input PATH --slug NEW`, then "
        "`drop_schema --tenant S`"
    )
