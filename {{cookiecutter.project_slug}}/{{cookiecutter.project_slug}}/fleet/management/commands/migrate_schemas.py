"""migrate_schemas: django-tenants' command, planned once for the whole fleet.

Additions to the stock command: `--tenant=<slug>`, `--list [--format json]`, fleet-wide
`--plan` / `--dry-run` and `--check`, `--verify` (each schema's catalog against what stock
django-tenants builds, fleet/verification.py), and, when migrating to the latest migrations,
schemas with nothing to apply are skipped after one read of the fleet's state (fleet/plan.py)
instead of running a full `migrate` each. Schemas with something to apply go through the
project's executor (fleet/executor.py), which shows progress (a bar on a terminal, a line
per schema otherwise), prints every retry and can write a JSON report (`--report PATH`), or
through django-tenants' own executors (`--executor standard|...`), exactly as stock.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.core.checks import Tags
from django.core.management.base import CommandError, CommandParser
from django_tenants.management.commands import SyncCommon
from django_tenants.management.commands.migrate_schemas import GET_EXECUTOR_FUNCTION, MigrateSchemasCommand
from django_tenants.signals import schema_migrated
from django_tenants.utils import get_public_schema_name, has_multi_type_tenants
from rich.table import Table

from ....tenancy.management.base import EXIT_FAILURE, usage_error
from ....tenancy.models import Tenant
from ...executor import (
    AUTO_PARALLEL_MIN_SCHEMAS,
    DEFAULT_LOCK_TIMEOUT_MS,
    DEFAULT_RETRIES,
    FleetReport,
    Retry,
    SchemaResult,
    fleet_migrate,
    parallel_auto,
)
from ...plan import FleetPlan, SchemaPlan, plan_fleet, select_schemas
from ...report import (
    SHOWN_SCHEMAS,
    MigrationProgress,
    capped_list,
    migration_names,
    report_records,
    report_target,
    report_write,
    table_text,
)
from ...signals import fleet_migrated
from ...state import state_prune, state_watch

# fleet.verification (django.test) and the Celery app are imported where they are used: every deploy runs this
# command, and a run with nothing to apply is mostly interpreter and Django start-up (benchmarks P2).

TENANT_HELP = (
    "Bare --tenant: migrate tenant apps in every tenant schema (django-tenants' meaning; "
    "`--tenant products 0002` is all tenants, app products, migration 0002). "
    "--tenant=<slug>, written with '=': only the tenant with that slug."
)
# Options under which stock planning per schema is needed: the planner only knows "migrate to latest".
STOCK_ONLY_OPTIONS = ("fake", "fake_initial", "prune", "run_syncdb")
SHOWN_DIFFERENCES = 10  # per schema, in --verify's output
READ_ONLY_FLAGS = (
    ("list_migrations", "--list"),
    ("plan", "--plan"),
    ("check_unapplied", "--check"),
    ("verify", "--verify"),
)
STOCK_EXECUTORS = ("standard", "multiprocessing", "subprocess")
# The phases of a migrating run, in the order its closing "Time:" line names them (those that ran).
TIMED_PHASES = ("planning", "migrating", "migration-state upkeep", "spare-pool top-up")
{%- if cookiecutter.use_celery == "y" %}
PROJECT_EXECUTORS = ("fleet", "celery")
CELERY_BATCH_SIZE = 25  # schemas per task
CELERY_BATCH_TIMEOUT = 60 * 60  # seconds to wait for one batch's result
{%- else %}
PROJECT_EXECUTORS = ("fleet",)
{%- endif %}


def rewrite_tenant_slug(args: Sequence[str]) -> list[str]:
    """Turn `--tenant=<slug>` into the internal `--tenant-slug=<slug>`; bare `--tenant` is left alone."""
    return [f"--tenant-slug={arg.partition('=')[2]}" if arg.startswith("--tenant=") else arg for arg in args]


class Command(MigrateSchemasCommand):
    # Only the checks that matter to migrating (models, database), once; see handle().
    requires_system_checks: list[str] = []
    report_path: Path | None = None  # --report, checked in handle() before anything is migrated
    help = (
        "Migrate the public schema (shared apps) and tenant schemas (tenant apps). Accepts everything "
        "django-tenants' migrate_schemas accepts (--shared, --tenant, --schema, --executor, --fake, app_label "
        "migration_name, ...). The applied migrations of all selected schemas are read once and schemas with "
        "nothing to apply are skipped. Additions: --tenant=<slug> selects one tenant by slug; --list prints per "
        "schema the applied count, pending migrations and last applied time (--format json for scripts); --plan "
        "(or --dry-run) prints what would run where, grouped by identical plans; --check exits 1 when anything is "
        "pending; --verify compares each schema's tables, columns, indexes and constraints with what stock "
        "django-tenants builds and exits 1 on any difference. --list, --plan, --check and --verify change nothing. "
        "While migrating: a progress bar on a terminal, else a line per finished schema; every retry is printed "
        "with its attempt, SQLSTATE and backoff; --report PATH writes a JSON record per schema. "
        "Exit codes: 0 success, 1 a migration failed, (--check) something is pending or (--verify) a schema "
        "differs, 2 bad usage or unknown slug."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parse_known_args = parser.parse_known_args

        # argparse cannot tell `--tenant=acme` from `--tenant acme`; the second must keep its stock meaning.
        def parse_with_slug(args: Sequence[str] | None = None, namespace: Any = None) -> Any:
            return parse_known_args(rewrite_tenant_slug(sys.argv[1:] if args is None else args), namespace)

        parser.parse_known_args = parse_with_slug  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        for action in parser._actions:
            if "--tenant" in action.option_strings:
                action.help = TENANT_HELP
            if "--plan" in action.option_strings:
                action.help = "Print what would run where, grouped by identical plans; change nothing."
            if "--parallel" in action.option_strings:
                action.help = (
                    "Worker processes. With the project's executor (the default): N processes, each with its own "
                    "short-lived connections; not given, one per usable core, at most a quarter of the server's free "
                    f"connections, and 1 below {AUTO_PARALLEL_MIN_SCHEMAS} schemas to migrate "
                    "(fleet.executor.parallel_auto). "
                    "With --executor=subprocess: django-tenants' meaning."
{%- if cookiecutter.use_celery == "y" %}
                    " With --executor=celery: batches of 25 schemas in flight at once (default 4)."
{%- endif %}
                )
            if "--executor" in action.option_strings:
                action.help = (
                    f"fleet (default: the project's executor), {', '.join(PROJECT_EXECUTORS[1:] + STOCK_EXECUTORS)}. "
                    "Stock executors are django-tenants' own, run on the schemas that have something to apply."
                )
            if "--check" in action.option_strings:
                action.help = "Exit 1 when any selected schema has unapplied migrations; change nothing."
        parser.add_argument("--dry-run", action="store_true", dest="plan", help="Same as --plan.")
        # Django adds --skip-checks only for commands that require checks; Django's migrate declares it itself.
        parser.add_argument("--skip-checks", action="store_true", help="Skip the model and database checks.")
        parser.add_argument("--tenant-slug", dest="tenant_slug", help=argparse.SUPPRESS)
        # Django's spelling next to django-tenants' --noinput.
        parser.add_argument("--no-input", action="store_false", dest="interactive", help=argparse.SUPPRESS)
        parser.add_argument(
            "--list", action="store_true", dest="list_migrations",
            help="Per schema: tenant, applied count, pending migrations, last applied time. Migrates nothing.",
        )  # fmt: skip
        parser.add_argument(
            "--format", choices=["table", "json"], default="table", help="Output format of --list (default table)."
        )
        parser.add_argument(
            "--verify", action="store_true",
            help="Compare each selected schema's catalog (tables, columns, indexes, constraints, sequences, "
            "triggers, views) with a reference built by stock django-tenants from the migration files, in a "
            "transaction that is rolled back; print the differences and exit 1 on any, or when a schema has "
            "pending migrations. Changes nothing, migrates nothing.",
        )  # fmt: skip
        parser.add_argument(
            "--report", metavar="PATH",
            help="After migrating with the project's executor, write a JSON array to PATH with one record per "
            "selected schema: schema, tenant, status (migrated, up_to_date, failed, not_run), applied, attempts, "
            "milliseconds, error, retries. Written also when the run fails; the exit code is unchanged.",
        )  # fmt: skip
        parser.add_argument(
            "--continue-on-error", action="store_true",
            help="Record a failing schema and migrate the rest; exit 1 naming every failed schema. "
            "Without it the run stops at the first failure and reports what was and was not migrated.",
        )  # fmt: skip
        parser.add_argument(
            "--canary", metavar="N|SLUG,SLUG",
            help="Migrate these first (the first N pending schemas, or the tenants with these slugs) and stop "
            "before the rest if any of them fails.",
        )  # fmt: skip
        parser.add_argument(
            "--retries", type=int, default=DEFAULT_RETRIES, metavar="N",
            help=f"Extra attempts per schema after a transient error (deadlock, lock timeout, lost connection), "
            f"with exponential backoff from 0.5 s. Default {DEFAULT_RETRIES}.",
        )  # fmt: skip
{%- if cookiecutter.use_celery == "y" %}
        parser.add_argument(
            "--queue", help="With --executor=celery: the Celery queue to send batches to (default: the default queue)."
        )
        parser.add_argument(
            "--worker-timeout", type=float, default=5.0, metavar="SECONDS",
            help="With --executor=celery: how long to wait for a worker to answer a ping before failing. Default 5.",
        )  # fmt: skip
{%- endif %}
        parser.add_argument(
            "--lock-timeout", type=int, default=DEFAULT_LOCK_TIMEOUT_MS, metavar="MS", dest="lock_timeout_ms",
            help=f"PostgreSQL lock_timeout in milliseconds while migrating, so a blocked schema fails (and is "
            f"retried) instead of hanging the fleet. Default {DEFAULT_LOCK_TIMEOUT_MS}.",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        if not options.get("skip_checks"):
            # Stock runs every system check (URLs, templates, admin...) once per schema; a migration
            # needs the model and database checks, once.
            self.check(tags=[Tags.models, Tags.database], databases=[options["database"]])
        self._select_tenant_by_slug(options)
        SyncCommon.handle(self, *args, **options)
        self.verbosity = int(options.get("verbosity", 1))
        targeted = bool(options.get("app_label") or options.get("migration_name"))
        stock = targeted or has_multi_type_tenants() or any(options.get(name) for name in STOCK_ONLY_OPTIONS)
        self.report_path = self._validate_verify_and_report(options, stock=stock)
        if options.pop("list_migrations", False):
            self.stdout.write(self._list(self._plan(), options["format"]))
            return
        if stock:
            super().handle(*args, **options)
            return
        started = time.monotonic()
        fleet = self._plan()
        if options.get("verify"):
            self._verify(fleet)
            return
        if options.get("plan"):
            self.stdout.write(self._grouped_plan(fleet))
            return
        if options.get("check_unapplied"):
            self._check(fleet)
            return
        self._timings: dict[str, float] = {}
        self._migrate(fleet, started)
        self._watch(fleet)
        top_up_started = time.monotonic()
        topped_up = self._announce_fleet_migrated()
        if topped_up is not None:
            self._timings["spare-pool top-up"] = time.monotonic() - top_up_started
        if self.verbosity >= 1:
            self.stdout.write(self._time_line(time.monotonic() - started))

    def _validate_verify_and_report(self, options: dict[str, Any], *, stock: bool) -> Path | None:
        """Reject --verify and --report where they cannot work (exit 2), before anything is read or migrated;
        return the --report path or None."""
        read_only = [flag for dest, flag in READ_ONLY_FLAGS if options.get(dest)]
        if options.get("verify") and len(read_only) > 1:
            others = ", ".join(flag for flag in read_only if flag != "--verify")
            raise usage_error(f"--verify cannot be combined with {others}; run them one at a time")
        stock_reason = (
            "an app_label, a migration name, --fake, --fake-initial, --prune, --run-syncdb or multi-type tenants"
        )
        if options.get("verify") and stock:
            raise usage_error(f"--verify compares whole schemas of one tenant type; not with {stock_reason}")
        value = options.get("report")
        if value is None:
            return None
        if read_only:
            raise usage_error(f"--report is written by migrating runs; it cannot be combined with {read_only[0]}")
        if stock or self.executor in STOCK_EXECUTORS:
            reason = f"--executor {self.executor}" if self.executor in STOCK_EXECUTORS else stock_reason
            raise usage_error(
                f"--report is written by the project's executors ({', '.join(PROJECT_EXECUTORS)}) migrating to the "
                f"latest migrations; not with {reason}"
            )
        return report_target(value)

    def _watch(self, fleet: FleetPlan) -> None:
        """Put the migration-state trigger (fleet/state.py) on every schema planning had to read directly, so
        the next run plans them from their summaries, and delete the summaries of tables that are gone."""
        watch_started = time.monotonic()
        pruned = state_prune(trusted=fleet.summarised)
        watched = state_watch(fleet.read_directly)
        if pruned or fleet.read_directly:  # the Time line names the phases that did something
            self._timings["migration-state upkeep"] = time.monotonic() - watch_started
        if self.verbosity >= 1 and watched:
            self.stdout.write(
                f"Migration state: the database now keeps the summary of {watched} more schema(s); "
                "the next run reads them from it."
            )

    def _announce_fleet_migrated(self) -> bool | None:
        """After a full run over the tenants (no --schema / --tenant=<slug>), send fleet.signals.fleet_migrated;
        the lifecycle package answers by topping the spare-schema pool up (lifecycle/receivers.py). Returns None
        when nothing was sent, else True."""
        if not self.sync_tenant or self.schema_name:
            return None
        fleet_migrated.send(sender=type(self), stdout=self.stdout, verbosity=self.verbosity)
        return True

    def _time_line(self, total: float) -> str:
        """Where the run's wall time went, one line: `Time: planning 0.68 s, migrating 12.10 s (summed over
        schemas: post_migrate 0.00 s, lost to lock waits and retries 0.00 s), spare-pool top-up 0.90 s; total
        13.70 s.` Phases that did not run are left out."""
        parts = []
        for name in TIMED_PHASES:
            if name not in self._timings:
                continue
            part = f"{name} {self._timings[name]:.2f} s"
            if name == "migrating" and "post_migrate" in self._timings:
                part += (
                    f" (summed over schemas: post_migrate {self._timings['post_migrate']:.2f} s, "
                    f"lost to lock waits and retries {self._timings['retries']:.2f} s)"
                )
            parts.append(part)
        return f"Time: {', '.join(parts)}; total {total:.2f} s."

    def _select_tenant_by_slug(self, options: dict[str, Any]) -> None:
        slug = options.pop("tenant_slug", None)
        if isinstance(options.get("tenant"), str):  # call_command("migrate_schemas", tenant="acme")
            slug = options["tenant"]
        if slug is None:
            return
        if options.get("schema_name") or options.get("shared"):
            raise usage_error("--tenant=<slug> cannot be combined with --schema or --shared")
        tenants = Tenant.objects.exclude(schema_name=get_public_schema_name())
        tenant = tenants.filter(slug=slug).first()
        if tenant is None:
            known = ", ".join(tenants.values_list("slug", flat=True))
            raise usage_error(f"no tenant with slug {slug!r}; existing slugs: {known or '(none)'}")
        options["tenant"], options["schema_name"] = True, tenant.schema_name

    def _selected(self) -> list[tuple[str, str | None]]:
        try:
            return select_schemas(shared=self.sync_public, tenants=self.sync_tenant, schema_name=self.schema_name)
        except ValueError as exc:
            raise usage_error(str(exc)) from exc

    def _plan(self) -> FleetPlan:
        return plan_fleet(self._selected())

    def _migrate(self, fleet: FleetPlan, started: float) -> None:
        public = get_public_schema_name()
        pending = [plan.schema for plan in fleet.pending]
        self._timings["planning"] = time.monotonic() - started
        if self.verbosity >= 1:
            self.stdout.write(
                f"Planned {len(fleet.schemas)} schema(s) in {self._timings['planning']:.2f} s "
                f"({fleet.queries} queries; {fleet.summarised} from the summaries the database keeps, "
                f"{len(fleet.read_directly)} read directly): {len(fleet.schemas) - len(pending)} up to date, "
                f"{len(pending)} to migrate."
            )
        if not pending:
            self._write_report(fleet, [])
            return
        if self.executor not in STOCK_EXECUTORS:
            self._fleet_migrate(fleet, started)
            return
        executor = GET_EXECUTOR_FUNCTION(codename=self.executor)(self.args, self.options)
        migrating_started = time.monotonic()
        if public in pending:
            executor.run_migrations(tenants=[public])
        tenant_schemas = [schema for schema in pending if schema != public]
        if tenant_schemas:
            executor.run_migrations(tenants=tenant_schemas)
        self._timings["migrating"] = time.monotonic() - migrating_started

    def _canary(self, fleet: FleetPlan) -> list[str]:
        value = (self.options.get("canary") or "").strip()
        if not value:
            return []
        pending = [plan.schema for plan in fleet.pending]
        if value.isdigit():
            return pending[: int(value)]
        slugs = [slug.strip() for slug in value.split(",") if slug.strip()]
        by_slug = {plan.tenant: plan.schema for plan in fleet.schemas if plan.tenant}
        unknown = [slug for slug in slugs if slug not in by_slug]
        if unknown:
            raise usage_error(f"--canary names unknown or unselected tenants {unknown}; give a count or tenant slugs")
        return [by_slug[slug] for slug in slugs]

    def _fleet_migrate(self, fleet: FleetPlan, started: float) -> None:
        if self.executor not in (None, *PROJECT_EXECUTORS):
            accepted = ", ".join([*PROJECT_EXECUTORS, *STOCK_EXECUTORS])
            raise usage_error(f"unknown executor {self.executor!r}; accepted: {accepted}")
        if self.options["retries"] < 0 or self.options["lock_timeout_ms"] <= 0:
            raise usage_error("--retries must be >= 0 and --lock-timeout > 0 (milliseconds)")
        chosen = self.options.get("parallel")
        if chosen is not None and chosen < 1:
            raise usage_error(f"--parallel {chosen} is not accepted; give 1 or more worker processes")

        canary = self._canary(fleet)
        parallel = chosen or 1
        if chosen is None and self.executor != "celery":
            workers = parallel_auto(len(fleet.pending) - len(canary))
            parallel = workers.workers
            if self.verbosity >= 1:
                self.stdout.write(f"{parallel} worker process(es) ({workers.reason}; --parallel N chooses).")
        finished: list[SchemaResult] = []  # for the report of a run that ends with an exception
        display = MigrationProgress(self.stdout, total=len(fleet.pending), verbosity=self.verbosity)

        def progress(result: SchemaResult) -> None:
            finished.append(result)
            if result.status == "migrated":
                schema_migrated.send(sender=fleet_migrate, schema_name=result.schema)
            display.finished(result)

        migrating_started = time.monotonic()
        try:
            with display:
{%- if cookiecutter.use_celery == "y" %}
                if self.executor == "celery":
                    report = self._celery_migrate(fleet, canary, progress)
                else:
                    report = self._in_process_migrate(fleet, canary, parallel, progress, display.retry)
{%- else %}
                report = self._in_process_migrate(fleet, canary, parallel, progress, display.retry)
{%- endif %}
        except BaseException:
            # Ctrl-C, a lost worker, ...: still say which schemas were migrated; the original error goes on.
            self._write_report(fleet, finished, quiet=True)
            raise
        self._timings["migrating"] = time.monotonic() - migrating_started
        self._timings["post_migrate"] = sum(result.post_migrate_seconds for result in report.results)
        self._timings["retries"] = sum(result.retry_seconds for result in report.results)
        # When the run failed too, its error is the one to exit with; the report's is printed on stderr.
        self._write_report(fleet, report.results, quiet=not report.ok)
        self._report(report, time.monotonic() - started)

    def _in_process_migrate(
        self,
        fleet: FleetPlan,
        canary: list[str],
        parallel: int,
        progress: Callable[[SchemaResult], None],
        on_retry: Callable[[str, Retry], None],
    ) -> FleetReport:
        return fleet_migrate(
            schemas=[(plan.schema, plan.tenant) for plan in fleet.schemas],
            parallel=parallel,
            continue_on_error=self.options["continue_on_error"],
            canary=canary,
            retries=self.options["retries"],
            lock_timeout_ms=self.options["lock_timeout_ms"],
            progress=progress,
            on_retry=on_retry,
        )

    def _write_report(self, fleet: FleetPlan, results: Sequence[SchemaResult], *, quiet: bool = False) -> None:
        """Write the --report file, if asked for. A write that fails is exit 1 naming the path; with `quiet`
        (another error is on its way) it is only printed to stderr."""
        if self.report_path is None:
            return
        try:
            report_write(self.report_path, report_records(fleet, results))
        except OSError as exc:
            message = f"could not write the report to {str(self.report_path)!r}: {exc}"
            if quiet:
                self.stderr.write(message)
                return
            raise CommandError(message, returncode=EXIT_FAILURE) from exc
        if self.verbosity >= 2:
            self.stdout.write(f"Report written to {self.report_path} ({len(fleet.schemas)} schema(s)).")

{%- if cookiecutter.use_celery == "y" %}

    def _celery_migrate(
        self, fleet: FleetPlan, canary: list[str], progress: Callable[[SchemaResult], None]
    ) -> FleetReport:
        """Send the pending schemas to Celery workers in batches; the canary batch first, then waves of
        `--parallel` batches. Without --continue-on-error no new wave starts after a failure."""
        # Imported here: the Celery app is needed by this executor only, and start-up counts in every deploy.
        from ...tasks import migrate_schemas_batch
        from config.celery_app import app

        timeout = self.options.get("worker_timeout", 5.0)
        if timeout <= 0:
            raise usage_error(f"--worker-timeout {timeout} is not accepted; give a number of seconds above 0")
        # limit=1: go on as soon as one worker answers, instead of collecting replies for the whole timeout.
        if not app.control.ping(timeout=timeout, limit=1):
            raise CommandError(
                f"no Celery worker answered within {timeout:g} s; start one (celery -A config.celery_app worker) "
                "or use another executor",
                returncode=EXIT_FAILURE,
            )
        results = {p.schema: SchemaResult(p.schema, "up_to_date" if p.up_to_date else "not_run") for p in fleet.schemas}
        rest = [plan.schema for plan in fleet.pending if plan.schema not in canary]
        batches = [rest[i : i + CELERY_BATCH_SIZE] for i in range(0, len(rest), CELERY_BATCH_SIZE)]
        waves = ([[canary]] if canary else []) + [
            batches[i : i + (self.options.get("parallel") or 4)]
            for i in range(0, len(batches), self.options.get("parallel") or 4)
        ]
        kwargs = {
            "continue_on_error": self.options["continue_on_error"],
            "retries": self.options["retries"],
            "lock_timeout_ms": self.options["lock_timeout_ms"],
        }
        canary_failed = False
        for number, wave in enumerate(waves):
            sent = [migrate_schemas_batch.apply_async(args=(batch,), kwargs=kwargs, queue=self.options.get("queue"))
                    for batch in wave]  # fmt: skip
            failed = False
            for async_result in sent:
                for fields in async_result.get(timeout=CELERY_BATCH_TIMEOUT):
                    result = SchemaResult.from_fields(fields)
                    results[result.schema] = result
                    progress(result)
                    failed = failed or result.status == "failed"
            if failed and canary and number == 0:
                canary_failed = True
                break
            if failed and not self.options["continue_on_error"]:
                break
        return FleetReport(results=[results[p.schema] for p in fleet.schemas], plan=fleet, canary_failed=canary_failed)
{%- endif %}

    def _report(self, report: FleetReport, seconds: float) -> None:
        counts = {status: len(report.with_status(status)) for status in ("migrated", "up_to_date", "failed", "not_run")}
        summary = (
            f"{counts['migrated']} migrated, {counts['up_to_date']} up to date, {counts['failed']} failed, "
            f"{counts['not_run']} not run, in {seconds:.2f} s."
        )
        if self.verbosity >= 1:
            self.stdout.write(summary)
        if report.ok:
            return
        failures = "; ".join(f"{result.schema}: {result.error}" for result in report.failed)
        reason = "a canary schema failed, the rest was not migrated" if report.canary_failed else "migration failed"
        not_run = [result.schema for result in report.with_status("not_run")]
        left = f" Not migrated: {', '.join(not_run[:SHOWN_SCHEMAS])}" if not_run else ""
        more = f" and {len(not_run) - SHOWN_SCHEMAS} more." if len(not_run) > SHOWN_SCHEMAS else ""
        raise CommandError(f"{reason}: {failures}. {summary}{left}{more}", returncode=EXIT_FAILURE)

    def _verify(self, fleet: FleetPlan) -> None:
        """--verify: compare the catalogs of the selected, up-to-date schemas with stock django-tenants'
        reference; schemas with pending migrations are named, not compared. Exit 1 on any of either."""
        from ...verification import fleet_verify, reference_catalogs  # here: it imports django.test (start-up)

        pending = fleet.pending
        current = [plan.schema for plan in fleet.schemas if plan.up_to_date]
        try:
            drift = fleet_verify(current, references=reference_catalogs()) if current else {}
        except Exception as exc:
            raise CommandError(
                f"could not build the stock reference from the migration files: {type(exc).__name__}: {exc}",
                returncode=EXIT_FAILURE,
            ) from exc
        if self.verbosity >= 1:
            for schema, differences in list(drift.items())[:SHOWN_SCHEMAS]:
                for difference in differences[:SHOWN_DIFFERENCES]:
                    self.stdout.write(str(difference))
                if len(differences) > SHOWN_DIFFERENCES:
                    self.stdout.write(f"{schema}: and {len(differences) - SHOWN_DIFFERENCES} more difference(s)")
            if len(drift) > SHOWN_SCHEMAS:
                self.stdout.write(f"and {len(drift) - SHOWN_SCHEMAS} more schema(s) that differ")
            for plan in pending[:SHOWN_SCHEMAS]:
                names = capped_list(migration_names(plan.pending), 3)
                state = (
                    f"inconsistent migration history ({plan.inconsistent})"
                    if plan.inconsistent
                    else f"{len(plan.pending) or 'squashed'} migration(s) pending ({names})"
                )
                self.stdout.write(f"{plan.schema}: {state}; not compared, it would differ until migrated")
            if len(pending) > SHOWN_SCHEMAS:
                self.stdout.write(f"and {len(pending) - SHOWN_SCHEMAS} more schema(s) with pending migrations")
        if drift or pending:
            problems = []
            if drift:
                problems.append(
                    f"{len(drift)} of {len(fleet.schemas)} schema(s) differ from the stock reference: "
                    f"{capped_list(list(drift))}"
                )
            if pending:
                problems.append(
                    f"{len(pending)} schema(s) have pending migrations (migrate, then verify): "
                    f"{capped_list([plan.schema for plan in pending])}"
                )
            raise CommandError("; ".join(problems), returncode=EXIT_FAILURE)
        if self.verbosity >= 1:
            self.stdout.write(f"{len(fleet.schemas)} schema(s) match the stock reference.")

    def _check(self, fleet: FleetPlan) -> None:
        pending = fleet.pending
        if pending:
            shown = ", ".join(f"{plan.schema} ({len(plan.pending)})" for plan in pending[:SHOWN_SCHEMAS])
            more = f" and {len(pending) - SHOWN_SCHEMAS} more" if len(pending) > SHOWN_SCHEMAS else ""
            raise CommandError(
                f"{len(pending)} of {len(fleet.schemas)} schema(s) have unapplied migrations: {shown}{more}",
                returncode=EXIT_FAILURE,
            )
        if self.verbosity >= 1:
            self.stdout.write(f"No unapplied migrations in {len(fleet.schemas)} schema(s).")

    def _grouped_plan(self, fleet: FleetPlan) -> str:
        lines = [f"Plan for {len(fleet.schemas)} schema(s): {len(fleet.schemas) - len(fleet.pending)} up to date."]
        for migrations, schemas in fleet.groups():
            more = f" and {len(schemas) - SHOWN_SCHEMAS} more" if len(schemas) > SHOWN_SCHEMAS else ""
            lines.append(f"{len(schemas)} schema(s): {', '.join(schemas[:SHOWN_SCHEMAS])}{more}")
            lines.extend(f"  apply {name}" for name in migration_names(migrations))
        for plan in fleet.pending:
            if plan.inconsistent:
                lines.append(f"{plan.schema}: will not be migrated: {plan.inconsistent}")
            if plan.needs_stock_planning:
                lines.append(f"{plan.schema}: holds part of a squashed migration; planned by Django when migrated")
            if plan.unrecorded_replacements:
                names = ", ".join(migration_names(plan.unrecorded_replacements))
                lines.append(f"{plan.schema}: will record {names} (all the migrations they replace are applied)")
        return "\n".join(lines)

    @staticmethod
    def _list(fleet: FleetPlan, output_format: str) -> str:
        if output_format == "json":
            return json.dumps([_as_dict(plan) for plan in fleet.schemas], indent=2)
        table = Table(title=f"Migrations per schema ({len(fleet.schemas)})")
        for column in ("schema", "tenant", "applied", "pending", "last applied"):
            table.add_column(column)
        for plan in fleet.schemas:
            last = f"{plan.last_applied:%Y-%m-%d %H:%M:%S}" if plan.last_applied else "-"
            pending = "\n".join(migration_names(plan.pending)) or "none"
            table.add_row(plan.schema, plan.tenant or "-", str(plan.applied_count), pending, last)
        return table_text(table)


def _as_dict(plan: SchemaPlan) -> dict[str, Any]:
    return {
        "schema": plan.schema,
        "tenant": plan.tenant,
        "applied": plan.applied_count,
        "pending": migration_names(plan.pending),
        "last_applied": plan.last_applied.isoformat() if plan.last_applied else None,
    }
