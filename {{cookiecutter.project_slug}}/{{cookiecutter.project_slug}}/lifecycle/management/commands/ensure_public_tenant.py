"""ensure_public_tenant: the public tenant (schema `public`) and its domain."""

from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from ....tenancy.management.base import ProjectCommand, add_noinput_argument
from ...services import public_tenant_ensure


class Command(ProjectCommand):
    help = (
        "Create the public tenant (schema public: landing page, sign-up, platform admin) when missing and "
        "route DOMAIN to it (default TENANCY_BASE_DOMAIN: `localhost` in development, the production base "
        "domain in production). Idempotent. Exit codes: 0, 2 malformed domain or one that routes elsewhere."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--domain", help="Host name of the public site; default TENANCY_BASE_DOMAIN.")
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        domain = options["domain"] or settings.TENANCY_BASE_DOMAIN
        public_tenant_ensure(domain=domain)
        self.stdout.write(self.style.SUCCESS(f"Public tenant answers on {domain}"))
