"""MIGRATION_SABOTAGE: break the project's migration executor on purpose, to prove the harness can fail.

Read by this harness only (never by the project's settings or code), around each run of the project's
`migrate_schemas` (at the template root):

    MIGRATION_SABOTAGE=skip-add-index make verify-migrations   # shared SQL loses AddIndex's CREATE INDEX
    MIGRATION_SABOTAGE=public-sql make verify-migrations       # shared SQL generated in the public schema

Both wrap `fleet.executor.collect_sql`, the one function that generates the SQL a group of schemas
shares. `public-sql` brings back the bug fixed in 151cd5e: in the public schema django-tenants' router
drops the tenant apps' operations, so their migrations are recorded in tenant schemas without their SQL.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from django.db.migrations import operations
from django_tenants.utils import get_public_schema_name

from .project import project_module

executor = project_module("fleet.executor")
ENV_VARIABLE = "MIGRATION_SABOTAGE"
SABOTAGES = ("skip-add-index", "public-sql")


def requested() -> str:
    """The sabotage named by MIGRATION_SABOTAGE ("" for none); raise ValueError for an unknown name."""
    name = os.environ.get(ENV_VARIABLE, "").strip()
    if name and name not in SABOTAGES:
        raise ValueError(f"{ENV_VARIABLE}={name!r} is not known; expected one of {', '.join(SABOTAGES)}")
    return name


@contextlib.contextmanager
def applied() -> Iterator[str]:
    """While the block runs, `executor.collect_sql` is broken as MIGRATION_SABOTAGE says; yields its name."""
    name = requested()
    original = executor.collect_sql

    def skip_add_index(migration, state, schema):  # type: ignore[no-untyped-def]
        state, sql = original(migration, state, schema)
        names = [op.index.name for op in migration.operations if isinstance(op, operations.AddIndex)]
        kept = [s for s in sql if not (s.startswith("CREATE INDEX") and any(f'"{n}"' in s for n in names))]
        return state, kept

    def public_sql(migration, state, schema):  # type: ignore[no-untyped-def]
        return original(migration, state, get_public_schema_name())

    if name:
        executor.collect_sql = skip_add_index if name == "skip-add-index" else public_sql  # type: ignore[assignment]
    try:
        yield name
    finally:
        executor.collect_sql = original  # type: ignore[assignment]
