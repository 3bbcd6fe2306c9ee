"""backup_tenant: write a pg_dump backup (custom format) of one tenant's schema."""

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ....tenancy.management.base import EXIT_FAILURE, ProjectCommand, add_noinput_argument
from ...backup import BackupError, tenant_backup


class Command(ProjectCommand):
    help = (
        "Back up the schema of tenant S with pg_dump (custom format, that schema only: its tables, rows, "
        "sequence positions) and print the path of the file. Default path "
        "<TENANCY_BACKUP_DIR>/<slug>-<UTC time YYYYmmddTHHMMSSZ>.dump; --output PATH writes there instead (an "
        "existing folder gets the default file name; an existing file is refused). Beside it goes PATH.sha256, "
        "its checksum in the format `sha256sum -c` reads; restore_tenant verifies it, so keep the two files "
        "together. The tenant, domain and "
        "membership rows of the public schema are not in the file: restore_tenant recreates them. pg_dump must "
        "be of the server's major version (TENANCY_PG_BIN_DIR, else found automatically). "
        "Exit codes: 0 written, 1 pg_dump missing or failed, or the checksum file not writable (no file is left), "
        "2 unknown slug, public, or existing output or checksum file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, metavar="S", help="Slug of the tenant to back up.")
        parser.add_argument("--output", metavar="PATH", help="File (or existing folder) to write the backup to.")
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            path = tenant_backup(slug=options["tenant"], output=options["output"])
        except BackupError as exc:
            raise CommandError(str(exc), returncode=EXIT_FAILURE) from exc
        self.stdout.write(str(path))
