"""django-tenants' stock commands in this project: refusing the ones that would bypass the project's rules, and
selecting a tenant the way they do (`--schema NAME`) or the project's way (`--tenant S`).

`manage.py help` lists every stock command of django-tenants; the project's apps come before django_tenants in
INSTALLED_APPS, so a module of the same name here wins. A stock command whose project version would be a
different command (delete_tenant is drop_schema) becomes a `StockCommandRefused`: one line naming the project's
command, exit code 2, nothing read or written.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_exists

from ..models import Tenant
from .base import EXIT_USAGE, usage_error

HELP_FLAGS = frozenset({"-h", "--help"})


class StockCommandRefused(BaseCommand):
    """A stock django-tenants command that always refuses with `refusal`, one line naming the project's way.

    Put it first among the bases, before the stock command class: its parser stays (so scripts passing the stock
    options, on the command line or through call_command, get the refusal instead of a parse error) but nothing
    of the stock command runs. Exit code 2; no database access, no prompt, whatever the arguments.
    """

    refusal = ""

    def run_from_argv(self, argv: list[str]) -> None:
        if HELP_FLAGS.intersection(argv[2:]):
            super().run_from_argv(argv)
            return
        self.stderr.write(f"CommandError: {self.refusal}")
        sys.exit(EXIT_USAGE)

    def execute(self, *args: Any, **options: Any) -> str | None:
        raise usage_error(self.refusal)


def add_tenant_arguments(parser: CommandParser, *, required_help: str = "") -> None:
    """Add `--tenant S` (slug, the project's option) and `-s/--schema/--schema_name NAME` (django-tenants')."""
    parser.add_argument("--tenant", metavar="S", help=f"Slug of the tenant{required_help}.")
    parser.add_argument(
        "-s", "--schema", "--schema_name", dest="schema_name", metavar="NAME",
        help="The tenant's schema name instead of its slug (django-tenants' option), e.g. tenant_acme or public.",
    )  # fmt: skip


def tenant_from_options(*, slug: str | None, schema_name: str | None, required: bool = True) -> Tenant | None:
    """Return the tenant named by `slug` or by `schema_name` (one of the two), or None when neither is given and
    not `required`. Raises CommandError (exit 2) when both or (if required) neither are given, or when no tenant
    has that slug or schema name.
    """
    if slug is not None and schema_name is not None:
        raise usage_error("--tenant and --schema exclude each other; give the slug (--tenant S) or the schema name")
    if slug is None and schema_name is None:
        if required:
            raise usage_error("name the tenant: --tenant S (its slug) or --schema NAME; see `manage.py list_tenants`")
        return None
    if slug is not None:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise usage_error(f"no tenant with slug {slug!r}; see `manage.py list_tenants --include-public`")
        return tenant
    tenant = Tenant.objects.filter(schema_name=schema_name).first()
    if tenant is None:
        raise usage_error(f"no tenant with schema {schema_name!r}; see `manage.py list_tenants --include-public`")
    return tenant


def tenant_schema_required(tenant: Tenant) -> None:
    """Raise CommandError (exit 2) when `tenant`'s schema does not exist (a tenant still provisioning, or one
    whose schema was dropped by hand)."""
    if not schema_exists(tenant.schema_name):
        raise CommandError(
            f"tenant {tenant.slug!r} ({tenant.status}) has no schema {tenant.schema_name!r}; "
            "see `manage.py tenants_doctor`",
            returncode=EXIT_USAGE,
        )
