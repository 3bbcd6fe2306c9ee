"""drop_schema: delete a tenant with its domains, memberships and schema."""

from typing import Any

from django.core.management.base import CommandParser

from ...selectors import tenant_get_by_slug
from ...services import tenant_drop
from ..base import ProjectCommand, add_noinput_argument, can_prompt, usage_error


class Command(ProjectCommand):
    help = (
        "Delete the tenant with slug S: its domains, memberships, tenant row and schema (DROP SCHEMA ... CASCADE), "
        "in one transaction. Asks the operator to type the slug unless --force; with no terminal and no --force "
        "it refuses. Refuses the public schema and unknown slugs. "
        "Exit codes: 0 dropped, 1 failure while dropping, 2 bad usage, unknown slug, public, or not confirmed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, metavar="S", help="Slug of the tenant to drop.")
        parser.add_argument("--force", action="store_true", help="Do not ask for confirmation.")
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["tenant"]
        if slug in ("public", "") or slug is None:
            raise usage_error(f"tenant {slug!r} is the public schema and cannot be dropped")
        tenant = tenant_get_by_slug(slug=slug)
        if tenant is not None and not options["force"]:
            if not can_prompt(options):
                raise usage_error(
                    f"refusing to drop tenant {slug!r} without confirmation: pass --force, or run on a terminal"
                )
            answer = input(f"This deletes tenant {slug!r} and schema {tenant.schema_name} with all its data. "
                           f"Type the slug to confirm: ")  # fmt: skip
            if answer.strip() != slug:
                raise usage_error(f"confirmation {answer.strip()!r} does not match {slug!r}; nothing was dropped")
        dropped = tenant_drop(slug=slug)
        self.stdout.write(self.style.SUCCESS(f"Dropped tenant {slug!r} and schema {dropped.schema_name}"))
