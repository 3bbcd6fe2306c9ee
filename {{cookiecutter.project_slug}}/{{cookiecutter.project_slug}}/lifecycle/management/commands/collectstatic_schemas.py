"""collectstatic_schemas: django-tenants' command, refused (static files are the same for every tenant)."""

from django_tenants.management.commands.collectstatic_schemas import Command as StockCommand

from ....tenancy.management.stock import StockCommandRefused


class Command(StockCommandRefused, StockCommand):
    help = (
        "Refused, exit code 2, nothing collected. Static files are shared by every tenant (no per-tenant static "
        "storage is configured) and served by WhiteNoise: in development straight from the apps' static folders "
        "(STATIC_ROOT is None, WHITENOISE_USE_FINDERS), in production from STATIC_ROOT, filled once by "
        "`collectstatic --noinput` when the image is built (Dockerfile). The options below are django-tenants' "
        "and change nothing."
    )
    refusal = (
        "collectstatic_schemas is not used in this project (static files are shared by every tenant and served by "
        "WhiteNoise): run `manage.py collectstatic --noinput` with production settings; development needs none"
    )
