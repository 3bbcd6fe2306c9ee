"""create_tenant: provision a tenant (schema, migrations, domain, owner membership)."""

from typing import Any

from django.core.management.base import CommandParser

from ...services import tenant_create
from ..base import ProjectCommand, add_noinput_argument, can_prompt, usage_error


class Command(ProjectCommand):
    help = (
        "Create a tenant: validates NAME and SLUG, creates schema tenant_<slug> with all tenant migrations, "
        "the domain (default <slug>.<TENANCY_BASE_DOMAIN>) and, with --owner-email, an owner membership. "
        "Everything happens in one transaction: on any error nothing is created. "
        "SLUG: 2-40 characters of lowercase letters, digits and single inner hyphens, starting with a letter, "
        "not reserved (settings.TENANCY_RESERVED_SLUGS, prefix pg_). "
        "Exit codes: 0 created, 1 failure while provisioning, 2 bad or taken value."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", help="Display name, 1-100 characters, e.g. 'Initech'.")
        parser.add_argument("--slug", help="Tenant slug, e.g. 'initech'; the schema is tenant_<slug>.")
        parser.add_argument("--domain", help="Host name routed to the tenant; default <slug>.<TENANCY_BASE_DOMAIN>.")
        parser.add_argument(
            "--owner-email", help="Email of the owner; the user is created (no usable password) when new."
        )
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        name, slug = options["name"], options["slug"]
        if name is None or slug is None:
            if not can_prompt(options):
                missing = " and ".join(flag for flag, value in (("--name", name), ("--slug", slug)) if value is None)
                raise usage_error(f"{missing} is required (no terminal to ask on, or --noinput given)")
            name = name if name is not None else input("Tenant name: ")
            slug = slug if slug is not None else input("Tenant slug: ")
        tenant = tenant_create(
            name=name,
            slug=slug,
            domain=options["domain"],
            owner_email=options["owner_email"],
            verbosity=max(0, options["verbosity"] - 1),
        )
        domain = tenant.get_primary_domain()
        owner = f", owner {options['owner_email'].strip().lower()}" if options["owner_email"] else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Created tenant {tenant.slug!r} ({tenant.name}): schema {tenant.schema_name}, domain {domain}{owner}"
            )
        )
