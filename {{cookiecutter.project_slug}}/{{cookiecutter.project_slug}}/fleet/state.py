"""Each schema's recorded migrations, summarised by the database itself.

Reading every schema's `django_migrations` grows with the fleet: 4.0 s for 10,000 schemas with `UNION ALL` in
chunks of 1,000 (fleet/plan.py). Instead, a statement-level trigger on each schema's `django_migrations`
(`tenancy_migration_state`, tenancy migration 0005) keeps one row per table in the public schema's
`tenancy_migrationstate`: how many migrations the table records, the md5 of their sorted names, the latest
`applied`. The trigger recomputes the row from the table in the writing transaction, whatever writes it, so
the row is exact when the write commits; nothing has to remember to update it.

A row is trusted only while the table it describes still carries the very trigger that computed it, enabled
always (the check is in the same query): a table dropped and created again has a new oid, a restored table
gets its trigger after its rows (another trigger oid), a trigger dropped or disabled stops counting, and such
schemas are read directly, as before. `migrate_schemas` puts
the trigger back on them after a run (`state_watch`), so the next run trusts them again.

Planning reads the rows of all schemas in one query, groups schemas by fingerprint, and reads one schema of
each group directly (fleet/plan.py): schemas with equal fingerprints record the same set of migrations.
A schema that lost or gained a `django_migrations` row has another fingerprint, so it is planned from its own
rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import DatabaseError, connection, transaction
from django_tenants.utils import get_public_schema_name

TRIGGER_NAME = "tenancy_migration_state"
TRIGGER_FUNCTION = "tenancy_migration_state_track"
WATCH_PER_TRANSACTION = 200  # CREATE TRIGGER locks each table: bounded per transaction (max_locks_per_transaction)

Migration = tuple[str, str]


@dataclass(frozen=True)
class RecordedState:
    """A trusted summary of one schema's `django_migrations`: the number of rows, their fingerprint
    (`fingerprint_of`), the latest `applied` (None for an empty table)."""

    applied_count: int
    fingerprint: str
    last_applied: dt.datetime | None


def fingerprint_of(recorded: Iterable[Migration]) -> str:
    """The fingerprint the database computes for a `django_migrations` holding the (app, name) pairs `recorded`:
    md5 (hex) of "app.name" for each, in bytewise order of (app, name), joined with ","."""
    ordered = sorted(recorded, key=lambda key: (key[0].encode(), key[1].encode()))
    return hashlib.md5(",".join(f"{app}.{name}" for app, name in ordered).encode(), usedforsecurity=False).hexdigest()


def _public_table() -> str:
    return f"{connection.ops.quote_name(get_public_schema_name())}.tenancy_migrationstate"


def state_available() -> bool:
    """True when the public schema holds the state table (tenancy migration 0005 is applied)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [_public_table()])
        return bool(cursor.fetchone()[0])


def state_read(schemas: Sequence[str]) -> dict[str, RecordedState]:
    """The trusted summaries of `schemas` (schema names), in one query: {schema: RecordedState} for each schema
    whose `django_migrations` has a state row and still carries the trigger that computed it, enabled always
    (ALTER TABLE ... ENABLE ALWAYS TRIGGER; enabled for origin only, it would miss writes made under
    session_replication_role = replica). Schemas missing from the result (no table, no row, another or no
    trigger, trigger disabled) must be read directly. Returns {} when the state table does not exist yet."""
    if not schemas or not state_available():
        return {}
    with connection.cursor() as cursor:
        # Each schema's summary is found by two unique-index lookups (LATERAL ... LIMIT 1 keeps the planner from
        # turning them into joins: with the catalogs' statistics stale after thousands of new schemas, a join
        # plan once took 23 s for 10,000 schemas instead of 0.4 s). table_oid is bigint: the lookup value is
        # cast to it, never the column, or the primary key could not be used.
        public = connection.ops.quote_name(get_public_schema_name())
        cursor.execute(
            "SELECT s.name, st.applied_count, st.fingerprint, st.last_applied "  # noqa: S608 (a quoted name)
            "FROM unnest(%s::text[]) AS s(name) CROSS JOIN LATERAL ("
            "  SELECT x.applied_count, x.fingerprint, x.last_applied "
            f" FROM {_public_table()} AS x JOIN pg_catalog.pg_trigger AS tg "
            "  ON tg.oid = x.trigger_oid::oid AND tg.tgrelid = x.table_oid::oid "
            "  WHERE x.table_oid = to_regclass(format('%%I.django_migrations', s.name))::oid::bigint "
            "  AND tg.tgname = %s AND tg.tgenabled = 'A' AND tg.tgfoid = to_regproc(%s)::oid LIMIT 1"
            ") AS st",
            [list(schemas), TRIGGER_NAME, f"{public}.{TRIGGER_FUNCTION}"],
        )
        return {
            name: RecordedState(applied_count=count, fingerprint=fingerprint, last_applied=last)
            for name, count, fingerprint, last in cursor.fetchall()
        }


def state_watch(schemas: Sequence[str], *, lock_timeout_ms: int | None = 2000) -> int:
    """Put the state trigger on the `django_migrations` of each schema in `schemas` and compute its row; return
    how many schemas got it (a schema without the table is skipped). WATCH_PER_TRANSACTION schemas per
    transaction; a group whose table lock is not granted within `lock_timeout_ms` (a migration running there) is
    left as it was and counted out: those schemas stay read directly until a later run. lock_timeout_ms=None
    keeps the session's lock_timeout (for a schema the caller is building: nobody else holds its table, and a
    transaction-local setting would outlive this call in the caller's transaction). Needs the state table
    (returns 0 without it)."""
    if not schemas or not state_available():
        return 0
    public = connection.ops.quote_name(get_public_schema_name())
    watched = 0
    for start in range(0, len(schemas), WATCH_PER_TRANSACTION):
        part = list(schemas[start : start + WATCH_PER_TRANSACTION])
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                if lock_timeout_ms is not None:
                    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{lock_timeout_ms}ms"])
                cursor.execute(
                    f"SELECT count(*) FILTER (WHERE {public}.tenancy_migration_state_watch(name)) "  # noqa: S608
                    "FROM unnest(%s::text[]) AS s(name)",
                    [part],
                )
                watched += int(cursor.fetchone()[0])
        except DatabaseError as exc:
            # Django's error wraps the driver's, which carries the SQLSTATE; only lock_not_available is expected.
            if getattr(exc.__cause__, "sqlstate", None) != "55P03":
                raise
    return watched


def state_prune(*, trusted: int = 0) -> int:
    """Delete the summaries of tables that no longer exist (dropped tenants, schemas, tables); return how many.
    `trusted`: how many summaries the caller's plan trusted; when the table holds no more rows than that there
    is nothing to delete and only the rows are counted (one cheap statement instead of a lookup per row).
    Housekeeping only: a summary is trusted by its table's and its trigger's oids, never by its presence."""
    if not state_available():
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {_public_table()}")  # noqa: S608 (a quoted name)
        if int(cursor.fetchone()[0]) <= trusted:
            return 0
        cursor.execute(
            f"DELETE FROM {_public_table()} AS st "  # noqa: S608 (a quoted name)
            "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid = st.table_oid::oid)"
        )
        return cursor.rowcount
