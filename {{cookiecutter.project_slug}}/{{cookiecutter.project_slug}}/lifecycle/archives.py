"""Checks of a backup archive before anything is restored from it: its checksum file, `pg_restore --list`,
and the SQL script pg_restore writes from it. Used by lifecycle/backup.py; imports only pgtools and errors.

Every backup (`backup.schema_backup`) gets a checksum file beside it, `<archive>.sha256`, one line in the
format `sha256sum` writes and `sha256sum -c` reads: `<64 lowercase hex digits>  <archive file name>`.
pg_dump's custom format carries no checksum of its own and `pg_restore --list` reads only the table of
contents at the start of the file, so bytes overwritten or cut off further in can go unnoticed by
pg_restore; the checksum is what proves the file is the one pg_dump wrote.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import InvalidValue, NotFound, shown
from .pgtools import BackupError, file_complete_or_absent, pg_binary, pg_run

ARCHIVE_MAGIC = b"PGDMP"  # first bytes of a pg_dump custom-format archive
CHECKSUM_SUFFIX = ".sha256"

_CHECKSUM_LINE_RE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
_SCHEMA_ENTRY_RE = re.compile(r"^\d+;\s+\d+\s+\d+\s+SCHEMA\s+-\s+(\S+)\s")
_SCHEMA_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_COPY_RE = re.compile(r"^COPY\s+(\S+)\s+\(([^)]*)\)\s+FROM\s+stdin;$")
_DOLLAR_QUOTE_RE = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_TRANSACTION_RE = re.compile(
    r"^\s*(BEGIN|COMMIT|ROLLBACK|ABORT|END|START\s+TRANSACTION|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION)\b", re.I
)
# psql meta-commands a pg_restore script may carry: `\restrict` / `\unrestrict` (PostgreSQL 13.22, 14.19,
# 15.14, 16.10, 17.6 and later) fence the script against meta-commands smuggled in through data.
_ALLOWED_META = ("\\restrict ", "\\unrestrict ")


class ArchiveRefused(InvalidValue):
    """A backup file failed a check made before or during its restore: no checksum file, a checksum that does
    not match, an archive pg_restore cannot read, or a restored schema lacking what its migrations build.
    The message names the file and what is wrong; nothing was restored."""


def checksum_path(archive: Path) -> Path:
    """Return `<archive>.sha256`, where the checksum of `archive` is kept."""
    return archive.with_name(archive.name + CHECKSUM_SUFFIX)


def file_sha256(path: Path) -> str:
    """Return the sha256 of the file at `path` as 64 lowercase hex digits. Raises OSError when unreadable."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_write(archive: Path) -> Path:
    """Write `<archive>.sha256` (`<sha256 hex>  <archive name>`, readable by `sha256sum -c` in the archive's
    folder) readable by its owner only; return its path. The file appears only when complete (written as
    `.partial`, then renamed). Raises BackupError naming the file when it cannot be written."""
    target = checksum_path(archive)
    with file_complete_or_absent(target, failure=f"cannot write checksum file {target} of backup {archive}") as partial:
        partial.write_text(f"{file_sha256(archive)}  {archive.name}\n", encoding="utf-8")
    return target


def checksum_verify(archive: Path) -> str:
    """Check `archive` against `<archive>.sha256`; return the verified sha256 hex.

    The name on the checksum line is not compared (a renamed pair of files stays valid); the digest is.
    Raises ArchiveRefused when the checksum file is missing, unreadable or not one `sha256sum` line, or
    when the archive's sha256 differs from it (the archive was truncated, overwritten or replaced)."""
    sums = checksum_path(archive)
    if not sums.is_file():
        raise ArchiveRefused(
            f"backup file {archive} has no checksum file {sums}; backup_tenant and drop_schema write one beside "
            "every backup. Put it beside the archive, or restore with --no-checksum (pg_restore and the catalog "
            "comparison still check the archive, but damaged row data can go unnoticed). Nothing was restored"
        )
    try:
        lines = sums.read_text(encoding="utf-8").splitlines()
        actual = file_sha256(archive)
    except (OSError, UnicodeDecodeError) as exc:
        raise ArchiveRefused(f"checksum file {sums} or backup file {archive} cannot be read: {exc}") from exc
    match = _CHECKSUM_LINE_RE.match(lines[0]) if len(lines) == 1 else None
    if match is None:
        raise ArchiveRefused(
            f"checksum file {sums} holds {shown(chr(10).join(lines))}; expected one line "
            f"'<64 hex digits>  {archive.name}' as sha256sum writes it. Nothing was restored"
        )
    expected = match.group(1).lower()
    if actual != expected:
        raise ArchiveRefused(
            f"backup file {archive} does not match its checksum file {sums}: sha256 {actual}, expected {expected}; "
            f"the file was changed after the backup ({archive.stat().st_size} bytes now: truncated, overwritten or "
            "replaced). Nothing was restored"
        )
    return actual


