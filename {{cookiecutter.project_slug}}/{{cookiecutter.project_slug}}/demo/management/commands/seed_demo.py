"""seed_demo: the acme and globex demo tenants, with their data and owner logins."""

from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from ....tenancy.addressing import public_base_url, tenant_base_url
from ....tenancy.management.base import ProjectCommand, add_noinput_argument
from ...seed import DEMO_MEMBER_EMAIL, DEMO_MEMBER_PASSWORD, demo_seed


class Command(ProjectCommand):
    help = (
        "Create the demo tenants acme and globex (domains acme.<base> and globex.<base>, base = "
        "TENANCY_BASE_DOMAIN, `localhost` in development) with distinct products, customers and bookings and "
        "one owner login each, plus one login that is a member of both, then print the URLs (each tenant's in "
        "the project's routing mode: its domain, or /<prefix>/<slug>/ on the public host) and logins. "
        "Idempotent: run it again and nothing is duplicated. "
        "A new demo tenant gets its own plan (acme: pro, globex: the default plan), active without a trial; "
        "--plan CODE puts both on plan CODE, existing ones too. "
        "Exit codes: 0, 1 failure, 2 unknown plan or data that does not fit the plan."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port", type=int, default=None, help="Port printed in the URLs (default: settings.TENANCY_PUBLIC_PORT)."
        )
        parser.add_argument(
            "--plan", metavar="CODE", help="Plan code for both demo tenants, e.g. 'starter' (default: each one's own)."
        )
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"]
        seeded = demo_seed(domain_suffix=settings.TENANCY_BASE_DOMAIN, plan=options["plan"])
        public = public_base_url(port=port)
        self.stdout.write(f"Public site:  {public}/")
        self.stdout.write(f"Sign up:      {public}/signup/")
        self.stdout.write(f"Log in:       {public}/accounts/login/")
        for tenant, demo in seeded:
            self.stdout.write(
                f"Tenant {tenant.slug:<7} {tenant_base_url(tenant, port=port)}/  "
                f"login: {demo.owner_email} / {demo.owner_password}"
            )
        self.stdout.write(f"Member of both: {DEMO_MEMBER_EMAIL} / {DEMO_MEMBER_PASSWORD}")
