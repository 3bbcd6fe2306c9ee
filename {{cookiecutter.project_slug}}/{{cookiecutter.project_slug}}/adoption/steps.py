"""Carrying out an adoption plan in one transaction (`tenant_adopt`): the steps of the package docstring."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps as installed_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from django.dispatch import Signal
from django_tenants.utils import get_public_schema_name, schema_context

from ..audit.services import audit_record
from ..errors import DomainError
from ..fleet.plan import Migration, forward_plan
from ..lifecycle.backup import default_backup_path
from ..lifecycle.doctor import schema_drift
from ..lifecycle.pgtools import pg_dump_to_file
from ..lifecycle.provisioning import provisioning_lock
from ..lifecycle.services import public_tenant_ensure
from ..tenancy.models import Domain, Tenant
from . import legacy_users
from .plan import AdoptionPlan, AdoptionRefused, ContentTypeColumn, UserColumn, adoption_plan

STEPS = (
    "backup", "archive", "migrate_public", "create_tenant", "move_tables", "migrate_tenant", "import_users",
    "repoint_references", "check_schema", "commit",
)  # fmt: skip
# Sent as each step starts, with keyword arguments step (one of STEPS) and slug.
adoption_step = Signal()


class AdoptionFailed(Exception):
    """A step of adoption failed and everything was rolled back; `step` names it (one of STEPS)."""

    def __init__(self, step: str, error: BaseException) -> None:
        super().__init__(
            f"adoption failed in step {step}: {type(error).__name__}: {error}; everything was rolled back, "
            "the database is as it was"
        )
        self.step = step


@dataclass(frozen=True)
class AdoptionResult:
    tenant: Tenant
    backup: Path | None
    accounts: int


def adoption_backup_path(slug: str) -> Path:
    """`<TENANCY_BACKUP_DIR>/adopt-<slug>-<UTC time>.dump` (`-2`, `-3`... when taken)."""
    return default_backup_path(f"adopt-{slug}")


def adoption_backup(plan: AdoptionPlan, output: Path) -> Path:
    """pg_dump (custom format, server's major version) of every table adoption changes, as they are now:
    the tables to move and to archive and public.django_migrations. Written as `<output>.partial` and
    renamed when complete. Raises Conflict when `output` exists, BackupError when pg_dump fails."""
    public = get_public_schema_name()
    tables = [move.table for move in plan.moves] + list(plan.archive_tables) + ["django_migrations"]
    # A quoted pattern matches that one table exactly.
    selection = [f'--table="{public}"."{table}"' for table in tables]
    return pg_dump_to_file(selection, output, action=f"backup of {len(tables)} tables to {output}")


def tenant_adopt(
    *,
    name: object,
    slug: object,
    domain: object | None = None,
    legacy_users_table: str = "auth_user",
    placeholder_emails: bool = False,
    owner_email: object | None = None,
    backup: bool = True,
) -> AdoptionResult:
    """Adopt this database's single-tenant data as a new tenant (module docstring), in one transaction.

    Arguments as for `adoption_plan`; `backup`: write `adoption_backup_path(slug)` first.
    Raises what adoption_plan raises (checked again inside the transaction, after locking the tables),
    BackupError when the backup fails (nothing is changed), AdoptionRefused when the new schema differs from
    one built by migrations, AdoptionFailed naming the step when any step fails; either way all of it is
    rolled back.
    """
    arguments: dict[str, Any] = {
        "name": name,
        "slug": slug,
        "domain": domain,
        "legacy_users_table": legacy_users_table,
        "placeholder_emails": placeholder_emails,
        "owner_email": owner_email,
    }
    plan = adoption_plan(**arguments)
    request = plan.request
    path = None
    if backup:
        _announce("backup", request.slug)
        path = adoption_backup(plan, adoption_backup_path(request.slug))
    progress = _Progress(request.slug)
    try:
        with schema_context(get_public_schema_name()), provisioning_lock(request.schema_name), transaction.atomic():
            # Writers of the legacy tables would race the moves: lock the tables, then check again.
            _lock_tables(plan)
            plan = adoption_plan(**arguments)
            tenant = _adopt(plan, progress)
            audit_record(
                "tenant.adopt", tenant=tenant, target=f"tenant {request.slug!r}",
                detail={
                    "accounts": len(plan.users.accounts), "legacy_users_table": legacy_users_table,
                    "archive_schema": plan.archive_schema, "backup": str(path) if path else None,
                },
            )  # fmt: skip
    except DomainError:
        raise
    except Exception as exc:
        raise AdoptionFailed(progress.current, exc) from exc
    return AdoptionResult(tenant=tenant, backup=path, accounts=len(plan.users.accounts))


class _Progress:
    """The step adoption is in, announced through `adoption_step` as it starts."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.current = "check"

    def enter(self, step: str) -> None:
        self.current = step
        _announce(step, self.slug)


def _announce(step: str, slug: str) -> None:
    adoption_step.send(sender=None, step=step, slug=slug)


def _lock_tables(plan: AdoptionPlan) -> None:
    quote = connection.ops.quote_name
    tables = ", ".join(quote(table) for table in [move.table for move in plan.moves] + list(plan.archive_tables))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '60s'")
        cursor.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE")
        cursor.execute("SET LOCAL lock_timeout = 0")


def _adopt(plan: AdoptionPlan, progress: _Progress) -> Tenant:
    request = plan.request
    progress.enter("archive")
    _archive(plan)
    progress.enter("migrate_public")
    _migrate_schema(get_public_schema_name(), fake=set())
    progress.enter("create_tenant")
    public_tenant_ensure(domain=plan.base_domain)
    tenant = Tenant.objects.create(
        name=request.name, slug=request.slug, schema_name=request.schema_name, status=Tenant.Status.ACTIVE
    )
    Domain.objects.create(domain=request.domain, tenant=tenant, is_primary=True)
    progress.enter("move_tables")
    _move_into(request.schema_name, [move.table for move in plan.moves])
    progress.enter("migrate_tenant")
    loader = MigrationLoader(None, ignore_no_migrations=True)
    _migrate_schema(request.schema_name, fake={key for key in loader.graph.nodes if key[0] in plan.moved_apps})
    progress.enter("import_users")
    mapping = legacy_users.users_import(plan.users, tenant_id=tenant.pk, owner_email=plan.owner_email)
    progress.enter("repoint_references")
    _repoint_references(plan, mapping)
    progress.enter("check_schema")
    _check_schema(request.schema_name)
    progress.enter("commit")
    return tenant


def _archive(plan: AdoptionPlan) -> None:
    _move_into(plan.archive_schema, plan.archive_tables)
    if plan.archive_apps:
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {quote(get_public_schema_name())}.django_migrations WHERE app = ANY(%s)",  # noqa: S608
                [list(plan.archive_apps)],
            )


