"""create_domain: route one more host name to an existing tenant, validated like create_tenant's domain."""

from typing import Any

from django.core.management.base import CommandParser

from ....tenancy.management.base import ProjectCommand, add_noinput_argument, usage_error
from ....tenancy.management.stock import add_tenant_arguments, tenant_from_options
from ...domains import domain_add

TRUE_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


class Command(ProjectCommand):
    help = (
        "Route host name D (--domain D) to an existing tenant, named by --tenant S (slug; `public` for the public "
        "site) or by django-tenants' --schema NAME. D is checked like create_tenant's --domain: normalised to "
        "lowercase (internationalised names to punycode), a valid hostname that imitates no other, not a reserved "
        "name under TENANCY_BASE_DOMAIN (admin.<base>, www.<base>, ...), and not routed to any tenant yet. "
        "--primary makes it the tenant's primary domain (its links use it; the previous one stays as an alias); "
        "otherwise it is an alias. Every process routes D to the tenant from its next request. Never prompts. "
        "django-tenants' spellings --domain-domain D and --domain-is_primary true|false are accepted. "
        "Exit codes: 0 added, 2 unknown tenant, malformed, reserved or taken domain."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_tenant_arguments(parser, required_help=" that D will route to (or --schema)")
        parser.add_argument(
            "-d", "--domain", "--domain-domain", dest="domain", metavar="D",
            help="Host name to add, e.g. shop.acme.example.",
        )  # fmt: skip
        parser.add_argument("--primary", action="store_true", help="Make D the tenant's primary domain.")
        parser.add_argument(
            "--domain-is_primary", dest="domain_is_primary", metavar="true|false",
            help="django-tenants' spelling of --primary.",
        )  # fmt: skip
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_from_options(slug=options["tenant"], schema_name=options["schema_name"])
        assert tenant is not None  # required=True
        if not options["domain"]:
            raise usage_error("--domain D is required, e.g. --domain shop.acme.example")
        primary = options["primary"]
        if options["domain_is_primary"] is not None:
            word = options["domain_is_primary"].strip().lower()
            if word not in TRUE_WORDS:
                raise usage_error(
                    f"--domain-is_primary {options['domain_is_primary']!r} is not accepted; accepted: true, false"
                )
            primary = primary or TRUE_WORDS[word]
        created = domain_add(slug=tenant.slug, domain=options["domain"], is_primary=primary)
        kind = "primary domain" if created.is_primary else "alias"
        self.stdout.write(self.style.SUCCESS(f"{created.domain} routes to tenant {tenant.slug!r} ({kind})"))
