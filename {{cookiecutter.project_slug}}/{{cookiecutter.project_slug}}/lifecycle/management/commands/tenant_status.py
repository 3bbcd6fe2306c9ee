"""tenant_status: show or change a tenant's lifecycle status."""

from typing import Any

from django.core.management.base import CommandParser

from ....tenancy.management.base import ProjectCommand, add_noinput_argument, usage_error
from ....tenancy.selectors import tenant_get_by_slug
from ...services import STATUS_TRANSITIONS, tenant_status_set


class Command(ProjectCommand):
    help = (
        "Show the status of tenant S, or change it with --set. Statuses: provisioning (being created; its host "
        "answers 'setting up', 503), active (serves the apps), suspended (403 page, data kept), archived "
        "(404, data kept). --set accepts active, suspended, archived: active -> suspended|archived, "
        "suspended -> active|archived, archived -> active; a provisioning tenant is completed by "
        "`tenants_doctor --fix`, not here. Setting the current status again changes nothing. "
        "Exit codes: 0 done, 1 failure, 2 unknown slug, public tenant, bad status or transition."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, metavar="S", help="Slug of the tenant, e.g. 'acme'.")
        parser.add_argument(
            "--set",
            dest="status",
            metavar="STATUS",
            help=f"New status: one of {', '.join(sorted(STATUS_TRANSITIONS))}.",
        )
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        slug, status = options["tenant"], options["status"]
        if status is None:
            tenant = tenant_get_by_slug(slug=slug)
            if tenant is None:
                raise usage_error(f"no tenant with slug {slug!r}; see `manage.py list_tenants`")
            self.stdout.write(f"{tenant.slug}: {tenant.status}")
            return
        tenant, previous = tenant_status_set(slug=slug, status=status)
        if previous == tenant.status:
            self.stdout.write(f"{tenant.slug}: already {tenant.status}; nothing changed")
        else:
            self.stdout.write(self.style.SUCCESS(f"{tenant.slug}: {previous} -> {tenant.status}"))
