"""A `manage.py` stand-in whose only command is django-tenants' own `migrate_schemas`: the benchmark's stock path.

Command line, from a baked project's folder (the same options `manage.py migrate_schemas` takes)::

    python <template>/benchmarks/stock_manage.py migrate_schemas --tenant --noinput --verbosity 0 \\
        --executor standard|multiprocessing|subprocess [--parallel N]

The project is the current folder, or $BENCHMARK_PROJECT (see benchmarks/project.py); it comes first on the
import path, as the project's folder does for its manage.py.

The command class is `django_tenants.management.commands.migrate_schemas.MigrateSchemasCommand`,
imported directly, so the project's overriding `migrate_schemas` is never reached. Its executor is
looked up among django-tenants' own classes (`StandardExecutor`, `MultiprocessingExecutor`,
`SubprocessExecutor`) instead of through a `GET_EXECUTOR_FUNCTION` setting. Everything else (settings,
system checks, the tenant query, the options handed to Django's `migrate` per schema) is the library's.

`multiprocessing` gets one process per usable core (`TENANT_MULTIPROCESSING_MAX_PROCESSES`). The
`subprocess` executor starts `<sys.argv[0]> migrate_schemas --executor=standard --schema <name>` per
tenant; since this file's name ends in `manage.py`, those children run this stock command too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

STOCK_MANAGE = Path(__file__).resolve()
PROJECT_ENV = "BENCHMARK_PROJECT"  # as in benchmarks/project.py, which this script does not import
USAGE = "usage: python <template>/benchmarks/stock_manage.py migrate_schemas [django-tenants migrate_schemas options]"


def project_dir() -> Path:
    """The baked project's folder: $BENCHMARK_PROJECT, else the current folder."""
    return Path(os.environ.get(PROJECT_ENV) or os.getcwd()).resolve()


def usable_cores() -> int:
    """Return the number of CPU cores this process may run on (>= 1)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def main(argv: list[str]) -> None:
    """Run django-tenants' stock `migrate_schemas`; `argv` is shaped like sys.argv: [prog, "migrate_schemas", ...].

    Raises SystemExit(2) for any other command; the command's own errors and exit codes pass through.
    """
    if argv[1:2] != ["migrate_schemas"]:
        raise SystemExit(USAGE)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    # Imported here: run as a script, this file puts the project root on the import path just before main().
    from config.devservices import environ_ensure

    environ_ensure(argv)  # embedded servers for the URLs left unset, as manage.py does
    import django

    django.setup()

    from django.conf import settings
    from django_tenants.management.commands import migrate_schemas as stock
    from django_tenants.migration_executors import (
        MigrationExecutor,
        MultiprocessingExecutor,
        StandardExecutor,
        SubprocessExecutor,
    )

    executors: dict[str, type[MigrationExecutor]] = {
        cls.codename: cls for cls in (StandardExecutor, MultiprocessingExecutor, SubprocessExecutor)
    }

    def stock_executor(codename: str | None = None) -> type[MigrationExecutor]:
        """Return django-tenants' executor class for `codename` (default: $EXECUTOR, else standard)."""
        return executors[codename or os.environ.get("EXECUTOR", StandardExecutor.codename)]

    stock.GET_EXECUTOR_FUNCTION = stock_executor
    settings.TENANT_MULTIPROCESSING_MAX_PROCESSES = usable_cores()
    stock.MigrateSchemasCommand().run_from_argv(argv)


if __name__ == "__main__":
    # Run as a script, like manage.py: the project's folder (not benchmarks/) must come first on the import path.
    sys.path[0] = str(project_dir())
    main(sys.argv)
