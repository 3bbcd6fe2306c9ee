"""seed_demo: the acme and globex demo tenants, with their data and owner logins."""

from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from ....tenancy.management.base import ProjectCommand, add_noinput_argument
from ...seed import demo_seed


class Command(ProjectCommand):
    help = (
        "Create the demo tenants acme and globex (domains acme.<base> and globex.<base>, base = "
        "TENANCY_BASE_DOMAIN, `localhost` in development) with distinct products, customers and bookings and "
        "one owner login each, then print the URLs and logins. Idempotent: run it again and nothing is duplicated. "
        "A new demo tenant gets its own plan (acme: pro, globex: the default plan), active without a trial; "
        "--plan CODE puts both on plan CODE, existing ones too. "
        "Exit codes: 0, 1 failure, 2 unknown plan or data that does not fit the plan."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="Port printed in the URLs (default 8000).")
        parser.add_argument(
            "--plan", metavar="CODE", help="Plan code for both demo tenants, e.g. 'starter' (default: each one's own)."
        )
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"]
        suffix = f":{port}" if port not in (80, 443) else ""
        self.stdout.write(f"Public site:  http://{settings.TENANCY_BASE_DOMAIN}{suffix}/")
        self.stdout.write(f"Sign up:      http://{settings.TENANCY_BASE_DOMAIN}{suffix}/signup/")
        self.stdout.write(f"Log in:       http://{settings.TENANCY_BASE_DOMAIN}{suffix}/accounts/login/")
        for tenant, demo in demo_seed(domain_suffix=settings.TENANCY_BASE_DOMAIN, plan=options["plan"]):
            self.stdout.write(
                f"Tenant {tenant.slug:<7} http://{tenant.get_primary_domain()}{suffix}/  "
                f"login: {demo.owner_email} / {demo.owner_password}"
            )
