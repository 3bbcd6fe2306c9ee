"""shell: Django's shell, optionally inside one tenant's schema (`--tenant S`)."""

import sys
from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands.shell import Command as DjangoShellCommand
from django.db import connection
from django_tenants.utils import get_public_schema_name

from ...models import Tenant
from ..base import usage_error


class Command(DjangoShellCommand):
    help = (
        "Django's interactive shell. With --tenant S the connection uses tenant S's schema "
        "(then the public schema), so tenant models query that tenant's data. "
        "Exit code 2 for an unknown slug."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--tenant", metavar="S", help="Slug of the tenant whose schema the shell uses.")

    def handle(self, **options: Any) -> None:
        slug = options.pop("tenant", None)
        if slug is not None:
            tenant = Tenant.objects.filter(slug=slug).exclude(schema_name=get_public_schema_name()).first()
            if tenant is None:
                raise usage_error(f"no tenant with slug {slug!r}; see `manage.py list_tenants`")
            connection.set_tenant(tenant)  # type: ignore[attr-defined]  # django-tenants' backend
            print(f"Shell inside tenant {tenant.slug!r} (schema {tenant.schema_name})", file=sys.stderr)
        super().handle(**options)
