"""drop_schema: back up a tenant's schema, then delete the tenant with its domains, memberships and schema."""

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django_tenants.utils import get_public_schema_name

from ....tenancy.domain import validate_slug
from ....tenancy.management.base import EXIT_FAILURE, ProjectCommand, add_noinput_argument, can_prompt, usage_error
from ....tenancy.selectors import tenant_get_by_slug
from ...backup import BackupError, tenant_backup_and_drop
from ...services import tenant_drop


class Command(ProjectCommand):
    help = (
        "Delete the tenant with slug S: its domains, memberships, tenant row and schema (DROP SCHEMA ... CASCADE), "
        "in one transaction. First writes a backup of the schema (pg_dump, custom format) to "
        "<TENANCY_BACKUP_DIR>/<slug>-<UTC time>.dump (or --backup-output PATH) with its checksum file "
        "<file>.sha256 beside it, and prints its path; drops only "
        "after the backup succeeded, and writers to the tenant's tables wait from the start of the backup until "
        "the drop, so nothing written in between is lost. --no-backup skips the backup. restore_tenant brings "
        "a backup back as a new tenant. Asks the operator to type the slug unless --force; with no terminal and "
        "no --force it refuses. Refuses the public schema, malformed and unknown slugs. "
        "Exit codes: 0 dropped, 1 backup failed (nothing dropped) or failure while dropping, 2 bad usage, "
        "malformed or unknown slug, public, or not confirmed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, metavar="S", help="Slug of the tenant to drop.")
        parser.add_argument("--force", action="store_true", help="Do not ask for confirmation.")
        parser.add_argument("--no-backup", action="store_true", help="Drop without writing a backup first.")
        parser.add_argument(
            "--backup-output", metavar="PATH", help="Write the backup to this file (or existing folder) instead."
        )
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["tenant"]
        if slug in ("public", get_public_schema_name()):
            raise usage_error(f"tenant {slug!r} is the public schema and cannot be dropped")
        # The slug rule without the reserved lists (a tenant may predate an addition to them): a value that
        # cannot be a slug is refused naming it before anything is looked up.
        validate_slug(slug)
        if options["no_backup"] and options["backup_output"]:
            raise usage_error("--backup-output and --no-backup exclude each other")
        tenant = tenant_get_by_slug(slug=slug)
        if tenant is not None and not options["force"]:
            if not can_prompt(options):
                raise usage_error(
                    f"refusing to drop tenant {slug!r} without confirmation: pass --force, or run on a terminal"
                )
            backup = "" if options["no_backup"] else " (a backup is written first)"
            answer = input(f"This deletes tenant {slug!r} and schema {tenant.schema_name} with all its data{backup}. "
                           f"Type the slug to confirm: ")  # fmt: skip
            if answer.strip() != slug:
                raise usage_error(f"confirmation {answer.strip()!r} does not match {slug!r}; nothing was dropped")
        if options["no_backup"]:
            dropped = tenant_drop(slug=slug)
        else:
            try:
                dropped, path = tenant_backup_and_drop(slug=slug, output=options["backup_output"])
            except BackupError as exc:
                raise CommandError(f"{exc}; nothing was dropped", returncode=EXIT_FAILURE) from exc
            if path is None:
                self.stdout.write(f"No backup: schema {dropped.schema_name} did not exist")
            else:
                self.stdout.write(f"Backup of schema {dropped.schema_name}: {path}")
        self.stdout.write(self.style.SUCCESS(f"Dropped tenant {slug!r} and schema {dropped.schema_name}"))
