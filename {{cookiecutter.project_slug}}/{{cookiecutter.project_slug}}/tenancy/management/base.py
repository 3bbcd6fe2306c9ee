"""Shared behaviour of the project's management commands.

Exit codes (the project's convention, docs/commands.md): 0 success, 1 a failure during work, 2 bad usage or
input. Domain errors (InvalidValue, NotFound, Conflict) are bad input: exit 2 with
their message, which names the value and what is accepted.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...audit.context import command_origin
from ...errors import DomainError

EXIT_FAILURE = 1
EXIT_USAGE = 2


def usage_error(message: str) -> CommandError:
    """Return a CommandError that exits 2 (bad usage or input)."""
    return CommandError(message, returncode=EXIT_USAGE)


def add_noinput_argument(parser: CommandParser) -> None:
    """Add `--noinput` / `--no-input` like Django's own commands (dest `interactive`)."""
    parser.add_argument(
        "--noinput", "--no-input", action="store_false", dest="interactive",
        help="Never prompt; fail with exit code 2 when an answer would be needed.",
    )  # fmt: skip


def can_prompt(options: dict[str, Any]) -> bool:
    """True when the command may ask the operator: interactive and attached to a terminal."""
    return bool(options.get("interactive", True)) and sys.stdin.isatty()


def command_name(command: BaseCommand) -> str:
    """The name `command` is called by (`manage.py <name>`): the last part of its module's name."""
    return type(command).__module__.rsplit(".", 1)[-1]


class CommandOriginMixin:
    """Runs the command with audit origin `cli:<command name>` and the OS user (audit.context), so the audit
    events its services record say which command made them. For commands that cannot derive from
    ProjectCommand (createsuperuser extends Django's own): put it first among the bases."""

    def execute(self, *args: Any, **options: Any) -> str | None:
        with command_origin(command_name(self)):  # type: ignore[arg-type]
            return super().execute(*args, **options)  # type: ignore[misc]


class ProjectCommand(CommandOriginMixin, BaseCommand):
    """A command whose domain errors exit 2 and whose unexpected errors exit 1 with a one-line message, and
    whose audit events carry origin `cli:<command name>` (CommandOriginMixin)."""

    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except DomainError as exc:
            raise usage_error(str(exc)) from exc
