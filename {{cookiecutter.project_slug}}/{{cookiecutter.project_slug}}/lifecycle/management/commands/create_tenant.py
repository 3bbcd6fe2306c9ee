"""create_tenant: provision a tenant (schema from the spare pool or by migrations, domain, owner membership)."""

from typing import Any

from django.core.management.base import CommandParser

from ....billing.services import default_plan, plan_get
from ....tenancy.addressing import tenant_base_url
from ....tenancy.management.base import ProjectCommand, add_noinput_argument, can_prompt, usage_error
from ...services import tenant_create, tenant_plan


class Command(ProjectCommand):
    help = (
        "Create a tenant: validates NAME and SLUG, gives it schema tenant_<slug> (a claimed spare schema "
        "that is already migrated, else one built by running every migration), the domain (default "
        "<slug>.<TENANCY_BASE_DOMAIN>) and, with --owner-email, an owner membership; the tenant is active when "
        "the command returns. On any error nothing is created. --dry-run validates and prints what would be "
        "created, changing nothing. Prints the tenant's URL in the project's routing mode (tenancy.addressing). "
        "SLUG: 2-40 characters of lowercase letters, digits and single inner hyphens, starting with a letter, "
        "not reserved (settings.TENANCY_RESERVED_SLUGS, prefix pg_). "
        "--plan CODE subscribes it to that plan (default: the default plan). "
        "Exit codes: 0 created, 1 failure while provisioning, 2 bad or taken value (an unknown plan too)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", help="Display name, 1-100 characters, e.g. 'Initech'.")
        parser.add_argument("--slug", help="Tenant slug, e.g. 'initech'; the schema is tenant_<slug>.")
        parser.add_argument("--domain", help="Host name routed to the tenant; default <slug>.<TENANCY_BASE_DOMAIN>.")
        parser.add_argument(
            "--owner-email", help="Email of the owner; the user is created (no usable password) when new."
        )
        parser.add_argument(
            "--plan", metavar="CODE", help="Plan code, e.g. 'starter' (default: the default plan, free as seeded)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Validate and print what would be created; change nothing."
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
        if options["dry_run"]:
            self._dry_run(name, slug, options)
            return
        tenant = tenant_create(
            name=name,
            slug=slug,
            domain=options["domain"],
            owner_email=options["owner_email"],
            verbosity=max(0, options["verbosity"] - 1),
            plan=options["plan"],
        )
        domain = tenant.get_primary_domain()
        owner = f", owner {options['owner_email'].strip().lower()}" if options["owner_email"] else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Created tenant {tenant.slug!r} ({tenant.name}): schema {tenant.schema_name}, domain {domain}{owner}"
            )
        )
        self.stdout.write(f"URL: {tenant_base_url(tenant)}/")

    def _dry_run(self, name: str, slug: str, options: dict[str, Any]) -> None:
        plan = tenant_plan(name=name, slug=slug, domain=options["domain"], owner_email=options["owner_email"])
        subscribed = plan_get(options["plan"]) if options["plan"] is not None else default_plan()
        request = plan.request
        source = (
            f"claim spare schema {plan.spare} (already migrated) and rename it"
            if plan.spare
            else f"build it by running {plan.migration_count} migrations (no current spare schema in the pool)"
        )
        lines = [
            f"Would create tenant {request.slug!r} ({request.name}):",
            f"  schema  {request.schema_name}: {source}",
            f"  domain  {request.domain} (primary)",
            f"  plan    {subscribed.code} ({subscribed.name})",
        ]
        if request.owner_email:
            kind = "existing user" if plan.owner_exists else "new user, no usable password"
            lines.append(f"  owner   {request.owner_email} ({kind}), role owner")
        lines.append("Dry run: nothing was changed.")
        self.stdout.write("\n".join(lines))
