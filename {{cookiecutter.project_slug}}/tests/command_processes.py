"""`manage.py` commands in processes of their own, forked from a process that has started Django once.

Tests that run a command as a deploy script does (its own process, stdin closed, stdout and stderr apart, the
exit status) would pay the interpreter's and Django's start-up, about 0.7 s on 2 cores, for each command.
`CommandProcesses` starts one server process (`python -m tests.command_processes`) with the environment those
commands get; it imports Django, the settings and every command module once, then forks a child per command. The
child runs the command as manage.py's last line does (`execute_from_command_line`), with stdin on /dev/null and
stdout/stderr in files of their own (neither is a terminal), and exits with the status Python would give it
(`sys.exit` codes, 1 after an uncaught exception with its traceback on stderr). What a fork does not repeat, start-up
itself (the settings read from the environment, the embedded services started by manage.py), is what
tests/test_settings_import.py, tests/test_devservices.py and the `make dev` test of tests/test_commands.py check
with `python manage.py` started afresh; tests/test_command_processes.py compares forked and fresh processes.

Protocol on the server's stdin/stdout, one JSON object per line: the request `{"argv": [...], "stdout": path,
"stderr": path}`, then the answers `{"pid": n}` (when the child is forked) and `{"status": code}`.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# Seconds to wait at most for the server to fork a child (it answers at once; more only on a swamped machine).
FORK_WAIT = 60


class CommandProcesses:
    """A server that forks `manage.py` commands (see the module docstring); `run` is its only operation.

    `environment` is the complete environment of every command (DATABASE_URL of the test database,
    DJANGO_SETTINGS_MODULE, ...); `project_dir` is manage.py's folder, the commands' working directory.
    """

    def __init__(self, environment: Mapping[str, str], project_dir: Path) -> None:
        self.environment = dict(environment)
        self.project_dir = project_dir
        self._server = subprocess.Popen(
            [sys.executable, "-m", "tests.command_processes"], cwd=project_dir, env=self.environment,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self._lines = b""

    def run(self, args: Sequence[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `manage.py <args>` in a child process; return it as subprocess.run(capture_output=True, text=True)
        would (args, returncode, stdout, stderr). Raises subprocess.TimeoutExpired after `timeout` seconds (the
        child is killed) and RuntimeError when the server has gone."""
        with tempfile.TemporaryDirectory(prefix="manage-") as folder:
            stdout, stderr = Path(folder, "stdout"), Path(folder, "stderr")
            request = {"argv": list(args), "stdout": str(stdout), "stderr": str(stderr)}
            assert self._server.stdin is not None
            self._server.stdin.write(json.dumps(request).encode() + b"\n")
            self._server.stdin.flush()
            started = time.monotonic()
            # The fork answers at once; its time counts towards `timeout`, but the answer is always read, so that
            # the answers of the next command are never taken for this one's.
            pid = int(self._answer(started + max(timeout, FORK_WAIT), timeout, None)["pid"])
            status = int(self._answer(started + timeout, timeout, pid)["status"])
            return subprocess.CompletedProcess(
                [sys.executable, "manage.py", *args], status, stdout.read_text(), stderr.read_text()
            )

    def _answer(self, deadline: float, timeout: float, pid: int | None) -> dict[str, Any]:
        assert self._server.stdout is not None
        descriptor = self._server.stdout.fileno()
        while b"\n" not in self._lines:
            ready, _, _ = select.select([descriptor], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                if pid is None:
                    raise RuntimeError(f"the command server forked nothing in {FORK_WAIT} s")
                os.kill(pid, 9)
                self._answer(time.monotonic() + FORK_WAIT, timeout, None)  # the server reaps it and reports
                raise subprocess.TimeoutExpired(["manage.py"], timeout)
            chunk = os.read(descriptor, 65536)
            if not chunk:
                errors = self._server.stderr.read().decode() if self._server.stderr else ""
                raise RuntimeError(f"the command server exited: {errors[-4000:]}")
            self._lines += chunk
        line, self._lines = self._lines.split(b"\n", 1)
        return dict(json.loads(line))

    def close(self) -> None:
        """Stop the server (its stdin closes; it exits when its last child has been reaped)."""
        if self._server.stdin is not None:
            self._server.stdin.close()
        try:
            self._server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._server.kill()
            self._server.wait()


def _run_child(request: Mapping[str, Any]) -> None:
    """In the forked child: run the command with its own standard streams, then exit with its status."""
    from django.core.management import execute_from_command_line

    status = 0
    try:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        for descriptor, path in ((1, request["stdout"]), (2, request["stderr"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), descriptor)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own stream, kept open
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        sys.argv = ["manage.py", *request["argv"]]
        execute_from_command_line(sys.argv)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            status = exc.code or 0
        else:  # Python prints a non-integer exit argument and exits 1
            print(exc.code, file=sys.stderr)
            status = 1
    except BaseException:  # what the interpreter does with an uncaught exception
        traceback.print_exc()
        status = 1
    finally:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def serve() -> None:
    """The server's loop: start Django once, then fork one child per request line until stdin closes."""
    import django
    from django.core.management import get_commands, load_command_class
    from django.db import connections

    django.setup()
    for name, app in get_commands().items():
        load_command_class(app, name)
    answers = sys.stdout.buffer
    for line in sys.stdin.buffer:
        request = json.loads(line)
        # A fork copies this process whole: no connection or thread may be shared with the child.
        connections.close_all()
        if threading.active_count() != 1:
            raise RuntimeError(f"threads running in the command server: {threading.enumerate()}")
        pid = os.fork()
        if pid == 0:
            _run_child(request)
        answers.write(json.dumps({"pid": pid}).encode() + b"\n")
        answers.flush()
        _, wait_status = os.waitpid(pid, 0)
        answers.write(json.dumps({"status": os.waitstatus_to_exitcode(wait_status)}).encode() + b"\n")
        answers.flush()


if __name__ == "__main__":
    serve()
