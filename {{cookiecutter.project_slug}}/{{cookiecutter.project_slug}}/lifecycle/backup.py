"""Backups of tenant schemas (pg_dump, custom format) and their restore as a new tenant.

A backup is `pg_dump --format=custom --schema=<schema>`: that schema only, with its data, sequence
positions and constraints (including foreign keys into the public schema, such as django_admin_log's
to accounts_user), plus `<file>.sha256` beside it (lifecycle/archives.py). The public schema's rows for
the tenant (tenant, domains, memberships) are not in it.

Restore builds a new tenant from a backup while the original schema may still exist, and creates nothing
unless every check passes:

1. The archive is verified before anything is created (archives.archive_verify): its sha256 against
   `<file>.sha256` and `pg_restore --list`.
2. pg_restore cannot rename a schema, so the archive is turned into a plain SQL script (`pg_restore -f`;
   an archive whose data pg_restore cannot read is refused here) and run by psql in ONE transaction
   (`--single-transaction`, ON_ERROR_STOP) inside a wrapper that parks an existing schema of the archived
   name under a temporary name, runs the script (which creates the archived name), renames the result to
   a staging name `restore_staging_<hex>` and renames the parked schema back. Other sessions never see the
   parked state; the staging schema belongs to no tenant and no domain routes to it.
3. In one transaction of this process, under the provisioning lock of `tenant_<new slug>`: the staging
   schema is renamed to `tenant_<new slug>`, migrated when the backup's migrations are behind the code,
   and its catalog compared with the reference catalog of its migrations (verification.fleet_verify); a
   missing or changed table, column, index, constraint, sequence or trigger refuses the restore. Objects
   only the backup has ("extra", such as an index an operator added) are kept, as adoption does. Only
   then are the tenant (active), domain and owner membership rows inserted.
4. The staging schema is dropped whenever step 3 did not commit.

Object definitions PostgreSQL stores by OID (column defaults, identity sequences, indexes, constraints,
views) follow the renames; text that names the schema (function bodies) would not, and tenant schemas
have none.

pg_dump, pg_restore and psql are those of the server's major version (lifecycle/pgtools.py).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, OperationalError, connections, transaction
from django_tenants.utils import get_public_schema_name, schema_context

from ..accounts.domain import Role
from ..accounts.models import Membership, User
from ..audit.services import audit_record
from ..errors import Conflict, InvalidValue, NotFound
from ..fleet.executor import fleet_migrate
from ..fleet.plan import is_current
from ..fleet.verification import Catalog, fleet_verify, reference_catalogs
from ..tenancy.models import Domain, Tenant
from .archives import (
    ArchiveRefused,
    archive_schema_name,
    archive_verify,
    checksum_path,
    checksum_write,
    restore_script_check,
)
from .pgtools import LOCK_WAIT_TIMEOUT, BackupError, pg_binary, pg_dump_to_file, pg_run
from .provisioning import LOCK_NAMESPACE, provisioning_lock, schema_rename
from .services import TenantRequest, tenant_drop, tenant_request_validate

__all__ = [
    "ArchiveRefused",
    "BackupError",
    "archive_schema_name",
    "default_backup_path",
    "pg_binary",
    "restore_script_check",
    "schema_backup",
    "tenant_backup",
    "tenant_backup_and_drop",
    "tenant_restore",
]

STAGING_PREFIX = "restore_staging_"  # a restored schema before it belongs to a tenant (module docstring)

_SCHEMA_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


# ---------------------------------------------------------------------------
# Backup
# ---------------------------------------------------------------------------


def schema_backup(*, schema_name: str, output: Path | str) -> Path:
    """Write `pg_dump --format=custom` of schema `schema_name` (that schema only) to `output`; return `output`.

    Beside it goes `<output>.sha256` (archives.checksum_write), which restore verifies.

    Missing folders are created (the last one readable by its owner only); the files are readable by their
    owner only, as they hold the tenant's data. The archive appears only when complete: pg_dump writes
    `<output>.partial`, which is renamed after pg_dump exited 0 and wrote a non-empty file; if the checksum
    file cannot be written, the archive is removed again.
    Raises InvalidValue for a malformed or system schema name, NotFound when the schema does not exist,
    Conflict when `output` or its checksum file exists, BackupError when the folder cannot be written or
    pg_dump fails.
    """
    if not _SCHEMA_NAME_RE.match(schema_name or "") or schema_name == get_public_schema_name():
        raise InvalidValue(
            f"schema {schema_name!r} cannot be backed up here; expected a tenant schema such as tenant_acme"
        )
    if not _schema_exists(schema_name):
        raise NotFound(f"schema {schema_name!r} does not exist")
    output = Path(output)
    if checksum_path(output).exists():
        raise Conflict(f"checksum file {checksum_path(output)} already exists; choose another backup path")
    # A quoted pattern matches that one schema exactly.
    pg_dump_to_file([f'--schema="{schema_name}"'], output, action=f"backup of schema {schema_name} to {output}")
    try:
        checksum_write(output)
    except BackupError:
        output.unlink(missing_ok=True)
        raise
    return output


def default_backup_path(slug: str, folder: Path | None = None) -> Path:
    """Return `<folder>/<slug>-<UTC time YYYYmmddTHHMMSSZ>.dump` (with `-2`, `-3`... when it or its checksum
    file is taken); `folder` defaults to settings.TENANCY_BACKUP_DIR."""
    folder = Path(settings.TENANCY_BACKUP_DIR) if folder is None else folder
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path, number = folder / f"{slug}-{stamp}.dump", 2
    while path.exists() or checksum_path(path).exists():
        path, number = folder / f"{slug}-{stamp}-{number}.dump", number + 1
    return path


def tenant_backup(*, slug: str, output: Path | str | None = None) -> Path:
    """Back up the schema of tenant `slug` to `output` (a file path; an existing folder gets the default file
    name; default `default_backup_path(slug)`); return the path written.

    `<path>.sha256` is written beside it (`schema_backup`).
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
    with schema_context(get_public_schema_name()), transaction.atomic():
        tenant = _backup_target(slug)
        path = None
        if _schema_exists(tenant.schema_name):
            path = _output_path(slug, output)
            _lock_against_writers(tenant.schema_name)
            schema_backup(schema_name=tenant.schema_name, output=path)
        dropped = tenant_drop(slug=slug, backup=str(path) if path else None)
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