def _move_into(schema: str, tables: Iterable[str]) -> None:
    """Create `schema` and move public `tables` into it: ALTER TABLE ... SET SCHEMA takes the table's indexes,
    constraints and the sequences its columns own along, and copies no row."""
    quote = connection.ops.quote_name
    public = get_public_schema_name()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {quote(schema)}")
        for table in tables:
            cursor.execute(f"ALTER TABLE {quote(public)}.{quote(table)} SET SCHEMA {quote(schema)}")


def _migrate_schema(schema: str, *, fake: set[Migration]) -> None:
    """Bring `schema` to the project's migrations in graph order: migrations in `fake` are only recorded
    (their tables are already there), every other unrecorded one is applied (django-tenants' router skips
    the operations of apps that do not belong in this schema, as migrate_schemas does). Then post_migrate
    runs (content types, permissions), as after `migrate`."""
    with schema_context(schema):
        executor = MigrationExecutor(connection)
        loader = executor.loader
        executor.recorder.ensure_schema()
        recorded = set(executor.recorder.applied_migrations())
        state = ProjectState(real_apps=loader.unmigrated_apps)
        plan = []
        for key in forward_plan(loader):
            migration = loader.graph.nodes[key]
            if key in recorded:
                state = migration.mutate_state(state, preserve=False)
            elif key in fake:
                state = migration.mutate_state(state, preserve=False)
                executor.recorder.record_applied(*key)
                plan.append((migration, False))
            else:
                if "apps" not in state.__dict__:
                    state.apps  # noqa: B018 - rendered once; later migrations update it (as Django's executor does)
                state = executor.apply_migration(state, migration)
                plan.append((migration, False))
        if plan:
            emit_post_migrate_signal(0, False, connection.alias, apps=state.apps, plan=plan)


