"""What `migrate_schemas` shows and writes: progress lines or a progress bar, and the --report file."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO, cast

from django.core.management.base import OutputWrapper
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..tenancy.management.base import usage_error
from .executor import (
    Retry,
    SchemaResult,
)
from .plan import FleetPlan

SHOWN_SCHEMAS = 10  # schemas named in one line before "... and N more"


def table_text(table: Table) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=160).print(table)
    return buffer.getvalue().rstrip()


def migration_names(migrations: Sequence[tuple[str, str]]) -> list[str]:
    return [f"{app}.{name}" for app, name in migrations]


def capped_list(names: Sequence[str], shown: int = SHOWN_SCHEMAS) -> str:
    """`a, b, c` or `a, b, c and 7 more`."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"{', '.join(names[:shown])}{more}"


def schema_line(result: SchemaResult) -> str:
    # A new database applies dozens of migrations to public: name a few (--report lists them all).
    detail = capped_list(result.applied, 5) or "-"
    attempts = f" after {result.attempts} attempts" if result.attempts > 1 else ""
    error = f" error: {result.error}" if result.error else ""
    return f"{result.schema}: {result.status} [{detail}] in {result.seconds:.2f} s{attempts}{error}"


class MigrationProgress:
    """What the operator sees while schemas are migrated, used as a context manager around the run.

    On a terminal (at verbosity >= 1): a progress bar over the `total` schemas to migrate, with retries
    and failed schemas printed above it (every schema at verbosity >= 2). Otherwise (pipes, CI, tests):
    one line per finished schema at verbosity >= 1. Retries are printed as they happen when the executor
    runs in this process (`retry`), else when their schema's result arrives (`finished`), once each.
    """

    def __init__(self, out: OutputWrapper, *, total: int, verbosity: int) -> None:
        self.out = out
        self.verbosity = verbosity
        self.shown_retries: dict[str, int] = {}
        self.failed = 0
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        if verbosity >= 1 and out.isatty():
            # The wrapped stream itself: OutputWrapper appends a newline to every write, which breaks redrawing.
            console = Console(file=cast(TextIO, getattr(out, "_out", sys.stdout)))
            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=console,
            )  # fmt: skip
            self.task = self.bar.add_task("Migrating", total=total)

    def __enter__(self) -> MigrationProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.bar is not None:
            self.bar.stop()

    def _print(self, line: str) -> None:
        if self.bar is not None:
            self.bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            self.out.write(line)

    def retry(self, schema: str, retry: Retry) -> None:
        """A schema's attempt failed with a transient error and is retried after the backoff."""
        self.shown_retries[schema] = self.shown_retries.get(schema, 0) + 1
        if self.verbosity >= 1:
            self._print(f"{schema}: {retry}")

    def finished(self, result: SchemaResult) -> None:
        """A schema's final result (migrated, failed, ...)."""
        for retry in result.retries[self.shown_retries.get(result.schema, 0) :]:
            self.retry(result.schema, retry)
        self.failed += result.status == "failed"
        if self.bar is not None and self.task is not None:
            description = f"Migrating ({self.failed} failed)" if self.failed else "Migrating"
            self.bar.update(self.task, advance=1, description=description)
            if self.verbosity >= 2 or result.status == "failed":
                self._print(schema_line(result))
        elif self.verbosity >= 1:
            self.out.write(schema_line(result))


def report_records(fleet: FleetPlan, results: Sequence[SchemaResult]) -> list[dict[str, Any]]:
    """One JSON-ready record per schema of `fleet`, in its order, for `--report`: schema, tenant (slug or
    None), status (migrated, up_to_date, failed, not_run), applied (migration names), attempts,
    milliseconds, error (None when none) and retries (attempt, sqlstate, condition, backoff_seconds, error).
    A schema missing from `results` is `not_run` (or `up_to_date` when it had nothing pending)."""
    by_schema = {result.schema: result for result in results}
    records = []
    for plan in fleet.schemas:
        result = by_schema.get(plan.schema) or SchemaResult(plan.schema, "up_to_date" if plan.up_to_date else "not_run")
        records.append({
            "schema": plan.schema,
            "tenant": plan.tenant,
            "status": result.status,
            "applied": list(result.applied),
            "attempts": result.attempts,
            "milliseconds": round(result.seconds * 1000),
            "error": result.error,
            "retries": [
                {"attempt": r.attempt, "sqlstate": r.sqlstate, "condition": r.condition,
                 "backoff_seconds": r.backoff_seconds, "error": r.error}
                for r in result.retries
            ],
        })  # fmt: skip
    return records


def report_target(value: str) -> Path:
    """The `--report` file, checked before anything is migrated: its directory must exist and be writable,
    and it must not be a directory. Raises a usage error (exit 2) naming the path otherwise."""
    path = Path(value)
    accepted = "give a file path in an existing, writable directory"
    if path.is_dir():
        raise usage_error(f"--report {value!r} is a directory; {accepted}")
    parent = path.parent
    if not parent.is_dir():
        raise usage_error(f"--report {value!r}: directory {str(parent)!r} does not exist; {accepted}")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise usage_error(f"--report {value!r} is not writable; {accepted}")
    return path


def report_write(path: Path, records: list[dict[str, Any]]) -> None:
    """Write `records` to `path` as a JSON array, replacing the file at once (a reader never sees half a
    report). Raises OSError when the file cannot be written."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
