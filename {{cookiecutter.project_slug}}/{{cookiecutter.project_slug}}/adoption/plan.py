"""What adopting a single-tenant database would do (`adoption_plan`), read without changing anything."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps as installed_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import get_public_schema_name

from ..accounts.domain import normalize_email
from ..errors import Conflict, InvalidValue, NotFound
from ..fleet.plan import forward_plan
from ..lifecycle.services import TenantRequest, tenant_request_validate
from ..tenancy.domain import TenantExists
from ..tenancy.models import Tenant
from . import legacy_users
from .catalog import (
    app_tables,
    column_nullable,
    count_rows,
    foreign_keys,
    public_tables,
    recorded_public,
    schema_exists,
    unique_keys,
)

ARCHIVE_PREFIX = "legacy_"
_IDENTIFIER_RE = re.compile(r"[a-z_][a-z0-9_$]{0,62}")


class AdoptionRefused(Conflict):
    """The database is not in the state adoption needs; the message says what differs and what to do."""


@dataclass(frozen=True)
class TableMove:
    table: str
    rows: int


@dataclass(frozen=True)
class UserColumn:
    """A column of a moved table that refers to legacy users: `table.column`, its foreign key, nullability."""

    table: str
    column: str
    constraint: str | None
    nullable: bool
    rows: int  # rows with a value
    unmapped: int  # rows whose legacy user is not imported: set to NULL, or removed from a link table
    unique_keys: tuple[tuple[str, ...], ...] = ()  # columns of each unique index that holds this column
    link_table: bool = False  # an auto-created many-to-many table: its rows are links, nothing else
    duplicates: int = 0  # link rows that repeat another once merged users share one account (removed)


@dataclass(frozen=True)
class ContentTypeColumn:
    """A column of a moved table that refers to the legacy content types (a GenericForeignKey's, say):
    rewritten to the tenant's content type of the same app label and model."""

    table: str
    column: str
    constraint: str | None
    rows: int  # rows with a value


@dataclass(frozen=True)
class AdoptionPlan:
    """Everything `tenant_adopt` would do, read without changing anything (printed by --dry-run)."""

    request: TenantRequest
    archive_schema: str
    legacy_table: str  # as found in public, e.g. auth_user
    archive_tables: tuple[str, ...]  # public tables moved to archive_schema (legacy users table included)
    archive_apps: tuple[str, ...]  # their apps' migration records leave public.django_migrations
    moved_apps: tuple[str, ...]
    created_apps: tuple[str, ...]
    moves: tuple[TableMove, ...]
    public_migrations: int
    tenant_migrations_recorded: int
    tenant_migrations_applied: int
    users: legacy_users.UserImportPlan
    user_columns: tuple[UserColumn, ...]
    content_type_columns: tuple[ContentTypeColumn, ...]
    left_in_public: tuple[str, ...]  # legacy tables outside this project that stay where they are
    owner_email: str | None
    base_domain: str

    def lines(self, *, backup: Path | None) -> Iterator[str]:
        """The plan as numbered steps for people."""
        request = self.request
        yield f"Adopting this database as tenant {request.slug!r} ({request.name}), schema {request.schema_name}:"
        step = 0

        def number() -> int:
            nonlocal step
            step += 1
            return step

        if backup is not None:
            yield f"{number()}. back up {_n(len(self.archive_tables) + len(self.moves) + 1, 'table')} to {backup}"
        yield (
            f"{number()}. archive {_n(len(self.archive_tables), 'legacy table')} into schema {self.archive_schema} "
            f"({', '.join(self.archive_tables)}); forget the public migration records of "
            f"{', '.join(self.archive_apps) or '(none)'}"
        )
        yield f"{number()}. migrate the public schema: {_n(self.public_migrations, 'migration')} of the shared apps"
        yield (
            f"{number()}. create tenant {request.slug!r} with domain {request.domain}, and the public tenant "
            f"on {self.base_domain} when missing"
        )
        total = sum(move.rows for move in self.moves)
        moved = f"{_n(len(self.moves), 'table')} ({_n(total, 'row')}, none copied)"
        yield f"{number()}. move {moved} into {request.schema_name}:"
        for move in self.moves:
            yield f"     {move.table:<40} {_n(move.rows, 'row'):>12}"
        created = f"; apply {_n(self.tenant_migrations_applied, 'migration')}"
        if self.created_apps:
            created += f" (new tables of {', '.join(self.created_apps)})"
        yield (
            f"{number()}. record {_n(self.tenant_migrations_recorded, 'migration')} of {', '.join(self.moved_apps)} as "
            f"applied in {request.schema_name}{created}"
        )
        users = self.users
        merged = sum(1 for account in users.accounts if account.merged)
        imported = sum(len(account.legacy) for account in users.accounts)
        admins = sum(1 for account in users.accounts if account.role == "admin" and account.email != self.owner_email)
        yield (
            f"{number()}. import {imported} of {imported + len(users.skipped)} legacy users from "
            f"{self.archive_schema}.{self.legacy_table} as {len(users.accounts)} accounts ({merged} merged, "
            f"{len(users.skipped)} skipped), each a member of {request.slug!r} ({_n(admins, 'admin')}"
            f"{', owner ' + self.owner_email if self.owner_email else ', no owner'})"
        )
        for line in legacy_users.report_lines(users):
            yield f"     {line}"
        yield f"{number()}. repoint {_n(len(self.user_columns), 'column')} that referred to legacy users:"
        for column in self.user_columns:
            notes = []
            if column.unmapped:
                dropped = "removed" if column.link_table else "set to NULL"
                notes.append(f"{column.unmapped} {dropped} (user not imported)")
            if column.duplicates:
                notes.append(f"{_n(column.duplicates, 'duplicate link')} removed (users merged)")
            yield f"     {column.table}.{column.column}: {_n(column.rows, 'row')}{''.join(', ' + n for n in notes)}"
        if self.content_type_columns:
            yield (
                f"{number()}. repoint {_n(len(self.content_type_columns), 'column')} that referred to legacy content "
                "types, to the tenant's content type of the same app label and model:"
            )
            for ct_column in self.content_type_columns:
                yield f"     {ct_column.table}.{ct_column.column}: {_n(ct_column.rows, 'row')}"
        yield f"{number()}. compare {request.schema_name} with a schema built by migrations; any difference aborts"
        for table in self.left_in_public:
            yield f"note: {table} is not a table of this project's apps; it stays in the public schema"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def adoption_plan(
    *,
    name: object,
    slug: object,
    domain: object | None = None,
    legacy_users_table: str = "auth_user",
    placeholder_emails: bool = False,
    owner_email: object | None = None,
) -> AdoptionPlan:
    """Check that this database can be adopted as tenant `slug` and return what adoption would do.
    Reads only: no lock is taken, nothing is written.

    name / slug / domain: as for create_tenant (domain default `<slug>.<TENANCY_BASE_DOMAIN>`);
    legacy_users_table: the legacy user table in the public schema; owner_email: an imported user's email
    who becomes the tenant's owner (others become admins or members).

    Raises InvalidValue / InvalidSlug / InvalidDomain for malformed values; TenantExists when schema
    `tenant_<slug>` exists; NotFound when the legacy user table is missing; AdoptionRefused when the public
    schema already holds this project's tables, no tenant app's tables are in public, the recorded
    migrations of a tenant app differ from the project's, a moved table refers to a table that is not
    moved (other than the legacy users and content types), a kept public table refers to a moved one, a NOT
    NULL column refers to a user left out, merged users would repeat a unique key, or `owner_email` is not
    among the imported users.
    """
    request = tenant_request_validate(name=name, slug=slug, domain=domain, check_free=False)
    if not isinstance(legacy_users_table, str) or not _IDENTIFIER_RE.fullmatch(legacy_users_table):
        raise InvalidValue(
            f"legacy user table {legacy_users_table!r} is not a table name; expected a lowercase name such as auth_user"
        )
    public = get_public_schema_name()
    tables = public_tables()
    if Tenant._meta.db_table in tables:
        raise AdoptionRefused(
            f"the public schema already holds this project's tables ({Tenant._meta.db_table}): its tenant apps' "
            "tables are tenant tables already. adopt_single_tenant converts a single-tenant app's database before "
            "the project's first migrate_schemas; point DATABASE_URL at that database (or a copy of it)"
        )
    if schema_exists(request.schema_name):
        raise TenantExists(
            f"schema {request.schema_name!r} for slug {request.slug!r} already exists; choose another slug"
        )
    archive_schema = f"{ARCHIVE_PREFIX}{request.schema_name.removeprefix('tenant_')}"
    if schema_exists(archive_schema):
        raise AdoptionRefused(f"schema {archive_schema!r} already exists; drop or rename it, or choose another slug")
    if legacy_users_table not in tables:
        raise NotFound(
            f"legacy user table {legacy_users_table!r} is not in the public schema; name it with --legacy-users "
            "(tables there: " + (", ".join(sorted(tables)[:30]) or "none") + ")"
        )

    loader = MigrationLoader(None, ignore_no_migrations=True)
    recorded = recorded_public()
    shared = {installed_apps.get_containing_app_config(app).label for app in settings.SHARED_APPS}  # type: ignore[union-attr]
    tenant_only = [
        installed_apps.get_containing_app_config(app).label  # type: ignore[union-attr]
        for app in settings.TENANT_APPS
    ]
    tenant_only = [label for label in dict.fromkeys(tenant_only) if label not in shared]

    moved_apps, created_apps, moved_tables = _tenant_apps_state(tenant_only, loader, recorded, tables)
    if not moved_apps:
        raise AdoptionRefused(
            "no tenant app's tables are in the public schema (tenant apps: "
            + ", ".join(tenant_only)
            + "); nothing to adopt"
        )

    # Legacy tables of shared apps (auth, admin, contenttypes, sessions ...) give way to the project's.
    archive_apps = sorted(label for label in shared if label in recorded)
    archive_tables = sorted(
        {table for label in archive_apps for table in app_tables(label) if table in tables}
        | {legacy_users_table}
        | {
            f"{legacy_users_table}_{suffix}"
            for suffix in ("groups", "user_permissions")
            if f"{legacy_users_table}_{suffix}" in tables
        }
    )
    users_plan = legacy_users.user_import_plan(
        legacy_users.legacy_users_read(f"{public}.{legacy_users_table}"),
        table=f"{archive_schema}.{legacy_users_table}",
        slug=request.slug,
        placeholder_emails=placeholder_emails,
    )
    user_columns, content_type_columns, left_in_public = _references(
        moved_tables, archive_tables, legacy_users_table, users_plan
    )
    owner = None
    if owner_email is not None:
        owner = normalize_email(owner_email)
        if owner not in {account.email for account in users_plan.accounts}:
            raise AdoptionRefused(
                f"owner {owner!r} is not among the imported legacy users; expected the email of one of them"
            )

    archive_apps_set = set(archive_apps)
    public_recorded = {
        (app, migration) for app, names in recorded.items() if app not in archive_apps_set for migration in names
    }
    plan_nodes = forward_plan(loader)
    return AdoptionPlan(
        request=request,
        archive_schema=archive_schema,
        legacy_table=legacy_users_table,
        archive_tables=tuple(archive_tables),
        archive_apps=tuple(archive_apps),
        moved_apps=tuple(moved_apps),
        created_apps=tuple(created_apps),
        moves=tuple(TableMove(table, count_rows(public, table)) for table in moved_tables),
        public_migrations=sum(1 for node in plan_nodes if node not in public_recorded),
        tenant_migrations_recorded=sum(1 for node in plan_nodes if node[0] in moved_apps),
        tenant_migrations_applied=sum(1 for node in plan_nodes if node[0] not in moved_apps),
        users=users_plan,
        user_columns=tuple(user_columns),
        content_type_columns=tuple(content_type_columns),
        left_in_public=tuple(sorted(left_in_public)),
        owner_email=owner,
        base_domain=settings.TENANCY_BASE_DOMAIN,
    )


def _merge_collisions(
    table: str, column: str, key: tuple[str, ...], users: legacy_users.UserImportPlan
) -> tuple[int, list[str]]:
    """Rows of public.`table` that would share unique `key` with another row once `column` holds account ids
    instead of legacy user ids (legacy users merged into one account): (how many, those accounts' emails)."""
    quote = connection.ops.quote_name
    legacy_ids = users.legacy_ids
    others = [f"t.{quote(name)}" for name in key if name != column]
    grouped = ", ".join([*others, "m.account"])
    not_null = "".join(f" AND {name} IS NOT NULL" for name in others)  # NULLs never collide in a unique index
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH m(legacy_id, account) AS (SELECT * FROM unnest(%s::bigint[], %s::text[])) "  # noqa: S608
            f"SELECT m.account, count(*) - 1 FROM {quote(get_public_schema_name())}.{quote(table)} t "
            f"JOIN m ON m.legacy_id = t.{quote(column)} WHERE true{not_null} "
            f"GROUP BY {grouped} HAVING count(*) > 1",
            [list(legacy_ids), list(legacy_ids.values())],
        )
        found = cursor.fetchall()
    return sum(int(repeats) for _account, repeats in found), sorted({account for account, _repeats in found})


