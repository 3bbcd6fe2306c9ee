"""Run the baked projects' own test suites with `make test`, as their README says.

The default bake runs against the machine's PostgreSQL and Redis (a throwaway
database); the use_drf=n bake runs with DATABASE_URL and REDIS_URL unset, so its
embedded PostgreSQL and Redis are proven. CI=true in both: the browser test must
run, not skip.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Bakery, describe, run

pytestmark = pytest.mark.slow

ADMIN_DATABASE_URL = os.environ.get("TEMPLATE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DB_PREFIX = os.environ.get("TEMPLATE_TEST_DB_PREFIX", "template_test_")
REDIS_URL = os.environ.get("TEMPLATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
SUITE_TIMEOUT = 1800  # seconds


def psql(project: Path, statement: str) -> subprocess.CompletedProcess[str]:
    """Run one SQL statement on the admin database with the bake's psycopg."""
    script = (
        "import sys, psycopg\n"
        "with psycopg.connect(sys.argv[1], autocommit=True) as conn:\n"
        "    conn.execute(sys.argv[2])\n"
    )
    return run(["uv", "run", "--no-sync", "python", "-c", script, ADMIN_DATABASE_URL, statement], cwd=project)


@pytest.fixture
def machine_database(bakery: Bakery) -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL; yields its URL and drops it (and its test twin) after."""
    project = bakery.synced("defaults")
    name = f"{DB_PREFIX}{uuid.uuid4().hex[:10]}"
    created = psql(project, f'CREATE DATABASE "{name}"')
    if created.returncode != 0:
        pytest.fail(f"cannot create a database on {ADMIN_DATABASE_URL}: {describe(created)}")
    base = ADMIN_DATABASE_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        for database in (name, f"test_{name}"):
            psql(project, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def assert_suite_passed(result: subprocess.CompletedProcess[str]) -> None:
    """`make test` exited 0 after pytest passed tests, and the browser test ran rather than skipped."""
    output = result.stdout
    assert result.returncode == 0, describe(result)
    summary = re.search(r"=+ (.*\b(\d+) passed\b.*) in [\d.]+s", output)
    assert summary, describe(result)
    assert int(summary.group(2)) > 0, describe(result)
    assert not re.search(r"\b\d+ (failed|errors?)\b", summary.group(1)), describe(result)
    assert re.search(r"browser\S*::\S+ PASSED", output), f"no browser test passed:\n{output[-12000:]}"
    skipped_browser = [
        line
        for line in output.splitlines()
        if line.startswith("SKIPPED") and re.search(r"browser|chromium", line, re.IGNORECASE)
    ]
    assert skipped_browser == [], describe(result)


def make_test(project: Path, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {"CI": "true", "PYTEST_ADDOPTS": "-v", **extra_env}
    return run(["make", "test"], cwd=project, extra_env=env, timeout=SUITE_TIMEOUT)


def test_default_bake_suite_passes_on_machine_postgres(bakery: Bakery, machine_database: str) -> None:
    project = bakery.synced("defaults")
    result = make_test(project, {"DATABASE_URL": machine_database, "REDIS_URL": REDIS_URL})

    assert_suite_passed(result)
    assert not (project / ".data" / "postgres").exists(), (
        "the embedded PostgreSQL started although DATABASE_URL was set"
    )


def test_suite_passes_on_embedded_postgres_and_redis(bakery: Bakery) -> None:
    project = bakery.synced("no_drf")
    result = make_test(project, {})

    assert_suite_passed(result)
    status = run(["uv", "run", "--no-sync", "python", "-m", "config.devservices", "status"], cwd=project)
    assert re.search(r"PostgreSQL: running", status.stdout), describe(status)
    assert re.search(r"Redis: running", status.stdout), describe(status)
