"""create_missing_schemas: django-tenants' command, refused in favour of tenants_doctor."""

from django_tenants.management.commands.create_missing_schemas import Command as StockCommand

from ....tenancy.management.stock import StockCommandRefused


class Command(StockCommandRefused, StockCommand):
    help = (
        "Refused, exit code 2, nothing created. An empty new schema under a tenant whose schema is gone would hide "
        "that its data is lost. `tenants_doctor` reports such tenants (tenant_without_schema: restore a backup with "
        "`restore_tenant`, or drop the tenant with `drop_schema`) and `tenants_doctor --fix` completes tenants "
        "left in provisioning."
    )
    refusal = (
        "create_missing_schemas is not used in this project: run `manage.py tenants_doctor` to find tenants without "
        "a schema (and `tenants_doctor --fix` to complete ones left provisioning)"
    )
