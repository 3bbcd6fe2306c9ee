"""Embedded PostgreSQL{% if cookiecutter.use_celery == "y" %} and Redis{% endif %} (config/devservices.py): each server comes back on the port it
first chose{% if cookiecutter.use_celery == "y" %}, Redis saves its data{% endif %}, and processes started with their URLs (what `make dev` runs) reach
them again after `services-down` + `services-up` without being restarted themselves.

The servers here are real and of this module's own: a data folder under /var/tmp (EMBEDDED_DATA_DIR, open
to the unprivileged user PostgreSQL runs as under root) with ports of its own, so neither `.data/` nor the
servers the rest of the suite may run on are touched. The module stops them and removes the folder at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.test_settings_import import environment_without_urls, project_copy

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Seconds a running process gets to reach the restarted servers (Django reconnects at its next request{% if cookiecutter.use_celery == "y" %};
# a worker that lost its broker retries after 2 s, then 4 s ...{% endif %}).
RECONNECT_DEADLINE = 20
{%- if cookiecutter.use_celery == "y" %}
SERVICES = {"postgres", "redis"}
{%- else %}
SERVICES = {"postgres"}
{%- endif %}
# A test module for pytest to run in a project copy: the settings it got are those of the embedded servers.
PROBE = """
import json
import os

from django.conf import settings


def test_the_settings_read_the_urls_of_the_embedded_servers():
    expected = json.loads(os.environ["PROBE_URLS"])
    assert {name: getattr(settings, name) for name in expected} == expected
"""


@dataclass
class EmbeddedServices:
    """`python -m config.devservices` on the data folder `data_dir`."""

    data_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of a process on these servers: DATABASE_URL / REDIS_URL unset, as in `make dev`."""
        return {**os.environ, "EMBEDDED_DATA_DIR": str(self.data_dir), "DATABASE_URL": "", "REDIS_URL": "", **extra}

    def run(self, action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "config.devservices", action],
            cwd=PROJECT_DIR, env=self.env(), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    def up(self) -> dict[str, str]:
        """Start the servers; return the URLs `up` printed ({"DATABASE_URL": ..., ...})."""
        result = self.run("up")
        assert result.returncode == 0, result.stderr
        return dict(line.split("=", 1) for line in result.stdout.splitlines())

    def down(self) -> None:
        result = self.run("down")
        assert result.returncode == 0, result.stderr

    def recorded_ports(self) -> dict[str, int]:
        return dict(json.loads((self.data_dir / "ports.json").read_text()))


@pytest.fixture(scope="module")
def services() -> Iterator[EmbeddedServices]:
    # /var/tmp: every parent folder open to the user PostgreSQL runs as under root (config/devservices.py).
    parent = Path("/var/tmp") if Path("/var/tmp").is_dir() else Path(tempfile.gettempdir())  # noqa: S108
    data_dir = Path(tempfile.mkdtemp(prefix="devservices-test-", dir=parent))
    data_dir.chmod(0o755)
    services = EmbeddedServices(data_dir)
    try:
        yield services
    finally:
        services.run("down")
        shutil.rmtree(data_dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _health_status(url: str) -> int | None:
    """HTTP status of GET `url`/healthz, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:  # noqa: S310 - local URL
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def _started(process: subprocess.Popen[bytes], log: Path, ready: object, what: str) -> None:
    """Wait (60 s at most) until `ready()` is true; fail with the process's log when it exits or times out."""
    deadline = time.monotonic() + 60
    while not ready():  # type: ignore[operator]
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what} did not come up:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


def test_services_come_back_on_the_ports_recorded_at_their_first_start(services):
    first = services.up()
    ports = services.recorded_ports()
    assert set(ports) == SERVICES
    assert f"127.0.0.1:{ports['postgres']}/" in first["DATABASE_URL"]
{%- if cookiecutter.use_celery == "y" %}
    assert first["REDIS_URL"] == f"redis://127.0.0.1:{ports['redis']}/0"
{%- endif %}

    services.down()
    assert "running" not in services.run("status").stdout
    assert services.up() == first
    assert services.recorded_ports() == ports


def test_a_manage_py_command_run_while_the_services_are_down_starts_them_on_their_recorded_ports(services):
    services.up()
    ports = services.recorded_ports()
    services.down()

    check = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
        env=services.env(DJANGO_SETTINGS_MODULE="config.settings.local"), check=False,
    )  # fmt: skip

    assert check.returncode == 0, check.stderr
    status = services.run("status").stdout
    assert f"PostgreSQL: running on 127.0.0.1:{ports['postgres']}" in status
{%- if cookiecutter.use_celery == "y" %}
    assert f"Redis: running on 127.0.0.1:{ports['redis']}" in status
{%- endif %}


