"""restore_tenant: restore a backup of a tenant schema as a new tenant."""

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ....tenancy.management.base import EXIT_FAILURE, ProjectCommand, add_noinput_argument
from ...backup import BackupError, tenant_restore


class Command(ProjectCommand):
    help = (
        "Restore a backup written by backup_tenant or drop_schema as a NEW tenant: schema tenant_<NEW>, the rows "
        "of the backup, primary domain D (default <NEW>.<TENANCY_BASE_DOMAIN>), name N (default NEW) and, with "
        "--owner-email, an owner membership of that existing user. The tenant the backup came from may still "
        "exist and is not changed. Before anything is created the backup is verified: its sha256 must match "
        "the checksum file PATH.sha256 written beside it (a missing checksum file is refused unless "
        "--no-checksum), and pg_restore must read the whole archive. After the restore (and migrating a backup "
        "whose migrations are behind the code), the schema must hold every table, column, index, constraint, "
        "sequence and trigger its migrations build (extra objects are kept), or the restore is refused; only "
        "then is the tenant created, active. On any failure nothing is created: no tenant, domain or schema. "
        "NEW: 2-40 characters of lowercase letters, digits and single inner hyphens, starting with a letter. "
        "Exit codes: 0 restored, 1 pg_restore/psql missing or failed, or migrating the restored schema failed, "
        "2 bad or taken slug/domain/name, missing, unreadable, damaged or unverified file (no checksum file, "
        "checksum mismatch, truncated or corrupted archive, restored schema lacking objects of its "
        "migrations), unknown owner."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--input", required=True, metavar="PATH", help="Backup file (.dump) with PATH.sha256.")
        parser.add_argument("--slug", required=True, metavar="NEW", help="Slug of the new tenant, e.g. 'acme-copy'.")
        parser.add_argument("--domain", metavar="D", help="Host name of the new tenant; default <NEW>.<base domain>.")
        parser.add_argument("--name", metavar="N", help="Display name of the new tenant, 1-100 characters.")
        parser.add_argument("--owner-email", metavar="E", help="Email of an existing user to make owner.")
        parser.add_argument(
            "--no-checksum",
            action="store_true",
            help="Restore a backup that has no PATH.sha256 beside it (e.g. made with pg_dump by hand). pg_restore "
            "and the catalog comparison still check it, but damaged row data may go unnoticed.",
        )
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_restore(
                input_path=options["input"],
                slug=options["slug"],
                domain=options["domain"],
                name=options["name"],
                owner_email=options["owner_email"],
                checksum=not options["no_checksum"],
            )
        except BackupError as exc:
            raise CommandError(str(exc), returncode=EXIT_FAILURE) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {options['input']} as tenant {tenant.slug!r} ({tenant.name}): schema {tenant.schema_name}, "
                f"domain {tenant.get_primary_domain()}, status {tenant.status}"
            )
        )