def tenant_restore(
    *,
    input_path: Path | str,
    slug: str,
    domain: str | None = None,
    name: str | None = None,
    owner_email: str | None = None,
    checksum: bool = True,
) -> Tenant:
    """Restore a backup (`tenant_backup`, `drop_schema`) as a new, active tenant `slug` with schema
    `tenant_<slug>`, primary domain `domain` (default `<slug>.<TENANCY_BASE_DOMAIN>`), name `name` (default the
    slug) and, when `owner_email` is given, an owner membership of that existing user. Returns the tenant.

    The schema of the backup may still exist (the original tenant is untouched). Steps and their order are in
    the module docstring: the archive is verified first (with `checksum`, against `<file>.sha256`; without,
    by pg_restore alone), a backup whose migrations are behind the code is migrated, and the schema's catalog
    must hold everything its migrations build before the tenant rows are inserted. Nothing is created unless
    all of it succeeds.
    Raises InvalidValue / InvalidSlug / InvalidDomain for malformed values, TenantExists / DomainTaken when
    the slug, schema or domain is taken, NotFound for a missing file or unknown owner, ArchiveRefused (an
    InvalidValue) for a file without checksum or not matching it, an archive pg_restore cannot read or that
    holds no single tenant schema, and a restored catalog lacking objects of its migrations; BackupError when
    pg_restore or psql is missing or fails, or migrating the restored schema fails.
    """
    name = slug if name is None else name
    request = tenant_request_validate(name=name, slug=slug, domain=domain, owner_email=owner_email)
    owner_id = None
    if request.owner_email is not None:
        with schema_context(get_public_schema_name()):
            owner_id = User.objects.filter(email__iexact=request.owner_email).values_list("id", flat=True).first()
        if owner_id is None:
            raise NotFound(f"no user with email {request.owner_email!r}; create the user first or omit the owner")
    archive = Path(input_path).absolute()
    archived = archive_verify(archive, checksum=checksum)
    staging = f"{STAGING_PREFIX}{secrets.token_hex(8)}"
    # Held while the staging schema exists: tenants_doctor --fix drops a leftover one only when its lock is free.
    with provisioning_lock(staging):
        try:
            applied = _restore_to_staging(archive, archived, staging)
            return _staging_adopt(archive, staging, request=request, owner_id=owner_id, applied=applied)
        finally:
            _schema_drop_if_exists(staging)


def _restore_to_staging(archive: Path, archived: str, staging: str) -> set[tuple[str, str]]:
    """Run the archive's SQL in one psql transaction, leaving its schema as `staging` (committed); return the
    migrations the backup recorded. Raises ArchiveRefused when pg_restore cannot read the archive's data or
    writes SQL that is not UTF-8 (damaged row data), BackupError when the script is refused
    (restore_script_check) or psql fails (nothing is left then)."""
    psql, pg_restore = pg_binary("psql"), pg_binary("pg_restore")
    with tempfile.TemporaryDirectory(prefix="tenant-restore-") as folder:
        script = Path(folder) / "restore.sql"
        convert = ["--no-owner", "--no-privileges", "--no-tablespaces", f"--file={script}", str(archive)]
        try:
            pg_run(pg_restore, convert, action=f"converting backup file {archive} to SQL")
        except BackupError as exc:
            raise ArchiveRefused(
                f"backup file {archive} is damaged: pg_restore cannot read all of it ({exc}); nothing was restored"
            ) from exc
        try:
            applied = restore_script_check(script, archived)
        except UnicodeDecodeError as exc:
            raise ArchiveRefused(
                f"backup file {archive} is damaged: the SQL pg_restore wrote from it is not UTF-8 ({exc}); "
                "nothing was restored"
            ) from exc
        variables = {
            "archived_schema": archived,
            "parked_schema": f"restore_parked_{secrets.token_hex(8)}",
            "staging_schema": staging,
            "lock_namespace": str(LOCK_NAMESPACE),
        }
        wrapper = Path(folder) / "wrapper.sql"
        wrapper.write_text(_WRAPPER.format(script=script.name))
        args = ["--no-psqlrc", "--quiet", "--no-password", "--single-transaction", "--set=ON_ERROR_STOP=1"]
        args += [*(f"--set={key}={value}" for key, value in variables.items()), f"--file={wrapper}"]
        pg_run(psql, args, action=f"restoring {archive} (nothing was restored)")
    return applied


