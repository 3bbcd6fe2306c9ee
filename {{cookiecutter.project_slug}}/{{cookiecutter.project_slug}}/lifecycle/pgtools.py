"""PostgreSQL's command-line tools (pg_dump, pg_restore, psql) of the server's major version, run against
the database Django uses.

pg_dump refuses a server newer than itself, and a script written by one pg_restore may use psql commands
an older psql lacks (`\\restrict`), so each tool is taken from a folder whose `--version` prints the server's
major version (`pg_binary`).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from ..errors import Conflict, InvalidValue

TOOLS = ("pg_dump", "pg_restore", "psql")
TOOL_TIMEOUT = 3600  # seconds for one pg_dump / pg_restore / psql run
LOCK_WAIT_TIMEOUT = "60s"  # how long pg_dump waits for each table's lock before giving up

_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)")
# Django's connection settings and OPTIONS as libpq environment variables, for the command-line tools.
_LIBPQ_SETTINGS = {"HOST": "PGHOST", "PORT": "PGPORT", "USER": "PGUSER", "PASSWORD": "PGPASSWORD", "NAME": "PGDATABASE"}
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


class BackupError(Exception):
    """pg_dump, pg_restore or psql is missing, of another major version than the server, or failed; or a
    backup file could not be written. The message names the tool or file and quotes the tool's error."""


def server_version() -> tuple[int, str]:
    """Return (major version, version text) of the database server, e.g. (15, "15.20 (Debian ...)")."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int, current_setting('server_version')")
        number, text = cursor.fetchone()
    return number // 10000, text


def pg_binary(name: str) -> Path:
    """Return the path of `name` (pg_dump, pg_restore or psql) whose major version is the server's.

    Looked up in settings.TENANCY_PG_BIN_DIR when set (only there); else in the embedded server's own
    binaries (config/devservices.py, when the pgserver package is installed), /usr/lib/postgresql/<major>/bin,
    then every folder on PATH. The version is what `<binary> --version` prints. Raises InvalidValue for
    another name, BackupError naming the server version and every folder tried when none matches.
    """
    if name not in TOOLS:
        raise InvalidValue(f"tool {name!r} is not one of {', '.join(TOOLS)}")
    major, version = server_version()
    tried = []
    for folder in _candidate_folders(major):
        binary = folder / name
        found, description = _binary_major(binary)
        if found == major:
            return binary
        tried.append(f"{folder} ({description})")
    hint = "fix TENANCY_PG_BIN_DIR" if settings.TENANCY_PG_BIN_DIR else "install it or set TENANCY_PG_BIN_DIR"
    raise BackupError(
        f"no {name} of PostgreSQL {major} (the server runs {version}) found; tried: {'; '.join(tried) or 'nothing'}; "
        f"{hint} to a folder holding pg_dump, pg_restore and psql of version {major}"
    )


def _candidate_folders(major: int) -> list[Path]:
    if settings.TENANCY_PG_BIN_DIR:
        return [Path(settings.TENANCY_PG_BIN_DIR)]
    from config.devservices import postgres_bin_dir

    folders = [postgres_bin_dir(), Path(f"/usr/lib/postgresql/{major}/bin"), *map(Path, os.get_exec_path())]
    unique: list[Path] = []
    for folder in folders:
        if folder is not None and folder not in unique:
            unique.append(folder)
    return unique


def _binary_major(binary: Path) -> tuple[int | None, str]:
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        return None, f"no executable {binary.name}"
    try:
        result = subprocess.run(  # noqa: S603 - a PostgreSQL binary, no shell
            [str(binary), "--version"],
            check=False,
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"{binary.name} --version failed: {exc}"
    match = _VERSION_RE.search(result.stdout)
    if result.returncode != 0 or match is None:
        return None, f"{binary.name} --version printed {(result.stdout or result.stderr).strip()[:80]!r}"
    return int(match.group(1)), result.stdout.strip()


def pg_env() -> dict[str, str]:
    """Return this process's environment plus libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE,
    SSL options) for the default database, as Django connects to it; the password never goes on argv."""
    params = connections[DEFAULT_DB_ALIAS].settings_dict
    env = {**os.environ, "PGAPPNAME": "tenancy-backup"}
    for key, variable in _LIBPQ_SETTINGS.items():
        if params.get(key):
            env[variable] = str(params[key])
    options = params.get("OPTIONS") or {}
    for option, variable in _LIBPQ_OPTIONS.items():
        if options.get(option) is not None:
            env[variable] = str(options[option])
    return env


def pg_run(tool: Path, args: list[str], *, action: str) -> subprocess.CompletedProcess[str]:
    """Run `tool` with `args` against the default database (environment from `pg_env`, no terminal); return the
    finished process. Raises BackupError starting with `action` and quoting the tool's last lines of stderr when
    it cannot start, runs over TOOL_TIMEOUT seconds or exits non-zero."""
    try:
        result = subprocess.run(  # noqa: S603 - a PostgreSQL binary, no shell
            [str(tool), *args],
            check=False,
            env=pg_env(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=TOOL_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackupError(f"{action}: {tool} could not run: {exc}") from exc
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        message = " | ".join(lines[-5:]) or f"no message on stderr, stdout: {result.stdout.strip()[-300:]!r}"
        raise BackupError(f"{action}: {tool.name} exited {result.returncode}: {message}")
    return result


def pg_dump_to_file(selection: list[str], output: Path, *, action: str) -> Path:
    """Write `pg_dump --format=custom` of what `selection` names (pg_dump options such as `--schema="x"` or
    `--table="public"."t"`) to `output`; return `output`.

    Missing folders are created (the last one readable by its owner only); the file is readable by its owner
    only, as it holds tenant data. The file appears only when complete: pg_dump writes `<output>.partial`,
    renamed once pg_dump exited 0 with a non-empty file. pg_dump waits LOCK_WAIT_TIMEOUT for each lock.
    Raises Conflict when `output` exists, BackupError (starting with `action`) when the folder cannot be
    written or pg_dump fails.
    """
    if output.exists():
        raise Conflict(f"backup file {output} already exists; choose another path")
    try:
        output.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create backup folder {output.parent}: {exc}") from exc
    with file_complete_or_absent(output, failure=f"{action} failed") as partial:
        args = ["--format=custom", f"--file={partial}", "--no-password", f"--lock-wait-timeout={LOCK_WAIT_TIMEOUT}"]
        pg_run(pg_binary("pg_dump"), [*args, *selection], action=action)
        if not partial.is_file() or partial.stat().st_size == 0:
            raise BackupError(f"{action}: pg_dump exited 0 but wrote no data to {partial}")
    return output


@contextlib.contextmanager
def file_complete_or_absent(target: Path, *, failure: str) -> Iterator[Path]:
    """Yield `<target>.partial` to write; when the block succeeds, make it readable by its owner only and rename
    it to `target`, so `target` never exists half-written. The partial file is removed in every case. Raises
    BackupError starting with `failure` on an OSError."""
    partial = target.with_name(target.name + ".partial")
    try:
        yield partial
        partial.chmod(0o600)
        partial.replace(target)
    except OSError as exc:
        raise BackupError(f"{failure}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