def test_start_fails_naming_the_recorded_port_when_another_process_holds_it(services):
    services.up()
    ports = services.recorded_ports()
    services.down()

    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the server's own port may be in TIME_WAIT
        squatter.bind(("127.0.0.1", ports["postgres"]))
        squatter.listen()
        result = services.run("up")

    assert result.returncode == 1, result.stdout
    assert f"127.0.0.1:{ports['postgres']}" in result.stderr
    assert "ports.json" in result.stderr
    assert "Traceback" not in result.stderr
    assert services.recorded_ports() == ports
{%- if cookiecutter.use_celery == "y" %}


def test_redis_keeps_its_save_schedule_and_its_keys_across_a_restart(services):
    import redis

    url = services.up()["REDIS_URL"]
    client = redis.Redis.from_url(url)
    assert client.config_get("save") == {"save": "60 1"}
    client.set("devservices-test:kept", "still here")
    client.close()

    services.down()
    services.up()

    client = redis.Redis.from_url(url)
    assert client.get("devservices-test:kept") == b"still here"
    client.close()
{%- endif %}


def test_running_server_answers_again_after_the_services_restart(services):
    services.up()
    url = f"http://127.0.0.1:{_free_port()}"
    log_path = services.data_dir / "runserver.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", url.removeprefix("http://")],
            cwd=PROJECT_DIR, env=services.env(DJANGO_SETTINGS_MODULE="config.settings.local"),
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _started(server, log_path, lambda: _health_status(url) == 200, "runserver")

        services.down()
        assert _health_status(url) == 503  # the server is up and has lost its database
        services.up()

        deadline = time.monotonic() + RECONNECT_DEADLINE
        while (status := _health_status(url)) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == 200, log_path.read_text()[-4000:]
        assert server.poll() is None, "the server process exited"
    finally:
        server.terminate()
        server.wait(timeout=10)
{%- if cookiecutter.use_celery == "y" %}


def _pinged(client: object, node: str) -> bool:
    """True when worker `node` answers a control ping within a second through `client` (a Celery app)."""
    from kombu.exceptions import OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError

    try:
        return bool(client.control.ping(destination=[node], timeout=1.0))  # type: ignore[attr-defined]
    except (OSError, OperationalError, RedisConnectionError):  # the client's own connection died with the server
        return False


def test_running_worker_answers_again_after_the_services_restart(services):
    from celery import Celery

    redis_url = services.up()["REDIS_URL"]
    node = f"devservices-test-{os.getpid()}@localhost"
    log_path = services.data_dir / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config.celery_app", "worker", "--pool", "solo",
             "--queues", node, "--hostname", node, "--loglevel", "INFO",
             "--without-heartbeat", "--without-mingle", "--without-gossip"],
            cwd=PROJECT_DIR, env=services.env(DJANGO_SETTINGS_MODULE="config.settings.local"),
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    # A client of its own on the embedded broker (this process's app may use the suite's Redis).
    client = Celery(broker=redis_url)
    try:
        _started(worker, log_path, lambda: _pinged(client, node), "the worker")

        services.down()
        services.up()

        deadline = time.monotonic() + RECONNECT_DEADLINE
        while not (answered := _pinged(client, node)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert answered, log_path.read_text()[-4000:]
        assert worker.poll() is None, "the worker process exited"
    finally:
        client.close()
        worker.terminate()
        worker.wait(timeout=30)
{%- endif %}


def test_manage_py_with_neither_url_configured_starts_the_services_before_reading_the_settings(services, tmp_path):
    services.up()
    ports = services.recorded_ports()
    services.down()
    # The copy's `.env` sets no URL, and the variables are absent rather than empty.
    copy = project_copy(tmp_path / "project")
    env = environment_without_urls(services.data_dir, DJANGO_SETTINGS_MODULE="config.settings.local")

    check = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=copy, env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip

    assert check.returncode == 0, check.stderr
    status = services.run("status").stdout
    assert f"PostgreSQL: running on 127.0.0.1:{ports['postgres']}" in status
{%- if cookiecutter.use_celery == "y" %}
    assert f"Redis: running on 127.0.0.1:{ports['redis']}" in status
{%- endif %}


def test_pytest_with_neither_url_configured_starts_the_services_before_pytest_django_reads_the_settings(
    services, tmp_path
):
    urls = services.up()
    services.down()
    copy = project_copy(tmp_path / "project")
    (copy / "test_probe.py").write_text(PROBE)
    # The settings module comes from pyproject.toml, as in `make test`. -P keeps the working directory off
    # sys.path, as for the `pytest` command: `config` is importable for -p through `pythonpath` only.
    env = environment_without_urls(services.data_dir, PROBE_URLS=json.dumps(urls))

    result = subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_probe.py"],
        cwd=copy, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "1 passed" in result.stdout
    assert "running" in services.run("status").stdout
