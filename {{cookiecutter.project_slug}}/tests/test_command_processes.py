"""conftest.manage_process forks commands from a server that started Django once (tests/command_processes.py);
what such a process answers must be what `python manage.py` started afresh answers: exit status, stdout, stderr."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import PROJECT_DIR, command_environment, command_server, manage_process

CASES = {
    "help": ["help", "list_tenants"],
    "listing": ["list_tenants"],
    "refused value": ["create_tenant", "--name", "Initech", "--slug", "Bad Slug!", "--noinput"],
    "unknown option": ["list_tenants", "--no-such-option"],
    "unknown command": ["no_such_command"],
}


def fresh(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=command_environment(env), capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("args", list(CASES.values()), ids=list(CASES))
def test_a_forked_command_answers_as_a_fresh_process(django_db_setup: None, args: list[str]) -> None:
    forked, started = manage_process(*args), fresh(*args)

    assert (forked.returncode, forked.stdout, forked.stderr) == (started.returncode, started.stdout, started.stderr)
    assert forked.stdout or forked.stderr  # each case says something


def test_an_uncaught_exception_exits_1_with_its_traceback_and_the_environment_is_the_callers(
    django_db_setup: None,
) -> None:
    code = "import os; print(os.environ['TEST_MARK']); raise ValueError('boom')"
    forked = manage_process("shell", "-c", code, env={"TEST_MARK": "marked"})
    started = fresh("shell", "-c", code, env={"TEST_MARK": "marked"})

    assert (forked.returncode, forked.stdout) == (started.returncode, started.stdout)
    assert forked.returncode == 1 and forked.stdout.splitlines()[-1] == "marked"
    assert forked.stderr.startswith("Traceback (most recent call last):")
    assert forked.stderr.splitlines()[-1] == started.stderr.splitlines()[-1] == "ValueError: boom"


def test_a_command_past_its_timeout_is_killed(django_db_setup: None) -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        manage_process("shell", "-c", "import time; time.sleep(60)", timeout=1)
    # The server goes on serving.
    assert manage_process("help", "list_tenants").returncode == 0


def test_commands_of_successive_tests_share_one_server(django_db_setup: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest changes os.environ from one test phase to the next (PYTEST_CURRENT_TEST); were that part of a command's
    # environment, every test would start (and keep) a server of its own.
    server = command_server()
    assert manage_process("help", "list_tenants").returncode == 0
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/test_elsewhere.py::test_other (call)")
    assert command_server() is server
    assert "PYTEST_CURRENT_TEST" not in command_environment()
