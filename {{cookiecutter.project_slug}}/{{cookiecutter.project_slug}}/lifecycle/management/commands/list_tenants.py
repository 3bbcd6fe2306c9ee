"""list_tenants: the fleet as a table or JSON."""

import io
import json
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser
from django.utils import timezone
from django_tenants.utils import get_public_schema_name
from rich.console import Console
from rich.table import Table

from ....tenancy.addressing import TenantUnaddressable, public_base_url, tenant_base_url
from ....tenancy.management.base import ProjectCommand, add_noinput_argument
from ....tenancy.selectors import tenant_list
from ...provisioning import spare_list


def _plan_code(tenant: Any) -> str | None:
    """The code of `tenant`'s plan (its subscription loaded with select_related), None without a subscription."""
    subscription = getattr(tenant, "subscription", None)  # RelatedObjectDoesNotExist is an AttributeError
    return subscription.plan.code if subscription is not None else None


def _url(tenant: Any) -> str | None:
    """`tenant`'s home URL in the project's routing mode (tenancy.addressing), None when no URL leads to it."""
    if tenant.schema_name == get_public_schema_name():
        return public_base_url() + "/"
    try:
        return tenant_base_url(tenant) + "/"
    except TenantUnaddressable:
        return None


class Command(ProjectCommand):
    help = (
        "List tenants: slug, name, schema, domains, url (the tenant's home in the project's routing mode: "
        "its domain, or /<prefix>/<slug>/ on the public host), status, plan, billing (the subscription's status) "
        "and access (what the subscription allows now: full, read_only or suspended). --format table (default, "
        "for people) or json (a list of objects with keys slug, name, schema, domains, url, status, plan, billing, "
        "access, for scripts; plan is null for a tenant without a subscription, url for one no URL leads to). "
        "--include-public adds the public tenant. --spares lists the spare schemas of the provisioning pool "
        "instead (schema, created, state: current, stale = migrations pending, missing = registered without a "
        "schema; JSON keys schema, created, state). Exit codes: 0, 2 bad usage."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["table", "json"], default="table", help="Output format.")
        parser.add_argument("--include-public", action="store_true", help="Also list the public tenant.")
        parser.add_argument(
            "--spares", action="store_true", help="List the spare schemas of the provisioning pool instead."
        )
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["spares"]:
            self._spares(options["format"])
            return
        now = timezone.now()
        rows = [
            {
                "slug": tenant.slug,
                "name": tenant.name,
                "schema": tenant.schema_name,
                "domains": sorted(d.domain for d in tenant.domains.all()),
                "url": _url(tenant),
                "status": tenant.status,
                "plan": _plan_code(tenant),
                "billing": tenant.billing_status,
                "access": tenant.access(now=now).value,
            }
            for tenant in tenant_list(include_public=options["include_public"]).select_related("subscription__plan")
        ]
        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, indent=2))
            return
        table = Table(title=f"{len(rows)} tenant(s)")
        for column in ("slug", "name", "schema", "domains", "url", "status", "plan", "billing", "access"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row["slug"], row["name"], row["schema"], ", ".join(row["domains"]), row["url"] or "-", row["status"],
                row["plan"] or "-", row["billing"], row["access"],
            )  # fmt: skip
        self._print(table)

    def _print(self, table: Table) -> None:
        buffer = io.StringIO()
        Console(file=buffer, width=160).print(table)
        self.stdout.write(buffer.getvalue().rstrip())

    def _spares(self, output_format: str) -> None:
        rows = [
            {
                "schema": spare.schema_name,
                "created": spare.created.isoformat(),
                "state": "current" if spare.current else ("stale" if spare.exists else "missing"),
            }
            for spare in spare_list()
        ]
        if output_format == "json":
            self.stdout.write(json.dumps(rows, indent=2))
            return
        table = Table(title=f"{len(rows)} spare schema(s), target {settings.TENANCY_SPARE_SCHEMAS}")
        for column in ("schema", "created", "state"):
            table.add_column(column)
        for row in rows:
            table.add_row(row["schema"], row["created"], row["state"])
        self._print(table)
