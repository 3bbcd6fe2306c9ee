"""adopt_single_tenant: turn a single-tenant app's database into this project's, its data one tenant."""

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ....lifecycle.pgtools import BackupError
from ....tenancy.management.base import EXIT_FAILURE, ProjectCommand
from ...plan import adoption_plan
from ...steps import AdoptionFailed, adoption_backup_path, adoption_step, tenant_adopt


class Command(ProjectCommand):
    help = (
        "Adopt a single-tenant Django app's database (DATABASE_URL) as tenant SLUG of this project: its tenant "
        "apps' tables sit in the public schema with this project's migrations for those apps recorded there, next "
        "to a legacy user table (--legacy-users, default auth_user). In one transaction, after a pg_dump of the "
        "affected tables to <TENANCY_BACKUP_DIR>/adopt-<slug>-<UTC time>.dump (--no-backup skips it): the legacy "
        "user table and Django's legacy bookkeeping tables (auth, admin, contenttypes, sessions) move to schema "
        "legacy_<slug>; the shared apps are migrated in public; the tenant, its domain (default "
        "<slug>.<TENANCY_BASE_DOMAIN>) and the public tenant are created; each tenant-app table moves into "
        "tenant_<slug> with ALTER TABLE ... SET SCHEMA (indexes, constraints and sequences follow, no row is "
        "copied), its migrations are recorded there and the missing tenant-app tables are created; legacy users "
        "become global accounts (emails compared case-insensitively, duplicates merged and reported; users "
        "without an email are skipped unless --placeholder-emails), each a member of the tenant (staff and "
        "superusers as admins, --owner-email as owner); columns that referred to legacy users point to the "
        "accounts (a many-to-many link to a user left out, or repeated once users are merged, is removed); "
        "the new schema is compared with one built by migrations. Any failure rolls all of it back. "
        "--dry-run prints every step with row counts and user merges and changes nothing. "
        "Exit codes: 0 adopted, 1 backup or a step failed (nothing changed), 2 bad value or a database that "
        "cannot be adopted (migration state differs, schema exists, tables already tenant tables, references "
        "that would break)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="Display name of the tenant, 1-100 characters.")
        parser.add_argument(
            "--slug",
            required=True,
            help="Tenant slug, e.g. 'acme'; the schema is tenant_<slug>, the archive legacy_<slug>.",
        )
        parser.add_argument("--domain", help="Host name routed to the tenant; default <slug>.<TENANCY_BASE_DOMAIN>.")
        parser.add_argument(
            "--legacy-users", default="auth_user", metavar="TABLE",
            help="The legacy user table in the public schema (default auth_user); needs columns id and password.",
        )  # fmt: skip
        parser.add_argument("--owner-email", help="Email of an imported legacy user who becomes the tenant's owner.")
        parser.add_argument(
            "--placeholder-emails", action="store_true",
            help="Import legacy users without a usable email as legacy-user-<id>@<slug>.invalid; default: skip them.",
        )  # fmt: skip
        parser.add_argument("--no-backup", action="store_true", help="Do not write the pg_dump backup first.")
        parser.add_argument("--dry-run", action="store_true", help="Print every step; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        arguments = {
            "name": options["name"],
            "slug": options["slug"],
            "domain": options["domain"],
            "legacy_users_table": options["legacy_users"],
            "placeholder_emails": options["placeholder_emails"],
            "owner_email": options["owner_email"],
        }
        plan = adoption_plan(**arguments)
        backup = None if options["no_backup"] else adoption_backup_path(plan.request.slug)
        self.stdout.write("\n".join(plan.lines(backup=backup)))
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was changed.")
            return

        def progress(step: str, **kwargs: Any) -> None:
            if options["verbosity"] > 1:
                self.stdout.write(f"... {step}")

        adoption_step.connect(progress, dispatch_uid="adopt_single_tenant_progress")
        try:
            result = tenant_adopt(**arguments, backup=not options["no_backup"])
        except BackupError as exc:
            raise CommandError(f"{exc}; nothing was changed", returncode=EXIT_FAILURE) from exc
        except AdoptionFailed as exc:
            raise CommandError(str(exc), returncode=EXIT_FAILURE) from exc
        finally:
            adoption_step.disconnect(dispatch_uid="adopt_single_tenant_progress")
        tenant = result.tenant
        if result.backup is not None:
            self.stdout.write(f"Backup of the affected tables: {result.backup}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Adopted as tenant {tenant.slug!r} ({tenant.name}): schema {tenant.schema_name}, domain "
                f"{tenant.get_primary_domain()}, {result.accounts} accounts. Next: manage.py migrate_schemas"
            )
        )