def _tenant_apps_state(
    tenant_apps: list[str], loader: MigrationLoader, recorded: dict[str, set[str]], tables: set[str]
) -> tuple[list[str], list[str], list[str]]:
    """Sort tenant-only apps (labels) by their state in the public schema, whose tables are `tables` and whose
    recorded migrations are `recorded`: (apps whose tables move, apps whose tables are created, the tables
    that move). Raises AdoptionRefused listing every app whose recorded migrations differ from the project's
    or whose tables are missing."""
    moved_apps: list[str] = []
    created_apps: list[str] = []
    problems: list[str] = []
    moved_tables: list[str] = []
    for label in tenant_apps:
        project = {key[1] for key in loader.graph.nodes if key[0] == label}
        have = recorded.get(label, set())
        label_tables = app_tables(label)
        present = [table for table in label_tables if table in tables]
        if not have and not project:
            continue
        if not have:
            if present:
                problems.append(
                    f"{label}: tables {', '.join(present)} are in public but no migration of {label} is recorded"
                )
            created_apps.append(label)
            continue
        if have != project:
            missing, unknown = sorted(project - have), sorted(have - project)
            detail = []
            if missing:
                detail.append(f"not recorded: {', '.join(missing)}")
            if unknown:
                detail.append(f"recorded but not in the project: {', '.join(unknown)}")
            problems.append(f"{label}: {'; '.join(detail)}")
            continue
        absent = [table for table in label_tables if table not in tables]
        if absent:
            problems.append(f"{label}: migrations recorded but tables missing from public: {', '.join(absent)}")
            continue
        moved_apps.append(label)
        moved_tables += label_tables
    if problems:
        raise AdoptionRefused(
            "the legacy tables' migration state differs from this project's migrations: "
            + " | ".join(problems)
            + ". Bring the legacy app to the same migrations (its `manage.py migrate`), or copy its migration "
            "files into the project, then run adoption again"
        )
    return moved_apps, created_apps, moved_tables


