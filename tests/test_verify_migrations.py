"""The default bake's `make verify-migrations` passes, and proves it can fail.

The bake's stock-equivalence matrix (tests/stock_equivalence in the bake) migrates one starting fleet by
stock django-tenants and by every entry path of the project's migrate_schemas, and compares every schema's
catalog. It runs twice on one throwaway database: as generated it must pass; with
MIGRATION_SABOTAGE=skip-add-index (shared SQL loses AddIndex's CREATE INDEX) it must fail, and its output
must name a tenant schema and the missing index.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from .conftest import Bakery, describe, run
from .test_generated_suite import ADMIN_DATABASE_URL, DB_PREFIX, REDIS_URL, psql

pytestmark = pytest.mark.slow

TIMEOUT = 900  # seconds per run; about 90 s each on a laptop
# An index the full release adds by AddIndex and keeps (release.py in the bake), missing in a tenant schema.
MISSING_INDEX = re.compile(r"tenant_\w+: missing index prod_sale_price_idx \(expected: CREATE INDEX prod_sale_price_idx ")


@pytest.fixture(scope="module")
def verify_database(bakery: Bakery) -> Iterator[str]:
    """A throwaway database on the machine's PostgreSQL for the default bake; yields its URL, then drops it."""
    project = bakery.synced("defaults")
    name = f"{DB_PREFIX}vm_{uuid.uuid4().hex[:10]}"
    created = psql(project, f'CREATE DATABASE "{name}"')
    if created.returncode != 0:
        pytest.fail(f"cannot create a database on {ADMIN_DATABASE_URL}: {describe(created)}")
    try:
        yield f"{ADMIN_DATABASE_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        for database in (name, f"test_{name}"):
            psql(project, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_verify_migrations_passes_then_names_the_schema_and_index_a_sabotaged_executor_leaves_out(
    bakery: Bakery, verify_database: str
) -> None:
    project = bakery.synced("defaults")
    env = {"DATABASE_URL": verify_database, "REDIS_URL": REDIS_URL}

    result = run(["make", "verify-migrations"], cwd=project, extra_env=env, timeout=TIMEOUT)
    assert result.returncode == 0, describe(result)
    assert re.search(r"\b1\d passed\b", result.stdout), describe(result)  # the whole matrix ran

    sabotaged = run(
        ["make", "verify-migrations"], cwd=project, extra_env={**env, "MIGRATION_SABOTAGE": "skip-add-index"},
        timeout=TIMEOUT,
    )  # fmt: skip
    assert sabotaged.returncode != 0, describe(sabotaged)
    assert MISSING_INDEX.search(sabotaged.stdout), describe(sabotaged)
