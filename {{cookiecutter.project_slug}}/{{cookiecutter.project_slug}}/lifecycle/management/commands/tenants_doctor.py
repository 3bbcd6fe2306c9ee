"""tenants_doctor: find (and with --fix, repair) damage in the tenant fleet (lifecycle/doctor.py); with --citus,
report what blocks Citus schema-based sharding of the tenant schemas (lifecycle/citus.py)."""

from __future__ import annotations

import io
import json
from collections import Counter
from typing import Any

from django.core.management.base import CommandError, CommandParser
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ....tenancy.management.base import EXIT_FAILURE, ProjectCommand, add_noinput_argument, usage_error
from ...citus import CITUS_KINDS, CitusBlocker, citus_blockers, tenant_schema_names
from ...doctor import KINDS, Finding, Repair, fleet_diagnose, fleet_repair


class Command(ProjectCommand):
    help = (
        "Check the tenant fleet and report, grouped by kind: stale_provisioning (a tenant left in provisioning by a "
        "process that died; a tenant whose provisioning lock is held is reported as provisioning_in_progress and "
        "left alone), tenant_without_schema (active, suspended or archived tenant whose schema is gone), "
        "orphan_schema (a tenant_* or spare_* schema without tenant row or pool registration), foreign_schema "
        "(any other schema without a tenant: extensions', other applications'; a note, never dropped), "
        "spare_without_schema, stale_spare (spare with pending migrations), pending_migrations (tenant or public "
        "schema), recorded_not_applied (an up-to-date schema lacks tables, columns, indexes or constraints its "
        "recorded migrations create: listed per schema) and schema_drift (extra or changed objects), both against a "
        "reference catalog built from the migration files by django-tenants' stock path in a transaction that is "
        "rolled back. "
        "--fix repairs what it may, each fix in its own transaction after re-checking under the schema's "
        "provisioning lock: completes stale provisioning tenants, drops orphan spare_* schemas, backs up orphan "
        "tenant_* schemas (lifecycle.backup.schema_backup into TENANCY_BACKUP_DIR) and drops them only when the "
        "backup succeeded, unregisters missing spares, migrates stale spares and schemas with pending migrations. "
        "It never drops a schema without the tenant_ or spare_ prefix, and never fixes tenants without a schema "
        "(restore_tenant or drop_schema), recorded_not_applied or drift (report only; a migration is never faked); "
        "the diagnosis is repeated after the fixes. "
        "--citus instead reports what blocks Citus 12+ schema-based sharding (citus_schema_distribute) of the "
        "tenant and spare schemas, read from the catalog and grouped by pattern with the number of schemas and a "
        "few examples: foreign keys from tenant tables to tables in other schemas (the referenced table would have "
        "to become a Citus reference table), foreign keys from other schemas into tenant tables, and, as a caveat "
        "that does not change the exit code, sequences narrower than bigint; --citus cannot be combined with --fix. "
        "--format table (default) or json ({ok, findings, repairs, remaining}; with --citus {ok, schemas_checked, "
        "findings}). "
        "Exit codes: 0 nothing wrong (notes and caveats aside) or everything found was fixed, 1 problems remain "
        "(with --citus: something blocks), 2 bad usage."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true", help="Repair what can be repaired, then check again.")
        parser.add_argument(
            "--citus", action="store_true",
            help="Report what blocks Citus schema-based sharding of the tenant schemas instead (read-only).",
        )  # fmt: skip
        parser.add_argument("--format", choices=["table", "json"], default="table", help="Output format.")
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["citus"]:
            if options["fix"]:
                raise usage_error("--citus and --fix cannot be combined: --citus only reports (nothing to repair)")
            self._citus(options["format"])
            return
        findings = fleet_diagnose()
        repairs: list[Repair] | None = None
        remaining = findings
        if options["fix"]:
            repairs = fleet_repair(findings)
            remaining = fleet_diagnose() if repairs else findings
        problems = [finding for finding in remaining if finding.problem]
        if options["format"] == "json":
            document: dict[str, Any] = {"ok": not problems, "findings": [f.as_dict() for f in findings]}
            if repairs is not None:
                document["repairs"] = [repair.as_dict() for repair in repairs]
                document["remaining"] = [f.as_dict() for f in remaining]
            self.stdout.write(json.dumps(document, indent=2))
        else:
            self._print_findings(findings, "Findings")
            if repairs is not None:
                self._print_repairs(repairs)
                if repairs:
                    self._print_findings(remaining, "After --fix")
        if problems:
            counts = Counter(finding.kind for finding in problems)
            summary = ", ".join(f"{kind} ({count})" for kind, count in counts.items())
            raise CommandError(f"{len(problems)} problem(s) remain: {summary}", returncode=EXIT_FAILURE)
        if options["format"] == "table":
            self.stdout.write(self.style.SUCCESS("No problems found." if repairs is None else "No problems remain."))

    def _citus(self, output_format: str) -> None:
        schemas = tenant_schema_names()
        found = citus_blockers(schemas)
        blocking = [blocker for blocker in found if blocker.blocks]
        if output_format == "json":
            document = {"ok": not blocking, "schemas_checked": len(schemas), "findings": [b.as_dict() for b in found]}
            self.stdout.write(json.dumps(document, indent=2))
        else:
            self._print_citus(found, len(schemas))
        if blocking:
            raise CommandError(f"{len(blocking)} pattern(s) block Citus schema-based sharding", returncode=EXIT_FAILURE)
        if output_format == "table":
            self.stdout.write(self.style.SUCCESS("Nothing blocks Citus schema-based sharding."))

    def _print_citus(self, found: list[CitusBlocker], schemas: int) -> None:
        blocking = sum(1 for blocker in found if blocker.blocks)
        self.stdout.write(
            f"Citus schema-based sharding, {schemas} tenant/spare schema(s) checked: {blocking} blocking "
            f"pattern(s), {len(found) - blocking} caveat(s)."
        )
        for kind, (title, _) in CITUS_KINDS.items():
            of_kind = [blocker for blocker in found if blocker.kind == kind]
            if not of_kind:
                continue
            table = Table(title=escape(f"{title}: {len(of_kind)} ({kind})"), title_justify="left")
            for column in ("table", "constraint / sequence", "references", "schemas", "examples", "what to do"):
                table.add_column(column, overflow="fold")
            for blocker in of_kind:
                examples = ", ".join(blocker.examples) + (", ..." if blocker.schemas > len(blocker.examples) else "")
                table.add_row(
                    *_cells(blocker.table, blocker.name, blocker.references, str(blocker.schemas), examples,
                            blocker.hint)
                )  # fmt: skip
            self._render(table)
        if found:
            sources = sorted({blocker.source for blocker in found})
            self.stdout.write("Citus documentation: " + " ".join(sources))

    def _render(self, table: Table) -> None:
        buffer = io.StringIO()
        Console(file=buffer, width=160).print(table)
        self.stdout.write(buffer.getvalue().rstrip())

    def _print_findings(self, findings: list[Finding], heading: str) -> None:
        problems = sum(1 for finding in findings if finding.problem)
        self.stdout.write(f"{heading}: {problems} problem(s), {len(findings) - problems} note(s).")
        for kind, (title, _) in KINDS.items():
            of_kind = [finding for finding in findings if finding.kind == kind]
            if not of_kind:
                continue
            table = Table(title=escape(f"{title}: {len(of_kind)} ({kind})"), title_justify="left")
            for column in ("schema", "tenant", "detail", "what to do"):
                table.add_column(column, overflow="fold")
            for finding in of_kind:
                table.add_row(*_cells(finding.schema, finding.tenant, finding.detail, finding.hint))
            self._render(table)

    def _print_repairs(self, repairs: list[Repair]) -> None:
        if not repairs:
            self.stdout.write("--fix: nothing to repair automatically.")
            return
        table = Table(title=f"Repairs: {len(repairs)}", title_justify="left")
        for column in ("kind", "schema", "tenant", "outcome", "message"):
            table.add_column(column, overflow="fold")
        for repair in repairs:
            finding = repair.finding
            table.add_row(*_cells(finding.kind, finding.schema, finding.tenant, repair.outcome, repair.message))
        self._render(table)


def _cells(*values: str | None) -> list[str]:
    """Table cells as plain text: names and messages may contain `[...]`, which rich reads as markup."""
    return [escape(value) if value else "-" for value in values]
