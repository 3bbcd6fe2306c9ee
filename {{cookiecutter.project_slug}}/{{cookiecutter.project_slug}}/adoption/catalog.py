"""Reading the catalog of the database being adopted: tables, migration records, foreign keys, unique indexes.
Read-only helpers of adoption.plan, all through Django's default connection."""

from __future__ import annotations

from typing import Any

from django.apps import apps as installed_apps
from django.db import connection
from django_tenants.utils import get_public_schema_name


def public_tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p')",
            [get_public_schema_name()],
        )
        return {row[0] for row in cursor.fetchall()}


def schema_exists(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        return cursor.fetchone() is not None


def recorded_public() -> dict[str, set[str]]:
    """app label -> migration names recorded in public.django_migrations (empty without the table)."""
    recorded: dict[str, set[str]] = {}
    if "django_migrations" not in public_tables():
        return recorded
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app, name FROM {get_public_schema_name()}.django_migrations")  # noqa: S608
        for app, name in cursor.fetchall():
            recorded.setdefault(app, set()).add(name)
    return recorded


def app_tables(label: str) -> list[str]:
    """Tables of app `label`'s models in the current project state (auto-created m2m tables included)."""
    config = installed_apps.get_app_config(label)
    tables = [
        model._meta.db_table
        for model in config.get_models(include_auto_created=True, include_swapped=True)
        if model._meta.managed and not model._meta.proxy
    ]
    return sorted(set(tables))


def foreign_keys(schema: str) -> list[tuple[str, str, str, str, str, bool]]:
    """Foreign keys of tables in `schema`: (constraint, table, column, referenced schema, referenced table,
    column nullable). Multi-column keys are reported by their first column."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT k.conname, c.relname, a.attname, rn.nspname, r.relname, NOT a.attnotnull "
            "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] "
            "WHERE k.contype = 'f' AND n.nspname = %s ORDER BY c.relname, k.conname",
            [schema],
        )
        return [tuple(row) for row in cursor.fetchall()]  # type: ignore[misc]


def column_nullable(schema: str, table: str, column: str) -> bool | None:
    """Whether `schema`.`table`.`column` accepts NULL; None when there is no such column."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT NOT a.attnotnull FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attname = %s AND a.attnum > 0 AND NOT a.attisdropped",
            [schema, table, column],
        )
        row = cursor.fetchone()
        return None if row is None else bool(row[0])


def unique_keys(schema: str) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Unique indexes (primary keys included) of tables in `schema`: table -> [(index name, its columns)].
    Expression and partial indexes are left out: their uniqueness cannot be read as a list of columns."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, i.relname, array_agg(a.attname ORDER BY k.position) "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, position) "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
            "WHERE x.indisunique AND x.indexprs IS NULL AND x.indpred IS NULL AND n.nspname = %s "
            "GROUP BY c.relname, i.relname ORDER BY c.relname, i.relname",
            [schema],
        )
        keys: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for table, index, columns in cursor.fetchall():
            keys.setdefault(table, []).append((index, tuple(columns)))
        return keys


def count_rows(schema: str, table: str, where: str = "", params: list[Any] | None = None) -> int:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {quote(schema)}.{quote(table)} {where}", params)  # noqa: S608
        return int(cursor.fetchone()[0])