def _declared_user_references(
    public: str, moved_set: set[str], legacy_users_table: str, keys: list[tuple[str, str, str, str, str, bool]]
) -> list[tuple[str | None, str, str, str, str, bool]]:
    """References to users that the project's models declare without a foreign key (`db_constraint=False`, as
    bookings' `created_by`: bookings migration 0004) in moved tables, in the shape of catalog.foreign_keys with no
    constraint name. The catalog does not show them; in the legacy database they hold legacy user ids. A column
    that still has its foreign key (a legacy database before that migration) is in `keys` already."""
    user_model = get_user_model()
    known = {(table, column) for _name, table, column, *_ in keys}
    found: list[tuple[str | None, str, str, str, str, bool]] = []
    for model in installed_apps.get_models(include_auto_created=True):
        table = model._meta.db_table
        if table not in moved_set:
            continue
        for field in model._meta.local_fields:
            if not isinstance(field, models.ForeignKey) or field.related_model is not user_model:
                continue
            column = field.column
            if getattr(field, "db_constraint", True) or column is None or (table, column) in known:
                continue
            nullable = column_nullable(public, table, column)
            if nullable is not None:
                found.append((None, table, column, public, legacy_users_table, nullable))
    return found


def _references(
    moved_tables: list[str], archive_tables: list[str], legacy_users_table: str, users: legacy_users.UserImportPlan
) -> tuple[list[UserColumn], list[ContentTypeColumn], set[str]]:
    """Read the public schema's foreign keys: (columns of moved tables that refer to the legacy users, those
    that refer to the legacy content types, kept public tables that refer to the legacy users). Raises
    AdoptionRefused listing every reference adoption would break: a moved table referring to a table that
    stays, a kept table referring to a moved one, a NOT NULL user column whose user is left out, a unique
    key that merged users would repeat."""
    public = get_public_schema_name()
    moved_set, archive_set = set(moved_tables), set(archive_tables)

    user_columns: list[UserColumn] = []
    content_type_columns: list[ContentTypeColumn] = []
    content_types = ContentType._meta.db_table
    fk_problems: list[str] = []
    left_in_public: set[str] = set()
    imported_ids = sorted(users.legacy_ids)
    unique = unique_keys(public)
    models = installed_apps.get_models(include_auto_created=True)
    link_tables = {model._meta.db_table for model in models if model._meta.auto_created}
    catalog_keys = foreign_keys(public)
    references: list[tuple[str | None, str, str, str, str, bool]] = [
        *catalog_keys,
        *_declared_user_references(public, moved_set, legacy_users_table, catalog_keys),
    ]
    for constraint, table, column, ref_schema, ref_table, nullable in references:
        if table in moved_set:
            if ref_schema == public and ref_table == legacy_users_table:
                quote = connection.ops.quote_name
                rows = count_rows(public, table, f"WHERE {quote(column)} IS NOT NULL")
                unmapped = count_rows(
                    public,
                    table,
                    f"WHERE {quote(column)} IS NOT NULL AND NOT {quote(column)} = ANY(%s)",
                    [imported_ids],
                )
                link_table = table in link_tables
                if unmapped and not nullable and not link_table:
                    fk_problems.append(
                        f"{table}.{column} is NOT NULL but {unmapped} of its rows refer to legacy users that are not "
                        "imported (no usable email); rerun with --placeholder-emails"
                    )
                keys = tuple(key for _index, key in unique.get(table, []) if column in key)
                duplicates = 0
                for index, key in unique.get(table, []):
                    if column not in key:
                        continue
                    repeats, accounts = _merge_collisions(table, column, key, users)
                    if repeats and link_table:
                        duplicates = max(duplicates, repeats)
                    elif repeats:
                        fk_problems.append(
                            f"{table}: {_n(repeats, 'row')} would repeat another row's {', '.join(key)} (unique "
                            f"index {index}) once merged legacy users share one account ({', '.join(accounts)}); "
                            "merge or delete those rows in the legacy database first"
                        )
                user_columns.append(
                    UserColumn(table, column, constraint, nullable, rows, unmapped, keys, link_table, duplicates)
                )
            elif ref_schema == public and ref_table == content_types and content_types in archive_set:
                quote = connection.ops.quote_name
                rows = count_rows(public, table, f"WHERE {quote(column)} IS NOT NULL")
                content_type_columns.append(ContentTypeColumn(table, column, constraint, rows))
            elif ref_schema != public or ref_table not in moved_set:
                fk_problems.append(
                    f"{table}.{column} refers to {ref_schema}.{ref_table}, which stays outside the tenant "
                    f"(constraint {constraint}); only references to the legacy user and content type tables "
                    "are rewritten"
                )
        elif ref_schema == public and ref_table in moved_set and table not in archive_set:
            fk_problems.append(
                f"{table}.{column} stays in public but refers to {ref_table}, which moves into the tenant "
                f"(constraint {constraint}); add {table}'s app to TENANT_APPS or drop that constraint"
            )
        elif ref_schema == public and ref_table == legacy_users_table and table not in archive_set:
            left_in_public.add(table)
    if fk_problems:
        raise AdoptionRefused("; ".join(fk_problems))
    return user_columns, content_type_columns, left_in_public
