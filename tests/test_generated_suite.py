"""Run the baked projects' own test suites with `make`, as their README says.

Every configuration's suite runs once, with CI=true (the browser tests must run, not skip) and no test may
be skipped. The defaults, no_celery (PostgreSQL 15), no_celery_no_drf (PostgreSQL 17) and path_clinic (tenants
routed by path, /clinic/<slug>/) bakes run against the machine's PostgreSQL and Redis (a throwaway database
each); the path bake's suite is the defaults' suite, its tests written once for both routing modes. The Zeta Works bake (use_drf=n) runs
`make lint typecheck test` as a user would, with DATABASE_URL and REDIS_URL unset: its embedded PostgreSQL
and Redis are proven there, and a project name other than the default is linted and type-checked.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import PATH_CLINIC, REDIS_URL, ZETA, Bakery, describe, run

pytestmark = pytest.mark.slow

SUITE_TIMEOUT = 1800  # seconds
MACHINE_POSTGRES_CONFIGURATIONS = ["defaults", "no_celery", "no_celery_no_drf", PATH_CLINIC]


def assert_suite_passed(result: subprocess.CompletedProcess[str]) -> None:
    """The make command exited 0 after pytest passed tests, none skipped, and a browser test ran."""
    output = result.stdout
    assert result.returncode == 0, describe(result)
    summary = re.search(r"=+ (.*\b(\d+) passed\b.*) in [\d.]+s", output)
    assert summary, describe(result)
    assert int(summary.group(2)) > 0, describe(result)
    # A skip (or an expected failure) in CI hides what it was meant to check: none is allowed.
    assert not re.search(r"\b\d+ (failed|errors?|skipped|xfailed|xpassed)\b", summary.group(1)), describe(result)
    skipped = [line for line in output.splitlines() if line.startswith(("SKIPPED", "XFAIL"))]
    assert skipped == [], describe(result)
    # `make test` runs pytest-xdist workers, whose verbose lines read "[gw0] [ 12%] PASSED tests/...::test_..."
    # (one process: "tests/...::test_... PASSED").
    passed_browser = r"PASSED \S*browser\S*::\S+|browser\S*::\S+ PASSED"
    assert re.search(passed_browser, output), f"no browser test passed:\n{output[-12000:]}"


def make(project: Path, targets: list[str], extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {"CI": "true", "PYTEST_ADDOPTS": "-v", **extra_env}
    return run(["make", *targets], cwd=project, extra_env=env, timeout=SUITE_TIMEOUT)


@pytest.mark.parametrize("name", MACHINE_POSTGRES_CONFIGURATIONS)
def test_bake_suite_passes_on_machine_postgres(
    bakery: Bakery, machine_database: Callable[[Path], str], name: str
) -> None:
    project = bakery.synced(name)
    result = make(project, ["test"], {"DATABASE_URL": machine_database(project), "REDIS_URL": REDIS_URL})

    assert_suite_passed(result)
    assert not (project / ".data" / "postgres").exists(), (
        "the embedded PostgreSQL started although DATABASE_URL was set"
    )


def test_zeta_works_bake_passes_make_lint_typecheck_test_on_embedded_postgres_and_redis(bakery: Bakery) -> None:
    project = bakery.synced(ZETA)
    assert project.name == "zeta_works" and (project / "zeta_works" / "tenancy").is_dir()

    result = make(project, ["lint", "typecheck", "test"], {})

    assert re.search(r"^All checks passed!", result.stdout, re.MULTILINE), describe(result)
    assert re.search(r"files? already formatted", result.stdout), describe(result)
    assert re.search(r"Contracts: \d+ kept, 0 broken", result.stdout), describe(result)
    assert re.search(r"^Success: no issues found", result.stdout, re.MULTILINE), describe(result)
    assert_suite_passed(result)
    status = run(["uv", "run", "--no-sync", "python", "-m", "config.devservices", "status"], cwd=project)
    assert re.search(r"PostgreSQL: running", status.stdout), describe(status)
    assert re.search(r"Redis: running", status.stdout), describe(status)
