"""The stock-equivalence harness passes on the default bake, and proves it can fail.

The harness (stock_equivalence/ at the template root, the template's proof; bakes do not carry it) is
copied into the default bake's tests/ for this test and removed after. It migrates one starting fleet by
stock django-tenants and by every entry path of the project's migrate_schemas, and compares every schema's
catalog. It runs twice on a throwaway database (two pytest-xdist workers, a test database each): as generated it
must pass; with MIGRATION_SABOTAGE=skip-add-index (shared SQL loses AddIndex's CREATE INDEX) it must fail,
stopping at the first failure (-x), and its output must name a tenant schema and the missing index.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ADMIN_DATABASE_URL, DB_PREFIX, REDIS_URL, Bakery, describe, psql, run

pytestmark = pytest.mark.slow

TIMEOUT = 900  # seconds per run; about 40 s as generated, 15 s sabotaged, on 2 cores
# Two pytest-xdist workers, a test file each at a time (the matrix file on one, the others on the other): 37 s
# instead of 55 s on 2 cores. Each worker has a database of its own (test_<name>_gw0, _gw1).
HARNESS_WORKERS = ["-n", "2", "--dist", "loadfile"]
HARNESS = Path(__file__).resolve().parent.parent / "stock_equivalence"
# An index the release adds to a tenant app by AddIndex (stock_equivalence/release.py), missing in a tenant schema.
MISSING_INDEX = re.compile(
    r"tenant_\w+: missing index (prod_name_ean_idx|prod_sale_price_idx) \(expected: CREATE INDEX \1 "
)


@pytest.fixture(scope="module")
def verify_database(bakery: Bakery) -> Iterator[str]:
    """The URL of a throwaway database name on the machine's PostgreSQL for the default bake.

    The harness's pytest-django creates its test databases (test_<name>_gw0, _gw1) and drops them at the end of
    each run; any a crashed run leaves are dropped afterwards. The named database itself is never created: nothing
    connects to it, and dropping it would force a checkpoint of everything the harness wrote (10-14 s)."""
    project = bakery.synced("defaults")
    name = f"{DB_PREFIX}vm_{uuid.uuid4().hex[:10]}"
    try:
        yield f"{ADMIN_DATABASE_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        for database in (f"test_{name}", f"test_{name}_gw0", f"test_{name}_gw1"):
            psql(project, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def harness_in_bake(bakery: Bakery) -> Iterator[Path]:
    """The default bake with the harness copied to its tests/stock_equivalence/; removed afterwards."""
    project = bakery.synced("defaults")
    target = project / "tests" / "stock_equivalence"
    shutil.copytree(HARNESS, target, ignore=shutil.ignore_patterns("__pycache__"))
    try:
        yield project
    finally:
        shutil.rmtree(target)


def test_stock_equivalence_passes_then_names_the_schema_and_index_a_sabotaged_executor_leaves_out(
    harness_in_bake: Path, verify_database: str
) -> None:
    env = {"DATABASE_URL": verify_database, "REDIS_URL": REDIS_URL}
    command = ["uv", "run", "--no-sync", "pytest", "tests/stock_equivalence", "--tb=short", "-p", "no:cacheprovider",
               *HARNESS_WORKERS]  # fmt: skip

    result = run(command, cwd=harness_in_bake, extra_env=env, timeout=TIMEOUT)
    assert result.returncode == 0, describe(result)
    assert re.search(r"\b[12]\d passed\b", result.stdout), describe(result)  # the whole harness ran

    # Sabotaged, the first comparison that fails is the proof (-x): the rest would fail the same way.
    sabotaged_env = {**env, "MIGRATION_SABOTAGE": "skip-add-index"}
    sabotaged = run([*command, "-x"], cwd=harness_in_bake, extra_env=sabotaged_env, timeout=TIMEOUT)
    assert sabotaged.returncode != 0, describe(sabotaged)
    assert MISSING_INDEX.search(sabotaged.stdout), describe(sabotaged)
