"""restore_tenant: restore a backup of a tenant schema as a new tenant."""

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...backup import BackupError, tenant_restore
from ..base import EXIT_FAILURE, ProjectCommand, add_noinput_argument


class Command(ProjectCommand):
    help = (
        "Restore a backup written by backup_tenant or drop_schema as a NEW tenant: schema tenant_<NEW>, the rows "
        "of the backup, primary domain D (default <NEW>.<TENANCY_BASE_DOMAIN>), name N (default NEW) and, with "
        "--owner-email, an owner membership of that existing user. The tenant the backup came from may still "
        "exist and is not changed. Everything happens in one transaction: on any failure nothing is created. "
        "A backup whose migrations are behind the code is migrated right after the restore. "
        "NEW: 2-40 characters of lowercase letters, digits and single inner hyphens, starting with a letter. "
        "Exit codes: 0 restored, 1 pg_restore/psql missing or failed, 2 bad or taken slug/domain/name, missing "
        "or unreadable file, unknown owner."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--input", required=True, metavar="PATH", help="Backup file (.dump) to restore.")
        parser.add_argument("--slug", required=True, metavar="NEW", help="Slug of the new tenant, e.g. 'acme-copy'.")
        parser.add_argument("--domain", metavar="D", help="Host name of the new tenant; default <NEW>.<base domain>.")
        parser.add_argument("--name", metavar="N", help="Display name of the new tenant, 1-100 characters.")
        parser.add_argument("--owner-email", metavar="E", help="Email of an existing user to make owner.")
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_restore(
                input_path=options["input"],
                slug=options["slug"],
                domain=options["domain"],
                name=options["name"],
                owner_email=options["owner_email"],
            )
        except BackupError as exc:
            raise CommandError(str(exc), returncode=EXIT_FAILURE) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {options['input']} as tenant {tenant.slug!r} ({tenant.name}): schema {tenant.schema_name}, "
                f"domain {tenant.get_primary_domain()}, status {tenant.status}"
            )
        )
