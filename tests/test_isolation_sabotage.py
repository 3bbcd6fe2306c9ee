"""The bake's isolation suite passes, and proves it can fail: `make test-sabotage` in the bake.

The bake's own check (`python -m tests.isolation.check_sabotage`, the `make test-sabotage` target and a step
of the bake's CI) runs `tests/isolation` on one throwaway database as generated (every test passes) and once
per ISOLATION_SABOTAGE switch listed in the bake's tests/isolation/sabotage.py (SABOTAGES: switch -> the
marker of the tests that must then fail, or None when every test must still pass). Here it runs in the
default bake, in the one without Celery and DRF, and in the one routing tenants by path (/clinic/<slug>/, where
the same guards attack through one host and one session), and its printed summary must show every switch of
SABOTAGES ran and held: a switch skipped, or one whose guards still pass, fails this test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import PATH_CLINIC, REDIS_URL, Bakery, describe, option, run

pytestmark = pytest.mark.slow

CHECK = ["uv", "run", "--no-sync", "python", "-m", "tests.isolation.check_sabotage"]
# Collecting imports the settings: placeholder URLs keep them from starting the embedded services.
NO_SERVICES = {"DATABASE_URL": "postgres://x@127.0.0.1:1/x", "REDIS_URL": "redis://127.0.0.1:1/0"}
# Switches each bake must have: the protections the issue names.
REQUIRED_SWITCHES = {"cache-key", "media-containment", "schema-reset", "next-redirect", "csrf"}
# Authorization's two layers: either one alone keeps every test passing (marker None), both off fail the guards.
AUTHORIZATION_SWITCHES = {"membership": None, "role-layer": None, "authorization": "guards_authorization"}
CELERY_SWITCHES = {"celery-header"}
# Attacks the acceptance names: each must be a guard that fails under some switch of every bake with Celery.
REQUIRED_CAUGHT = {
    "tests/isolation/test_sessions.py::test_a_session_of_one_tenant_is_refused_on_another_tenant",
    "tests/isolation/test_api_rows.py::test_api_refuses_a_session_from_another_tenants_host",
    "tests/isolation/test_admin.py::test_the_tenant_admin_refuses_another_tenants_owner",
    "tests/isolation/test_media.py::test_another_tenants_member_is_refused_a_file",
    "tests/isolation/test_cache.py::test_the_same_cache_key_holds_one_value_per_tenant",
    "tests/isolation/test_cache.py::test_cache_page_never_serves_one_tenants_page_to_another_on_the_same_url",
    "tests/isolation/test_media.py::test_paths_outside_the_tenants_folder_are_404",
    "tests/isolation/test_connection.py::test_a_raw_cursor_after_a_failed_request_does_not_see_its_tenants_schema",
    "tests/isolation/test_connection.py::test_code_after_a_request_on_the_same_thread_runs_in_the_public_schema",
    "tests/isolation/test_sessions.py::test_login_next_never_redirects_off_the_tenant",
    "tests/isolation/test_sessions.py::test_public_login_next_never_redirects_to_another_host_or_tenant",
    "tests/isolation/test_csrf.py::test_a_cross_site_post_without_a_token_to_a_tenant_form_is_refused",
    "tests/isolation/test_api_csrf.py::test_a_cross_site_api_write_with_the_session_cookie_and_no_token_is_refused",
    "tests/isolation/test_celery_tasks.py::test_a_task_sent_from_one_tenant_runs_there_even_on_a_connection_left_in_another",
}
# In path routing the tenant admin answers a stranger 403 with either authorization layer off and with both (its
# login view refuses too), so that test guards no switch there and must pass under all of them.
NOT_A_GUARD_IN_PATH_ROUTING = {"tests/isolation/test_admin.py::test_the_tenant_admin_refuses_another_tenants_owner"}
SWITCH_LINE = re.compile(r"^switch (?P<name>\S+) \[(?P<marker>[^\]]+)\]: .* -> (?P<verdict>ok|MISMATCH)$")
CAUGHT_LINE = re.compile(r"^    failed as it must: (?P<node>\S+)$")
PLAIN_LINE = re.compile(r"^plain: (?P<passed>\d+) passed, 0 failed .* -> ok$")


def sabotages_of(project: Path) -> dict[str, str | None]:
    """The bake's SABOTAGES (tests/isolation/sabotage.py), as the bake's Python reads it."""
    script = "import json; from tests.isolation.sabotage import SABOTAGES; print(json.dumps(SABOTAGES))"
    result = run(["uv", "run", "--no-sync", "python", "-c", script], cwd=project, extra_env=NO_SERVICES)
    assert result.returncode == 0, describe(result)
    sabotages: dict[str, str | None] = json.loads(result.stdout.strip().splitlines()[-1])
    return sabotages


def summary_of(output: str) -> tuple[int, dict[str, tuple[str, str]], dict[str, set[str]]]:
    """(tests passed as generated, switch -> (marker shown, verdict), switch -> guards that failed as they must)
    from the output of check_sabotage."""
    passed = 0
    switches: dict[str, tuple[str, str]] = {}
    caught: dict[str, set[str]] = {}
    current = ""
    for line in output.splitlines():
        if plain := PLAIN_LINE.match(line):
            passed = int(plain["passed"])
        elif switch := SWITCH_LINE.match(line):
            current = switch["name"]
            assert current not in switches, f"switch {current} ran twice"
            switches[current] = (switch["marker"], switch["verdict"])
            caught[current] = set()
        elif (node := CAUGHT_LINE.match(line)) and current:
            caught[current].add(node["node"])
    return passed, switches, caught


@pytest.mark.parametrize("configuration", ["defaults", "no_celery_no_drf", PATH_CLINIC])
def test_the_bakes_sabotage_check_runs_every_switch_and_each_fails_exactly_its_guards(
    bakery: Bakery, machine_database: Callable[[Path], str], configuration: str
) -> None:
    project = bakery.synced(configuration)
    sabotages = sabotages_of(project)
    celery = option(configuration, "use_celery") == "y"
    assert set(sabotages) >= REQUIRED_SWITCHES | (CELERY_SWITCHES if celery else set()), sorted(sabotages)
    assert {name: sabotages.get(name, "missing") for name in AUTHORIZATION_SWITCHES} == AUTHORIZATION_SWITCHES
    if not celery:
        assert not set(sabotages) & CELERY_SWITCHES, "a switch of a Celery module in a bake without Celery"
    # The bake runs the check in CI and offers it as a make target.
    assert "make test-sabotage" in (project / ".github/workflows/ci.yml").read_text()
    dry_run = run(["make", "-n", "test-sabotage"], cwd=project)
    assert dry_run.returncode == 0 and "-m tests.isolation.check_sabotage" in dry_run.stdout, describe(dry_run)

    env = {"DATABASE_URL": machine_database(project), "REDIS_URL": REDIS_URL}
    result = run(CHECK, cwd=project, extra_env=env, timeout=1800)

    assert result.returncode == 0, describe(result)
    assert result.stdout.rstrip().splitlines()[-1].startswith("sabotage check: ok"), describe(result)
    passed, switches, caught = summary_of(result.stdout)
    assert passed >= 12, describe(result)
    assert list(switches) == list(sabotages), f"switches that did not run: {sorted(set(sabotages) - set(switches))}"
    for name, marker in sabotages.items():
        shown, verdict = switches[name]
        assert verdict == "ok", describe(result)
        assert shown == (marker or "none: every test must pass"), (name, shown)
        if marker:
            assert caught[name], f"switch {name}: no guard failed"
    if celery:
        found = set().union(*caught.values())
        required = REQUIRED_CAUGHT
        if option(configuration, "tenant_routing") == "path":
            required = REQUIRED_CAUGHT - NOT_A_GUARD_IN_PATH_ROUTING
            assert not found & NOT_A_GUARD_IN_PATH_ROUTING, describe(result)
        assert required <= found, f"attacks no switch catches: {sorted(required - found)}"
