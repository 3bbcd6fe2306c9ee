"""The default bake's isolation suite passes, and proves it can fail.

`tests/isolation` runs three times on one throwaway database: as generated (every test passes), with the
membership check switched off (ISOLATION_SABOTAGE=membership), and with Django's default cache key
function (ISOLATION_SABOTAGE=cache-key). Under each sabotage exactly the tests marked as guarding that
protection (`guards_membership`, `guards_cache_key`) must fail: a guard that still passes no longer
guards anything, and any other failure means the switch broke more than its protection.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import Bakery, describe, run
from .test_generated_suite import ADMIN_DATABASE_URL, DB_PREFIX, REDIS_URL, psql

pytestmark = pytest.mark.slow

SUITE = "tests/isolation"
# At least these guards must exist: the acceptance names the attacks each protection stops.
REQUIRED_GUARDS = {
    "membership": {
        "tests/isolation/test_sessions.py::test_a_session_cookie_replayed_on_another_tenants_host_gets_the_login_page",
        "tests/isolation/test_api_rows.py::test_api_refuses_a_session_from_another_tenants_host",
        "tests/isolation/test_admin.py::test_the_tenant_admin_sends_another_tenants_owner_to_the_login_page",
        "tests/isolation/test_media.py::test_another_tenants_member_gets_the_login_page_for_a_file",
    },
    "cache-key": {
        "tests/isolation/test_cache.py::test_the_same_cache_key_holds_one_value_per_tenant",
        "tests/isolation/test_cache.py::test_cache_page_never_serves_one_tenants_page_to_another_on_the_same_url",
    },
}
MARKERS = {"membership": "guards_membership", "cache-key": "guards_cache_key"}
# Collecting imports the settings: placeholder URLs keep them from starting the embedded services.
NO_SERVICES = {"DATABASE_URL": "postgres://x@127.0.0.1:1/x", "REDIS_URL": "redis://127.0.0.1:1/0"}

Outcomes = tuple[set[str], set[str]]  # (passed, failed) node ids


@pytest.fixture(scope="module")
def isolation_run(bakery: Bakery, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Outcomes]]:
    """run(sabotage) -> (passed, failed) node ids of the default bake's isolation suite, on one database."""
    project = bakery.synced("defaults")
    name = f"{DB_PREFIX}iso_{uuid.uuid4().hex[:10]}"
    created = psql(project, f'CREATE DATABASE "{name}"')
    if created.returncode != 0:
        pytest.fail(f"cannot create a database on {ADMIN_DATABASE_URL}: {describe(created)}")
    database_url = f"{ADMIN_DATABASE_URL.rsplit('/', 1)[0]}/{name}"
    reports = tmp_path_factory.mktemp("isolation")
    runs: list[str] = []

    def run_suite(sabotage: str) -> Outcomes:
        report = reports / f"{sabotage or 'none'}.xml"
        database = "--reuse-db" if runs else "--create-db"
        runs.append(sabotage)
        env = {"DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "ISOLATION_SABOTAGE": sabotage}
        args = ["uv", "run", "--no-sync", "pytest", SUITE, "-p", "no:cacheprovider", database, f"--junitxml={report}"]
        result = run(args, cwd=project, extra_env=env, timeout=600)
        assert result.returncode in (0, 1) and report.exists(), describe(result)
        return outcomes(report)

    try:
        yield run_suite
    finally:
        for database in (name, f"test_{name}"):
            psql(project, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def outcomes(report: Path) -> Outcomes:
    """(passed, failed) node ids in a JUnit XML report; errors count as failures, skips as neither."""
    passed: set[str] = set()
    failed: set[str] = set()
    for case in ET.parse(report).getroot().iter("testcase"):
        module, _, _test_class = case.get("classname", "").partition("::")
        node = f"{module.replace('.', '/')}.py::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(node)
        elif case.find("skipped") is None:
            passed.add(node)
    return passed, failed


def marked(bakery: Bakery, marker: str) -> set[str]:
    """Node ids of the isolation tests carrying `marker` (collected, not run)."""
    args = ["uv", "run", "--no-sync", "pytest", SUITE, "-p", "no:cacheprovider", "--collect-only", "-q", "-m", marker]
    result = run(args, cwd=bakery.synced("defaults"), extra_env=NO_SERVICES)
    assert result.returncode == 0, describe(result)
    return {line.split("[")[0] for line in result.stdout.splitlines() if line.startswith(f"{SUITE}/")}


def test_isolation_suite_passes_then_fails_exactly_where_a_protection_is_switched_off(
    bakery: Bakery, isolation_run: Callable[[str], Outcomes]
) -> None:
    passed, failed = isolation_run("")
    assert failed == set(), f"the isolation suite fails as generated: {sorted(failed)}"
    assert len(passed) >= 12, sorted(passed)

    for sabotage, marker in MARKERS.items():
        guards = marked(bakery, marker)
        assert guards >= REQUIRED_GUARDS[sabotage], f"{marker} is missing on {REQUIRED_GUARDS[sabotage] - guards}"

        sabotaged_passed, sabotaged_failed = isolation_run(sabotage)
        failed_tests = {node.split("[")[0] for node in sabotaged_failed}  # a parametrized guard fails whole

        assert failed_tests == guards, (
            f"ISOLATION_SABOTAGE={sabotage}: guards still passing: {sorted(guards - failed_tests)}; "
            f"other tests failing: {sorted(failed_tests - guards)}"
        )
        assert sabotaged_passed | sabotaged_failed == passed  # the same tests ran
