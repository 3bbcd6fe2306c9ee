"""list_tenants: the fleet as a table or JSON."""

import argparse
import io
import json
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser
from django.utils import timezone
from rich.console import Console
from rich.table import Table

from ....tenancy.addressing import tenant_base_urls
from ....tenancy.management.base import ProjectCommand, add_noinput_argument, usage_error
from ....tenancy.selectors import tenant_list
from ...provisioning import spare_list


def _plan_code(tenant: Any) -> str | None:
    """The code of `tenant`'s plan (its subscription loaded with select_related), None without a subscription."""
    subscription = getattr(tenant, "subscription", None)  # RelatedObjectDoesNotExist is an AttributeError
    return subscription.plan.code if subscription is not None else None


TABLE_LIMIT = 100  # rows of the table format unless --limit says otherwise


def _count(value: str) -> int:
    """argparse type of --limit and --offset: a whole number >= 0."""
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 0")
    return number


def _home(base_url: str | None) -> str | None:
    """The tenant's home page from its base URL (addressing.tenant_base_urls); None when no URL leads to it."""
    return None if base_url is None else base_url + "/"


def _title(shown: int, total: int, offset: int) -> str:
    """The table's title: how many tenants it shows of how many match."""
    if shown == total:
        return f"{total:,} tenant(s)"
    if not shown:
        return f"none of {total:,} tenant(s) after --offset {offset:,}"
    return f"{offset + 1:,}-{offset + shown:,} of {total:,} tenant(s) (--offset, --limit 0 or --search for the others)"


class Command(ProjectCommand):
    help = (
        "List tenants: slug, name, schema, domains, url (the tenant's home in the project's routing mode: "
        "its domain, or /<prefix>/<slug>/ on the public host), status, plan, billing (the subscription's status) "
        "and access (what the subscription allows now: full, read_only or suspended). --format table (default, "
        "for people) or json (a list of objects with keys slug, name, schema, domains, url, status, plan, billing, "
        "access, for scripts; plan is null for a tenant without a subscription, url for one no URL leads to). "
        "--include-public adds the public tenant. --search TEXT keeps the tenants whose slug, name, schema or one of "
        "whose domains contains TEXT (case-insensitive, spaces around TEXT ignored). Tenants are ordered by slug; "
        "--offset N skips the first N, "
        f"--limit N prints at most N (0: all; default {TABLE_LIMIT} for the table, all for json); the table's title "
        "says how many of how many matching tenants it shows. --spares lists the spare schemas of the provisioning "
        "pool instead (schema, created, state: current, stale = migrations pending, missing = registered without a "
        "schema; JSON keys schema, created, state). Exit codes: 0, 2 bad usage."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["table", "json"], default="table", help="Output format.")
        parser.add_argument("--include-public", action="store_true", help="Also list the public tenant.")
        parser.add_argument(
            "--search", metavar="TEXT", help="Only tenants whose slug, name, schema or a domain contains TEXT."
        )
        parser.add_argument(
            "--limit", type=_count, metavar="N",
            help=f"At most N tenants, 0 for all (default {TABLE_LIMIT} for the table, all for json).",
        )  # fmt: skip
        parser.add_argument("--offset", type=_count, default=0, metavar="N", help="Skip the first N tenants.")
        parser.add_argument(
            "--spares", action="store_true", help="List the spare schemas of the provisioning pool instead."
        )
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["spares"]:
            if options["search"] is not None or options["limit"] is not None or options["offset"]:
                raise usage_error("--search, --limit and --offset select tenants; --spares lists every spare schema")
            self._spares(options["format"])
            return
        search = options["search"].strip() if options["search"] is not None else None  # as pasted: " acme "
        if search == "":
            raise usage_error("--search needs some text to look for, e.g. --search acme")
        tenants = tenant_list(include_public=options["include_public"], search=search)
        total = tenants.count()
        limit = options["limit"]
        if limit is None:
            limit = TABLE_LIMIT if options["format"] == "table" else 0
        offset = options["offset"]
        page = list(tenants.select_related("subscription__plan")[offset : offset + limit if limit else None])
        urls = tenant_base_urls(page)
        now = timezone.now()
        rows = [
            {
                "slug": tenant.slug,
                "name": tenant.name,
                "schema": tenant.schema_name,
                "domains": sorted(d.domain for d in tenant.domains.all()),
                "url": _home(urls[tenant.pk]),
                "status": tenant.status,
                "plan": _plan_code(tenant),
                "billing": tenant.billing_status,
                "access": tenant.access(now=now).value,
            }
            for tenant in page
        ]
        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, indent=2))
            return
        table = Table(title=_title(len(rows), total, offset))
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
