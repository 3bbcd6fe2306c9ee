"""tenant_command: run any management command inside one tenant's schema (`showmigrations`, `sqlmigrate`, ...)."""

import argparse
import sys
from typing import Any

from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from ..base import usage_error
from ..stock import HELP_FLAGS, add_tenant_arguments, tenant_from_options, tenant_schema_required


class Command(BaseCommand):
    help = (
        "Run management command C with its own arguments inside one tenant's schema: "
        "`tenant_command C [C's arguments] --tenant S` (slug) or `--schema NAME` (django-tenants' option; `public` "
        "for the public schema). The connection's search path is the tenant's schema, then public, so "
        "`tenant_command showmigrations --tenant acme` lists what tenant_acme's django_migrations records and "
        "`tenant_command sqlmigrate products 0002 --tenant acme` prints that migration's SQL for it. --tenant and "
        "--schema belong to this command wherever they appear; everything else goes to C, whose help is "
        "`tenant_command C --help`. Never prompts. Exit codes: C's own, or 2 when C is unknown, or the tenant is "
        "missing, unknown or has no schema."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_tenant_arguments(parser, required_help=" whose schema C runs in (or --schema)")
        parser.add_argument("command_name", nargs=argparse.ONE_OR_MORE, metavar="C", help="The command and its "
                            "positional arguments, e.g. showmigrations products.")  # fmt: skip
        parser.add_argument("command_options", nargs=argparse.REMAINDER, help="C's options.")

    def run_from_argv(self, argv: list[str]) -> None:
        rest = argv[2:]
        if not rest or rest[0] in HELP_FLAGS:
            super().run_from_argv(argv)
            return
        selector = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
        selector.add_argument("--tenant")
        selector.add_argument("-s", "--schema", "--schema_name", dest="schema_name")
        chosen, remaining = selector.parse_known_args(rest)
        try:
            if not remaining:
                raise usage_error("name the command to run, e.g. `manage.py tenant_command showmigrations --tenant S`")
            name, *arguments = remaining
            command = self._load(name)
            if HELP_FLAGS.intersection(arguments):
                command.run_from_argv([argv[0], name, *arguments])
                return
            tenant = tenant_from_options(slug=chosen.tenant, schema_name=chosen.schema_name)
            assert tenant is not None  # required=True
            tenant_schema_required(tenant)
        except CommandError as exc:
            self.stderr.write(f"CommandError: {exc}")
            sys.exit(exc.returncode)
        connection.set_tenant(tenant)  # type: ignore[attr-defined]  # django-tenants' backend
        command.run_from_argv([argv[0], name, *arguments])

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_from_options(slug=options.pop("tenant"), schema_name=options.pop("schema_name"))
        assert tenant is not None  # required=True
        tenant_schema_required(tenant)
        name, *arguments = options.pop("command_name")
        arguments += options.pop("command_options")
        self._load(name)
        connection.set_tenant(tenant)  # type: ignore[attr-defined]  # django-tenants' backend
        call_command(name, *arguments, **{key: options[key] for key in ("verbosity", "stdout", "stderr")
                                          if key in options})  # fmt: skip

    @staticmethod
    def _load(name: str) -> BaseCommand:
        app = get_commands().get(name)
        if app is None:
            raise usage_error(f"unknown command {name!r}; `manage.py help` lists the commands")
        return app if isinstance(app, BaseCommand) else load_command_class(app, name)