def _repoint_references(plan: AdoptionPlan, mapping: dict[int, int]) -> None:
    """Rewrite the columns of the moved tables that referred to archived legacy tables (users, content types)
    to the rows that replace them, with their type and foreign key as this project's migrations create them
    (none for the admin log: _DROPPED_USER_KEYS). `mapping`: legacy user id -> account id."""
    _user_keys_drop(plan.request.schema_name)
    columns: list[UserColumn | ContentTypeColumn] = [*plan.user_columns, *plan.content_type_columns]
    if not columns:
        return
    with schema_context(plan.request.schema_name), connection.cursor() as cursor:
        # ALTER TABLE refuses a table with pending deferred foreign-key checks: run the queued ones now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        if plan.user_columns:
            _user_columns_rewrite(cursor, plan, mapping)
        if plan.content_type_columns:
            _content_type_columns_rewrite(cursor, plan)
    by_table = {model._meta.db_table: model for model in installed_apps.get_models(include_auto_created=True)}
    with schema_context(plan.request.schema_name), connection.schema_editor() as editor:
        for column in columns:
            model = by_table.get(column.table)
            field = next((f for f in model._meta.local_fields if f.column == column.column), None) if model else None
            if field is None or not getattr(field, "db_constraint", False):
                continue
            if (column.table, column.column) in _DROPPED_USER_KEYS:
                continue
            # The foreign key exactly as the project's migrations create it (name, DEFERRABLE INITIALLY DEFERRED):
            # Django's own builder, the one AddField uses.
            sql = editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s")  # type: ignore[attr-defined]
            editor.execute(sql)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


# References to the user table that tenant schemas keep without a foreign key although the model declares one:
# Django's admin log, whose key bookings migration 0004 drops. (The project's own models declare theirs with
# db_constraint=False; a model of yours with a key to users keeps it.) As (table, column).
_DROPPED_USER_KEYS = {("django_admin_log", "user_id")}


def _user_keys_drop(schema: str) -> None:
    """Drop the foreign keys of _DROPPED_USER_KEYS in `schema`. The migrate_tenant step creates the admin log's
    when it builds the admin log here, and bookings migration 0004, which drops it, may be recorded without
    running (every migration of a moved app is)."""
    quote = connection.ops.quote_name
    user_table = f"{quote(get_public_schema_name())}.{quote(get_user_model()._meta.db_table)}"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, a.attname, k.conname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] "
            "WHERE k.contype = 'f' AND n.nspname = %s AND k.confrelid = to_regclass(%s) ORDER BY 1, 3",
            [schema, user_table],
        )
        for table, column, name in cursor.fetchall():
            if (table, column) in _DROPPED_USER_KEYS:
                cursor.execute(f"ALTER TABLE {quote(schema)}.{quote(table)} DROP CONSTRAINT {quote(name)}")


def _column_rewrite(cursor: Any, table: str, column: str, constraint: str | None, db_type: str, function: str) -> None:
    """Drop `constraint` (the foreign key to the legacy table) and give `table`.`column` type `db_type` with
    each value passed through SQL function `function`: one rewrite of the table that computes every new id
    from the legacy one, so a new id is never taken for a legacy one, and indexes are rebuilt after it, so a
    unique key never sees a half-rewritten column (an UPDATE would check it row by row)."""
    quote = connection.ops.quote_name
    name = quote(column)
    if constraint:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {quote(constraint)}")
    cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {name} TYPE {db_type} USING {function}({name})")


