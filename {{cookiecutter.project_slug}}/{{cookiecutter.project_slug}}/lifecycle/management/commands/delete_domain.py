"""delete_domain: stop routing one host name of a tenant (never its primary domain)."""

from typing import Any

from django.core.management.base import CommandParser

from ....tenancy.management.base import ProjectCommand, can_prompt, usage_error
from ....tenancy.management.stock import add_tenant_arguments, tenant_from_options
from ...domains import domain_remove


class Command(ProjectCommand):
    help = (
        "Stop routing host name D (--domain D) to its tenant; with --tenant S (slug) or django-tenants' --schema NAME "
        "it must be that tenant's. The primary domain is refused: make another one primary first "
        "(create_domain --primary), or remove the whole tenant with drop_schema. Asks for a yes on a terminal; "
        "--noinput removes without asking; with no terminal and no --noinput it refuses. From its next request "
        "every process answers 404 on D. django-tenants' spelling --domain-domain D is accepted. "
        "Exit codes: 0 removed, 2 unknown domain or tenant, domain of another tenant, primary, or not confirmed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_tenant_arguments(parser, required_help=" D must belong to (optional)")
        parser.add_argument(
            "-d", "--domain", "--domain-domain", dest="domain", metavar="D", help="Host name to remove.",
        )  # fmt: skip
        parser.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive",
            help="Remove without asking (django-tenants' meaning); needed when there is no terminal.",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_from_options(slug=options["tenant"], schema_name=options["schema_name"], required=False)
        domain = options["domain"]
        if not domain:
            raise usage_error("--domain D is required; `manage.py list_tenants --include-public` lists the domains")
        if options["interactive"]:
            if not can_prompt(options):
                raise usage_error(f"refusing to remove domain {domain!r} without confirmation: pass --noinput, "
                                  "or run on a terminal")  # fmt: skip
            answer = input(f"Requests for {domain} will get 404. Remove it? [yes/no] ")
            if answer.strip().lower() != "yes":
                raise usage_error(f"answer {answer.strip()!r} is not yes; domain {domain!r} was not removed")
        removed = domain_remove(domain=domain, slug=tenant.slug if tenant is not None else None)
        self.stdout.write(self.style.SUCCESS(f"{removed.domain} no longer routes to tenant {removed.tenant.slug!r}"))
