"""Backups of tenant schemas (pg_dump, custom format) and their restore as a new tenant.

A backup is `pg_dump --format=custom --schema=<schema>`: that schema only, with its data, sequence
positions and constraints (including foreign keys into the public schema, such as django_admin_log's
to accounts_user). The public schema's rows for the tenant (tenant, domains, memberships) are not in it.

Restore builds a new tenant from a backup while the original schema may still exist. pg_restore cannot
rename a schema, so the archive is turned into a plain SQL script (`pg_restore -f`) and run by psql in ONE
transaction (`--single-transaction`, ON_ERROR_STOP) inside a wrapper that parks an existing schema of
the archived name under a temporary name, runs the script (which creates the archived name), renames
the result to `tenant_<new slug>`, renames the parked schema back, and inserts the tenant, domain and
owner membership rows. Other sessions never see the intermediate state; any failure rolls all of it back.
Object definitions PostgreSQL stores by OID (column defaults, identity sequences, indexes, constraints,
views) follow the rename; text that names the schema (function bodies) would not, and tenant schemas
have none.

pg_dump, pg_restore and psql are those of the server's major version (tenancy/pgtools.py).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import tempfile
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, models, transaction
from django_tenants.utils import get_public_schema_name, schema_context

from ..errors import InvalidValue, NotFound
from .models import Domain, Tenant
from .pgtools import LOCK_WAIT_TIMEOUT, BackupError, pg_binary, pg_dump_to_file, pg_run
from .provisioning import LOCK_NAMESPACE

if TYPE_CHECKING:
    from .services import TenantRequest

ARCHIVE_MAGIC = b"PGDMP"  # first bytes of a pg_dump custom-format archive

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


# ---------------------------------------------------------------------------
# Backup
# ---------------------------------------------------------------------------


def schema_backup(*, schema_name: str, output: Path | str) -> Path:
    """Write `pg_dump --format=custom` of schema `schema_name` (that schema only) to `output`; return `output`.

    Missing folders are created (the last one readable by its owner only); the file is readable by its
    owner only, as it holds the tenant's data. The file appears only when complete: pg_dump writes
    `<output>.partial`, which is renamed after pg_dump exited 0 and wrote a non-empty file.
    Raises InvalidValue for a malformed or system schema name, NotFound when the schema does not exist,
    Conflict when `output` exists, BackupError when the folder cannot be written or pg_dump fails.
    """
    if not _SCHEMA_NAME_RE.match(schema_name or "") or schema_name == get_public_schema_name():
        raise InvalidValue(
            f"schema {schema_name!r} cannot be backed up here; expected a tenant schema such as tenant_acme"
        )
    if not _schema_exists(schema_name):
        raise NotFound(f"schema {schema_name!r} does not exist")
    # A quoted pattern matches that one schema exactly.
    return pg_dump_to_file(
        [f'--schema="{schema_name}"'], Path(output), action=f"backup of schema {schema_name} to {output}"
    )


def default_backup_path(slug: str, folder: Path | None = None) -> Path:
    """Return `<folder>/<slug>-<UTC time YYYYmmddTHHMMSSZ>.dump` (with `-2`, `-3`... when taken); `folder`
    defaults to settings.TENANCY_BACKUP_DIR."""
    folder = Path(settings.TENANCY_BACKUP_DIR) if folder is None else folder
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path, number = folder / f"{slug}-{stamp}.dump", 2
    while path.exists():
        path, number = folder / f"{slug}-{stamp}-{number}.dump", number + 1
    return path


def tenant_backup(*, slug: str, output: Path | str | None = None) -> Path:
    """Back up the schema of tenant `slug` to `output` (a file path; an existing folder gets the default file
    name; default `default_backup_path(slug)`); return the path written.

    Raises NotFound for an unknown slug, InvalidValue for the public tenant, plus what `schema_backup` raises.
    """
    tenant = _backup_target(slug)
    return schema_backup(schema_name=tenant.schema_name, output=_output_path(slug, output))


def _output_path(slug: str, output: Path | str | None) -> Path:
    if not output:
        return default_backup_path(slug)
    path = Path(output)
    return default_backup_path(slug, path) if path.is_dir() else path


def tenant_backup_and_drop(*, slug: str, output: Path | str | None = None) -> tuple[Tenant, Path | None]:
    """Back up tenant `slug` like `tenant_backup`, then drop it like services.tenant_drop; return (the dropped,
    unsaved tenant, the backup path, or None when the tenant had no schema to back up). Nothing is dropped
    unless the backup succeeded.

    No write is lost in between: the tenant's tables are locked against writers (SHARE mode; readers go on)
    in the transaction that drops them, before pg_dump starts. Raises what `tenant_backup` and tenant_drop
    raise; BackupError also when the tables cannot be locked within LOCK_WAIT_TIMEOUT.
    """
    from .services import tenant_drop

    with schema_context(get_public_schema_name()), transaction.atomic():
        tenant = _backup_target(slug)
        path = None
        if _schema_exists(tenant.schema_name):
            path = _output_path(slug, output)
            _lock_against_writers(tenant.schema_name)
            schema_backup(schema_name=tenant.schema_name, output=path)
        dropped = tenant_drop(slug=slug)
    return dropped, path


def _backup_target(slug: str) -> Tenant:
    public = get_public_schema_name()
    with schema_context(public):
        tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise NotFound(f"no tenant with slug {slug!r}; see `manage.py list_tenants`")
    if tenant.schema_name == public:
        raise InvalidValue(f"tenant {slug!r} is the public schema; only tenant schemas are backed up")
    return tenant


def _schema_exists(schema_name: str) -> bool:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", [schema_name])
        return cursor.fetchone() is not None


def _lock_against_writers(schema_name: str) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
            [schema_name],
        )
        tables = [f"{quote(schema_name)}.{quote(row[0])}" for row in cursor.fetchall()]
        if not tables:
            return
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT_TIMEOUT}'")
        try:
            cursor.execute(f"LOCK TABLE {', '.join(tables)} IN SHARE MODE")
        except OperationalError as exc:
            raise BackupError(f"could not lock the tables of schema {schema_name} against writers: {exc}") from exc


# ---------------------------------------------------------------------------
# Restore
# ---------------------------------------------------------------------------


def archive_schema_name(input_path: Path | str) -> str:
    """Return the name of the one schema a pg_dump custom-format archive holds (its SCHEMA entry).

    Raises NotFound when the file does not exist, InvalidValue when it cannot be read, is not an archive
    pg_restore can list, or holds no schema, several, or a system schema; BackupError when pg_restore is missing.
    """
    path = Path(input_path).absolute()  # never read as an option by pg_restore
    if not path.is_file():
        raise NotFound(f"backup file {path} does not exist or is not a file")
    try:
        with path.open("rb") as archive:
            magic = archive.read(len(ARCHIVE_MAGIC))
    except OSError as exc:
        raise InvalidValue(f"backup file {path} cannot be read: {exc}") from exc
    if magic != ARCHIVE_MAGIC:
        raise InvalidValue(f"backup file {path} is not a pg_dump custom-format archive (written by backup_tenant)")
    try:
        listing = pg_run(pg_binary("pg_restore"), ["--list", str(path)], action=f"reading backup file {path}")
    except BackupError as exc:
        raise InvalidValue(f"backup file {path} cannot be read as an archive: {exc}") from exc
    schemas = [match.group(1) for line in listing.stdout.splitlines() if (match := _SCHEMA_ENTRY_RE.match(line))]
    if len(schemas) != 1:
        raise InvalidValue(f"backup file {path} holds schemas {schemas}; expected exactly one tenant schema")
    name = schemas[0]
    if not _SCHEMA_NAME_RE.match(name) or name in ("public", "information_schema") or name.startswith("pg_"):
        raise InvalidValue(f"backup file {path} holds schema {name!r}, not a tenant schema")
    return name


def tenant_restore(
    *,
    input_path: Path | str,
    slug: str,
    domain: str | None = None,
    name: str | None = None,
    owner_email: str | None = None,
) -> Tenant:
    """Restore a backup (`tenant_backup`, `drop_schema`) as a new tenant `slug` with schema `tenant_<slug>`,
    primary domain `domain` (default `<slug>.<TENANCY_BASE_DOMAIN>`), name `name` (default the slug) and,
    when `owner_email` is given, an owner membership of that existing user. Returns the tenant.

    The schema of the backup may still exist (the original tenant is untouched). Everything happens in one
    transaction (module docstring). The tenant is active when the backup's migrations are current; else it
    is created in `provisioning` and migrated at once (services.tenant_provision_complete; if that fails,
    `tenants_doctor --fix` completes it).
    Raises InvalidValue / InvalidSlug / InvalidDomain for malformed values, TenantExists / DomainTaken when
    the slug, schema or domain is taken, NotFound for a missing file or unknown owner, InvalidValue for a file
    that is not a one-schema archive, BackupError when pg_restore or psql fails (nothing is created then).
    """
    from ..accounts.models import User
    from .fleet import is_current
    from .services import tenant_provision_complete, tenant_request_validate

    name = slug if name is None else name
    request = tenant_request_validate(name=name, slug=slug, domain=domain, owner_email=owner_email)
    owner_id = None
    if request.owner_email is not None:
        with schema_context(get_public_schema_name()):
            owner_id = User.objects.filter(email__iexact=request.owner_email).values_list("id", flat=True).first()
        if owner_id is None:
            raise NotFound(f"no user with email {request.owner_email!r}; create the user first or omit the owner")
    archived = archive_schema_name(input_path)
    archive = Path(input_path).absolute()
    psql, pg_restore = pg_binary("psql"), pg_binary("pg_restore")
    with tempfile.TemporaryDirectory(prefix="tenant-restore-") as folder:
        script = Path(folder) / "restore.sql"
        convert = ["--no-owner", "--no-privileges", "--no-tablespaces", f"--file={script}", str(archive)]
        pg_run(pg_restore, convert, action=f"converting backup file {archive} to SQL")
        current = is_current(restore_script_check(script, archived))
        status = Tenant.Status.ACTIVE if current else Tenant.Status.PROVISIONING
        locks = sorted({archived, request.schema_name})
        variables = {
            "archived_schema": archived,
            "parked_schema": f"restore_parked_{secrets.token_hex(8)}",
            "target_schema": request.schema_name,
            "rename_needed": "true" if archived != request.schema_name else "false",
            "lock_namespace": str(LOCK_NAMESPACE),
            "lock_first": locks[0],
            "lock_second": locks[-1],
        }
        inserts = _public_rows(request, status.value, owner_id, variables)
        wrapper = Path(folder) / "wrapper.sql"
        wrapper.write_text(_WRAPPER.format(script=script.name, inserts="\n".join(inserts)))
        args = ["--no-psqlrc", "--quiet", "--no-password", "--single-transaction", "--set=ON_ERROR_STOP=1"]
        args += [*(f"--set={key}={value}" for key, value in variables.items()), f"--file={wrapper}"]
        pg_run(psql, args, action=f"restoring {archive} as tenant {request.slug!r} (nothing was restored)")
    if status == Tenant.Status.PROVISIONING:
        try:
            return tenant_provision_complete(slug=request.slug)
        except Exception as exc:
            raise BackupError(
                f"restored {archive} as tenant {request.slug!r}, left in provisioning because migrating its schema "
                f"failed: {exc}; `manage.py tenants_doctor --fix` completes it"
            ) from exc
    with schema_context(get_public_schema_name()):
        return Tenant.objects.get(slug=request.slug)


# Runs in psql with ON_ERROR_STOP inside --single-transaction; values only through psql variables
# (:'literal', :"identifier"), never formatted into the SQL. The advisory locks are provisioning's
# (tenancy/provisioning.py), for the transaction: concurrent restores of one archive, and provisioning of
# the same schema, wait for each other instead of failing on a concurrently renamed schema.
_WRAPPER = """\
SELECT pg_advisory_xact_lock(:lock_namespace, hashtext(:'lock_first'));
SELECT pg_advisory_xact_lock(:lock_namespace, hashtext(:'lock_second'));
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = :'archived_schema') AS archived_exists \\gset
\\if :archived_exists
ALTER SCHEMA :"archived_schema" RENAME TO :"parked_schema";
\\endif
\\ir {script}
\\if :rename_needed
ALTER SCHEMA :"archived_schema" RENAME TO :"target_schema";
\\endif
\\if :archived_exists
ALTER SCHEMA :"parked_schema" RENAME TO :"archived_schema";
\\endif
{inserts}
"""


def _public_rows(request: TenantRequest, status: str, owner_id: int | None, variables: dict[str, str]) -> list[str]:
    """INSERTs of the tenant row, its primary domain and the owner membership (when `owner_id`)."""
    from ..accounts.models import Membership

    tenant: dict[str, object] = {"name": request.name, "slug": request.slug, "schema_name": request.schema_name}
    tenant["status"] = status
    tenant_id = {"tenant_id": ":restored_tenant_id"}  # set by the first INSERT's \gset
    rows = [
        _insert(Tenant, tenant, {}, variables, returning="restored_tenant_id"),
        _insert(Domain, {"domain": request.domain, "is_primary": True}, tenant_id, variables),
    ]
    if owner_id is not None:
        rows.append(_insert(Membership, {"user_id": owner_id, "role": "owner"}, tenant_id, variables))
    return rows


def _insert(
    model: type[models.Model],
    values: dict[str, object],
    sql_values: dict[str, str],
    variables: dict[str, str],
    *,
    returning: str | None = None,
) -> str:
    """An INSERT into the public schema's table of `model` with every concrete column but the primary key:
    from `sql_values` (column -> our own SQL), else the value Django would save for `values` (defaults and
    auto_now_add included), passed as a psql variable added to `variables`."""
    from django.db import connection

    instance = model(**values)
    quote = connection.ops.quote_name
    columns, expressions = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        column = str(field.column)
        if column in sql_values:
            expression = sql_values[column]
        else:
            value = field.get_db_prep_save(field.pre_save(instance, add=True), connection)
            if value is None:
                expression = "NULL"
            else:
                variable = f"{model._meta.db_table}__{column}"
                variables[variable] = _as_text(value, field)
                expression = f":'{variable}'"
        columns.append(quote(column))
        expressions.append(expression)
    table = f"{quote(get_public_schema_name())}.{quote(model._meta.db_table)}"
    suffix = f" RETURNING {quote(str(model._meta.pk.column))} AS {returning} \\gset" if returning else ";"
    # Identifiers come from the model and are quoted; values are psql variables.
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(expressions)}){suffix}"  # noqa: S608


def _as_text(value: object, field: models.Field) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, str | int | float | Decimal | uuid.UUID):
        return str(value)
    raise BackupError(f"field {field.model.__name__}.{field.name}: cannot pass a {type(value).__name__} to psql")


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