def _user_columns_rewrite(cursor: Any, plan: AdoptionPlan, mapping: dict[int, int]) -> None:
    """Legacy user ids -> account ids (`mapping`); users not imported become NULL or leave a link table."""
    quote = connection.ops.quote_name
    cursor.execute(
        "CREATE TEMPORARY TABLE adoption_user_map (legacy_id bigint PRIMARY KEY, user_id bigint NOT NULL) "
        "ON COMMIT DROP"
    )
    cursor.executemany("INSERT INTO adoption_user_map VALUES (%s, %s)", list(mapping.items()))
    cursor.execute(
        "CREATE FUNCTION pg_temp.adoption_user(bigint) RETURNS bigint LANGUAGE sql STABLE "
        "AS 'SELECT user_id FROM adoption_user_map WHERE legacy_id = $1'"
    )
    db_type = str(get_user_model()._meta.pk.rel_db_type(connection))  # type: ignore[union-attr]
    for column in plan.user_columns:
        table = f"{quote(plan.request.schema_name)}.{quote(column.table)}"
        if column.link_table:
            _links_prune(cursor, table, column)
        _column_rewrite(cursor, table, column.column, column.constraint, db_type, "pg_temp.adoption_user")
    cursor.execute("DROP FUNCTION pg_temp.adoption_user(bigint)")
    cursor.execute("DROP TABLE adoption_user_map")


def _content_type_columns_rewrite(cursor: Any, plan: AdoptionPlan) -> None:
    """Legacy content type ids -> ids of the content types with the same app label and model, in the tenant
    schema when contenttypes is a tenant app (as generated), else in public. Legacy content types the project
    lacks are added there first: they are what Django calls stale, and keep their rows pointing somewhere."""
    quote = connection.ops.quote_name
    name = quote(ContentType._meta.db_table)
    contenttypes_app = installed_apps.get_app_config("contenttypes").name
    schema = plan.request.schema_name if contenttypes_app in settings.TENANT_APPS else get_public_schema_name()
    legacy, target = f"{quote(plan.archive_schema)}.{name}", f"{quote(schema)}.{name}"
    cursor.execute(
        f"INSERT INTO {target} (app_label, model) SELECT app_label, model FROM {legacy} "  # noqa: S608
        "ON CONFLICT (app_label, model) DO NOTHING"
    )
    cursor.execute(
        "CREATE FUNCTION pg_temp.adoption_content_type(bigint) RETURNS integer LANGUAGE sql STABLE AS "  # noqa: S608
        f"$$SELECT n.id FROM {legacy} o JOIN {target} n USING (app_label, model) WHERE o.id = $1$$"
    )
    db_type = str(ContentType._meta.pk.rel_db_type(connection))  # type: ignore[union-attr]
    for column in plan.content_type_columns:
        table = f"{quote(plan.request.schema_name)}.{quote(column.table)}"
        _column_rewrite(cursor, table, column.column, column.constraint, db_type, "pg_temp.adoption_content_type")
    cursor.execute("DROP FUNCTION pg_temp.adoption_content_type(bigint)")


def _links_prune(cursor: Any, table: str, column: UserColumn) -> None:
    """Delete the rows of many-to-many link table `table` (quoted, schema-qualified) that the user column
    `column` cannot keep: links to users not imported, and links that repeat another once merged users share
    one account (the first row by physical order stays). Reads legacy ids through adoption_user_map."""
    quote = connection.ops.quote_name
    name = quote(column.column)
    cursor.execute(
        f"DELETE FROM {table} t WHERE NOT EXISTS "  # noqa: S608
        f"(SELECT 1 FROM adoption_user_map m WHERE m.legacy_id = t.{name})"
    )
    if column.duplicates:
        partition = [f"x.{quote(other)}" for other in column.unique_keys[0] if other != column.column]
        cursor.execute(
            f"DELETE FROM {table} t USING (SELECT x.ctid AS row, row_number() OVER "  # noqa: S608
            f"(PARTITION BY {', '.join([*partition, 'm.user_id'])} ORDER BY x.ctid) AS n "
            f"FROM {table} x JOIN adoption_user_map m ON m.legacy_id = x.{name}) d "
            "WHERE t.ctid = d.row AND d.n > 1"
        )


def _check_schema(schema: str) -> None:
    # Objects the legacy app added on its own (an index, a trigger) are kept: later migrations still apply.
    # Missing or changed ones mean the recorded migrations do not describe the tables.
    drift = {change: objects for change, objects in schema_drift(schema).items() if change != "extra"}
    if drift:
        summary = "; ".join(f"{key.replace('_', ' ')}: {', '.join(value)}" for key, value in drift.items())
        raise AdoptionRefused(
            f"schema {schema} does not match what this project's migrations build ({summary}); the legacy tables "
            "were changed outside the recorded migrations. Nothing was changed"
        )
