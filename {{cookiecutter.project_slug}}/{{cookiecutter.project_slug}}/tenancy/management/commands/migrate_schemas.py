"""migrate_schemas: django-tenants' command, plus `--tenant=<slug>` and `--list`."""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from typing import Any

from django.core.management.base import CommandParser
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
from django_tenants.utils import get_public_schema_name
from rich.console import Console
from rich.table import Table

from ...models import Tenant
from ..base import usage_error

TENANT_HELP = (
    "Bare --tenant: migrate tenant apps in every tenant schema (django-tenants' meaning; "
    "`--tenant products 0002` is all tenants, app products, migration 0002). "
    "--tenant=<slug>, written with '=': only the tenant with that slug."
)


def rewrite_tenant_slug(args: Sequence[str]) -> list[str]:
    """Turn `--tenant=<slug>` into the internal `--tenant-slug=<slug>`; bare `--tenant` is left alone."""
    return [f"--tenant-slug={arg.partition('=')[2]}" if arg.startswith("--tenant=") else arg for arg in args]


class Command(MigrateSchemasCommand):
    help = (
        "Migrate the public schema (shared apps) and tenant schemas (tenant apps). Accepts everything "
        "django-tenants' migrate_schemas accepts (--shared, --tenant, --schema, --executor, --fake, app_label "
        "migration_name, --plan, --check, ...). Additions: --tenant=<slug> migrates one tenant by slug; --list "
        "prints, per schema, how many migrations are applied and which are pending, and migrates nothing. "
        "Exit codes: 0 success, 1 a migration failed, 2 bad usage or unknown slug."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parse_known_args = parser.parse_known_args

        # argparse cannot tell `--tenant=acme` from `--tenant acme`; the second must keep its stock meaning.
        def parse_with_slug(args: Sequence[str] | None = None, namespace: Any = None) -> Any:
            return parse_known_args(rewrite_tenant_slug(sys.argv[1:] if args is None else args), namespace)

        parser.parse_known_args = parse_with_slug  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        for action in parser._actions:
            if "--tenant" in action.option_strings:
                action.help = TENANT_HELP
        parser.add_argument("--tenant-slug", dest="tenant_slug", help=argparse.SUPPRESS)
        # Django's spelling next to django-tenants' --noinput.
        parser.add_argument("--no-input", action="store_false", dest="interactive", help=argparse.SUPPRESS)
        parser.add_argument(
            "--list", action="store_true", dest="list_migrations",
            help="Per schema: applied count and pending migrations. Migrates nothing.",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options.pop("tenant_slug", None)
        if isinstance(options.get("tenant"), str):  # call_command("migrate_schemas", tenant="acme")
            slug = options["tenant"]
        if slug is not None:
            if options.get("schema_name") or options.get("shared"):
                raise usage_error("--tenant=<slug> cannot be combined with --schema or --shared")
            tenant = Tenant.objects.filter(slug=slug).exclude(schema_name=get_public_schema_name()).first()
            if tenant is None:
                others = Tenant.objects.exclude(schema_name=get_public_schema_name())
                known = ", ".join(others.values_list("slug", flat=True))
                raise usage_error(f"no tenant with slug {slug!r}; existing slugs: {known or '(none)'}")
            options["tenant"], options["schema_name"] = True, tenant.schema_name
        if options.pop("list_migrations", False):
            self.stdout.write(self.migration_list(options))
            return
        super().handle(*args, **options)

    def migration_list(self, options: dict[str, Any]) -> str:
        """Render, per selected schema, the applied count and the pending migrations (app.name)."""
        public = get_public_schema_name()
        schema_name, shared, tenant_only = options.get("schema_name"), options.get("shared"), options.get("tenant")
        tenants = {t.schema_name: t.slug for t in Tenant.objects.all()}
        if schema_name:
            schemas = [schema_name]
        else:
            schemas = ([public] if shared or not tenant_only else []) + (
                [s for s in sorted(tenants) if s != public] if tenant_only or not shared else []
            )
        loader = MigrationLoader(None, ignore_no_migrations=True)
        plan: list[tuple[str, str]] = []
        for target in sorted(loader.graph.leaf_nodes()):
            plan.extend(node for node in loader.graph.forwards_plan(target) if node not in plan)
        table = Table(title="Migrations per schema")
        for column in ("schema", "tenant", "applied", "pending"):
            table.add_column(column)
        for schema in schemas:
            applied = self.applied_in(schema)
            pending = [f"{app}.{name}" for app, name in plan if (app, name) not in applied]
            table.add_row(schema, tenants.get(schema, "-"), str(len(applied)), "\n".join(pending) or "none")
        buffer = io.StringIO()
        Console(file=buffer, width=160).print(table)
        return buffer.getvalue().rstrip()

    @staticmethod
    def applied_in(schema: str) -> set[tuple[str, str]]:
        """Return the (app, name) pairs recorded in `schema`.django_migrations (empty when the table is missing)."""
        quoted = connection.ops.quote_name(schema)
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", [f"{quoted}.django_migrations"])
            if cursor.fetchone()[0] is None:
                return set()
            cursor.execute(f"SELECT app, name FROM {quoted}.django_migrations")  # noqa: S608 - quoted identifier
            return {(app, name) for app, name in cursor.fetchall()}