def archive_schema_name(input_path: Path | str) -> str:
    """Return the name of the one schema a pg_dump custom-format archive holds (its SCHEMA entry), as
    `pg_restore --list` reads it.

    Raises NotFound when the file does not exist, ArchiveRefused when it cannot be read, is not an archive
    pg_restore can list, or holds no schema, several, or a system schema; BackupError when pg_restore is missing.
    """
    path = Path(input_path).absolute()  # never read as an option by pg_restore
    if not path.is_file():
        raise NotFound(f"backup file {path} does not exist or is not a file")
    try:
        with path.open("rb") as archive:
            magic = archive.read(len(ARCHIVE_MAGIC))
    except OSError as exc:
        raise ArchiveRefused(f"backup file {path} cannot be read: {exc}") from exc
    if magic != ARCHIVE_MAGIC:
        raise ArchiveRefused(f"backup file {path} is not a pg_dump custom-format archive (written by backup_tenant)")
    tool = pg_binary("pg_restore")
    try:
        listing = pg_run(tool, ["--list", str(path)], action=f"pg_restore --list {path}")
    except BackupError as exc:
        raise ArchiveRefused(f"backup file {path} is damaged: pg_restore cannot list it ({exc})") from exc
    schemas = [match.group(1) for line in listing.stdout.splitlines() if (match := _SCHEMA_ENTRY_RE.match(line))]
    if len(schemas) != 1:
        raise ArchiveRefused(f"backup file {path} holds schemas {schemas}; expected exactly one tenant schema")
    name = schemas[0]
    if not _SCHEMA_NAME_RE.match(name) or name in ("public", "information_schema") or name.startswith("pg_"):
        raise ArchiveRefused(f"backup file {path} holds schema {name!r}, not a tenant schema")
    return name


def archive_verify(input_path: Path | str, *, checksum: bool = True) -> str:
    """Verify the backup file at `input_path` before anything is restored from it; return the name of the
    schema it holds. Checks, in order: the file exists and starts like a pg_dump custom-format archive; with
    `checksum` (the default), its sha256 matches `<file>.sha256` (`checksum_verify`); `pg_restore --list`
    reads it and finds exactly one tenant schema (`archive_schema_name`).

    Raises NotFound for a missing file, ArchiveRefused for any failed check, BackupError when pg_restore
    is missing."""
    path = Path(input_path).absolute()
    if not path.is_file():
        raise NotFound(f"backup file {path} does not exist or is not a file")
    if checksum:
        try:
            with path.open("rb") as archive:
                magic = archive.read(len(ARCHIVE_MAGIC))
        except OSError as exc:
            raise ArchiveRefused(f"backup file {path} cannot be read: {exc}") from exc
        if magic == ARCHIVE_MAGIC:  # a file that is no archive at all is named as such below
            checksum_verify(path)
    return archive_schema_name(path)


def restore_script_check(script: Path, schema_name: str) -> set[tuple[str, str]]:
    """Check the SQL script pg_restore wrote from an archive of schema `schema_name` before psql runs it in
    the restore transaction: it creates `schema_name`, carries no transaction control of its own (outside
    dollar-quoted bodies and COPY data) and no psql meta-command but `\\restrict` / `\\unrestrict`.
    Return the (app, name) rows of its django_migrations data (the migration state of the backup).
    Raises BackupError naming the offending line."""
    creates_schema = False
    applied: set[tuple[str, str]] = set()
    for number, line, copy_columns, copy_table in _script_lines(script):
        if copy_table is not None:
            fields = line.split("\t")
            migrations = copy_table == f"{schema_name}.django_migrations" and {"app", "name"} <= set(copy_columns)
            if migrations and len(fields) == len(copy_columns):
                applied.add((fields[copy_columns.index("app")], fields[copy_columns.index("name")]))
            continue
        if line == f"CREATE SCHEMA {schema_name};":
            creates_schema = True
        if _TRANSACTION_RE.match(line):
            raise BackupError(f"{script.name} line {number} controls the transaction ({line[:60]!r}); not restored")
        if line.startswith("\\") and not line.startswith(_ALLOWED_META):
            raise BackupError(f"{script.name} line {number} runs psql command {line[:60]!r}; not restored")
    if not creates_schema:
        raise BackupError(f"{script.name} does not create schema {schema_name}; not restored")
    return applied


def _script_lines(script: Path) -> Iterator[tuple[int, str, list[str], str | None]]:
    """Yield (line number, line, COPY columns, COPY table or None) for lines outside dollar-quoted bodies;
    COPY data lines come with their table."""
    copy_table: str | None = None
    columns: list[str] = []
    dollar: str | None = None
    with script.open(encoding="utf-8") as lines:
        for number, raw in enumerate(lines, start=1):
            line = raw.rstrip("\n")
            if copy_table is not None:
                if line == "\\.":
                    copy_table = None
                else:
                    yield number, line, columns, copy_table
                continue
            if dollar is None:
                yield number, line, columns, None
            for tag in _DOLLAR_QUOTE_RE.findall(line):
                dollar = tag if dollar is None else (None if tag == dollar else dollar)
            if dollar is None and (match := _COPY_RE.match(line)):
                copy_table, columns = match.group(1), [c.strip().strip('"') for c in match.group(2).split(",")]