# Runs in psql with ON_ERROR_STOP inside --single-transaction; values only through psql variables
# (:'literal', :"identifier"), never formatted into the SQL. The advisory lock is provisioning's
# (lifecycle/provisioning.py), for the transaction: concurrent restores of one archive, and provisioning of
# the archived schema name, wait for each other instead of failing on a concurrently renamed schema.
_WRAPPER = """\
SELECT pg_advisory_xact_lock(:lock_namespace, hashtext(:'archived_schema'));
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = :'archived_schema') AS archived_exists \\gset
\\if :archived_exists
ALTER SCHEMA :"archived_schema" RENAME TO :"parked_schema";
\\endif
\\ir {script}
ALTER SCHEMA :"archived_schema" RENAME TO :"staging_schema";
\\if :archived_exists
ALTER SCHEMA :"parked_schema" RENAME TO :"archived_schema";
\\endif
"""


def _staging_adopt(
    archive: Path, staging: str, *, request: TenantRequest, owner_id: int | None, applied: set[tuple[str, str]]
) -> Tenant:
    """In one transaction under the provisioning lock of the new schema: rename `staging` to it, migrate it
    when `applied` is behind the code, compare its catalog with the reference, insert the tenant (active),
    domain and membership rows. Raises TenantExists / DomainTaken when taken meanwhile, ArchiveRefused for a
    catalog lacking objects, BackupError when migrating fails or the database refuses a write."""
    target = request.schema_name
    # Built (or taken from this process's cache) before the lock: the first build migrates scratch schemas.
    references = reference_catalogs()
    with schema_context(get_public_schema_name()), provisioning_lock(target):
        try:
            with transaction.atomic():
                # Checked again under the lock: another tenant may have taken slug, schema or domain meanwhile.
                tenant_request_validate(
                    name=request.name, slug=request.slug, domain=request.domain, owner_email=request.owner_email
                )
                schema_rename(staging, target)
                if not is_current(applied):
                    report = fleet_migrate(schemas=[(target, request.slug)], retries=0)
                    if not report.ok:
                        raise BackupError(
                            f"restoring {archive} as tenant {request.slug!r}: migrating its schema to the current "
                            f"migrations failed: {report.failed[0].error}; nothing was restored"
                        )
                _catalog_check(archive, target, references)
                tenant = Tenant.objects.create(
                    name=request.name, slug=request.slug, schema_name=target, status=Tenant.Status.ACTIVE
                )
                Domain.objects.create(domain=request.domain, tenant=tenant, is_primary=True)
                if owner_id is not None:
                    Membership.objects.create(user_id=owner_id, tenant=tenant, role=Role.OWNER.value)
                audit_record(
                    "tenant.restore", tenant=tenant, target=f"tenant {request.slug!r}",
                    detail={"archive": str(archive), "domain": request.domain, "owner_email": request.owner_email},
                )  # fmt: skip
        except DatabaseError as exc:
            raise BackupError(
                f"restoring {archive} as tenant {request.slug!r} (nothing was restored): {str(exc).strip()}"
            ) from exc
    return tenant


MAX_NAMED_OBJECTS = 20  # objects a refused catalog comparison names before "and N more"


def _catalog_check(archive: Path, schema_name: str, references: dict[str, Catalog]) -> None:
    """Refuse (ArchiveRefused) when the catalog of `schema_name` lacks or changes an object the reference
    catalog of its migrations has; objects only the schema has are tolerated, as adoption does
    (adoption/steps.py)."""
    drift = fleet_verify([schema_name], references=references).get(schema_name, [])
    wrong = [difference for difference in drift if difference.change != "extra"]
    if not wrong:
        return
    named = [
        f"{d.change} {d.object} (expected {d.expected!r}" + (f", found {d.found!r})" if d.found else ")")
        for d in wrong[:MAX_NAMED_OBJECTS]
    ]
    more = f"; and {len(wrong) - MAX_NAMED_OBJECTS} more" if len(wrong) > MAX_NAMED_OBJECTS else ""
    raise ArchiveRefused(
        f"backup file {archive} does not restore what its migrations build: {'; '.join(named)}{more}. The archive "
        "was damaged, or its schema was changed outside the migrations before the backup; nothing was restored"
    )


def _schema_drop_if_exists(schema_name: str) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    with schema_context(get_public_schema_name()), connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {connection.ops.quote_name(schema_name)} CASCADE")
