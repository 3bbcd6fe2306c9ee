"""Importing the settings starts nothing; the entry points start the embedded servers (config/devservices.py).

The import checks run in a fresh interpreter on a copy of the project with a `config/`, `manage.py` and `.env`
of its own (everything else is linked), so the developer's `.env` and `.data/` play no part. An audit hook in
that interpreter records every process it starts and every socket it binds or connects. environ_ensure's
choices are checked in this process with stand-ins for the servers; tests/test_devservices.py runs the real
entry points (manage.py, pytest) against real embedded servers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from config import devservices

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Entries of the project a copy gets of its own; it links every other one (hidden ones aside).
OWN_ENTRIES = {"config", "manage.py", "pyproject.toml"}
LEFT_OUT = {"conftest.py", "tests"}
URL_VARIABLES = ("DATABASE_URL", "REDIS_URL")
EMBEDDED_SETTINGS = ["config.settings.local", "config.settings.test"]
# Nothing listens on port 1: a URL that is configured and never reached.
PLACEHOLDERS = {"DATABASE_URL": "postgres://x@127.0.0.1:1/x", "REDIS_URL": "redis://127.0.0.1:1/0"}
# Run by the fresh interpreter: import the module named by argv[1]; print the error it raised (or "") and the
# audit events of processes started and sockets bound or connected meanwhile, as JSON.
IMPORT_AND_WATCH = """
import importlib, json, sys
WATCHED = {"subprocess.Popen", "os.posix_spawn", "os.exec", "os.fork", "os.system", "socket.bind", "socket.connect"}
events = []
sys.addaudithook(lambda event, args: events.append(f"{event} {args!r}") if event in WATCHED else None)
try:
    importlib.import_module(sys.argv[1])
    error = ""
except Exception as exc:
    error = f"{type(exc).__name__}: {exc}"
print(json.dumps({"error": error, "events": events}))
"""


def project_copy(destination: Path, dotenv: str = "") -> Path:
    """Make `destination` a copy of the project whose config/, manage.py, pyproject.toml and `.env` (text
    `dotenv`) are its own; other entries link to the project's, conftest.py and tests/ are left out.

    settings/base.py reads the `.env` next to its own folder, and devservices keeps `.data/` there:
    both are the copy's. Returns `destination`.
    """
    destination.mkdir(parents=True, exist_ok=True)
    for entry in PROJECT_DIR.iterdir():
        if entry.name.startswith(".") or entry.name in LEFT_OUT:
            continue
        if entry.name not in OWN_ENTRIES:
            (destination / entry.name).symlink_to(entry)
        elif entry.is_dir():
            shutil.copytree(entry, destination / entry.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(entry, destination / entry.name)
    (destination / ".env").write_text(dotenv)
    return destination


def environment_without_urls(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment with neither URL (nor a settings module) set and devservices' data folder at
    `data_dir`, plus `extra`."""
    dropped = {*URL_VARIABLES, "DJANGO_SETTINGS_MODULE", "TEST_CACHE_REDIS_URL", "PYTEST_ADDOPTS"}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    return {**env, "EMBEDDED_DATA_DIR": str(data_dir), **extra}


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A project copy whose `.env` sets neither URL."""
    return project_copy(tmp_path / "project", dotenv="DJANGO_SECRET_KEY=settings-import-test\n")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


def import_in_fresh_interpreter(copy: Path, module: str, env: dict[str, str]) -> dict[str, object]:
    """Import `module` in a new interpreter in `copy`; return {"error": str, "events": [str, ...]}."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_WATCH, module],
        cwd=copy, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.parametrize("module", EMBEDDED_SETTINGS)
def test_importing_the_settings_with_no_url_configured_starts_nothing_and_fails_naming_database_url(
    copy, data_dir, module
):
    outcome = import_in_fresh_interpreter(copy, module, environment_without_urls(data_dir))

    assert str(outcome["error"]).startswith("ImproperlyConfigured"), outcome
    assert "DATABASE_URL" in str(outcome["error"])
    assert outcome["events"] == []
    assert list(data_dir.iterdir()) == []
    assert not (copy / ".data").exists()
{%- if cookiecutter.use_celery == "y" %}


@pytest.mark.parametrize("module", EMBEDDED_SETTINGS)
def test_importing_the_settings_without_redis_url_starts_nothing_and_fails_naming_it(copy, data_dir, module):
    env = environment_without_urls(data_dir, DATABASE_URL=PLACEHOLDERS["DATABASE_URL"])

    outcome = import_in_fresh_interpreter(copy, module, env)

    assert str(outcome["error"]).startswith("ImproperlyConfigured"), outcome
    assert "REDIS_URL" in str(outcome["error"])
    assert outcome["events"] == []
    assert list(data_dir.iterdir()) == []
{%- endif %}


@pytest.mark.parametrize("module", EMBEDDED_SETTINGS)
def test_settings_with_both_urls_configured_import_without_reaching_a_server(copy, data_dir, module):
    outcome = import_in_fresh_interpreter(copy, module, environment_without_urls(data_dir, **PLACEHOLDERS))

    assert outcome == {"error": "", "events": []}
    assert list(data_dir.iterdir()) == []


def test_production_settings_ignore_dotenv_unless_told_to_read_it(copy, data_dir):
    # The copy's `.env` sets DJANGO_SECRET_KEY; the environment does not.
    env = environment_without_urls(data_dir, **PLACEHOLDERS)
    env.pop("DJANGO_SECRET_KEY", None)
    env.pop("DJANGO_READ_DOT_ENV_FILE", None)

    ignored = import_in_fresh_interpreter(copy, "config.settings.production", env)
    read = import_in_fresh_interpreter(copy, "config.settings.production", {**env, "DJANGO_READ_DOT_ENV_FILE": "True"})
    local = import_in_fresh_interpreter(copy, "config.settings.local", env)

    assert str(ignored["error"]).startswith("ImproperlyConfigured"), ignored
    assert "DJANGO_SECRET_KEY" in str(ignored["error"])
    assert read == {"error": "", "events": []}
    assert local == {"error": "", "events": []}


# ---------------------------------------------------------------------------
# environ_ensure's choices, with stand-ins for the servers
# ---------------------------------------------------------------------------


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., dict[str, str]]:
    """ensure(environ, dotenv="", argv=()) runs environ_ensure with exactly `environ` for the URL and
    settings variables, `.env` text `dotenv` and `argv`; returns the URLs it put into os.environ.

    The servers are stand-ins that return `embedded://<variable>` instead of starting anything.
    """
    stand_ins = {name: (lambda name=name: f"embedded://{name}") for name in devservices.SERVICE_URLS}
    monkeypatch.setattr(devservices, "SERVICE_URLS", stand_ins)
    dotenv_file = tmp_path / ".env"
    monkeypatch.setattr(devservices, "DOTENV_FILE", dotenv_file)

    def ensure(environ: dict[str, str], dotenv: str = "", argv: tuple[str, ...] = ()) -> dict[str, str]:
        for name in (*URL_VARIABLES, "DJANGO_SETTINGS_MODULE"):
            monkeypatch.delenv(name, raising=False)
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        dotenv_file.write_text(dotenv)
        urls = devservices.environ_ensure(argv)
        assert {name: os.environ[name] for name in urls} == urls
        return urls

    return ensure


@pytest.mark.parametrize("module", EMBEDDED_SETTINGS)
def test_environ_ensure_starts_a_server_for_every_url_neither_the_environment_nor_dotenv_sets(started, module):
    expected = {name: f"embedded://{name}" for name in devservices.SERVICE_URLS}

    assert started({"DJANGO_SETTINGS_MODULE": module}) == expected
    # An empty value counts as unset, in the environment as in `.env`.
    assert started({"DJANGO_SETTINGS_MODULE": module, "DATABASE_URL": ""}, dotenv="DATABASE_URL=\n") == expected


def test_environ_ensure_respects_a_url_of_the_environment_or_of_dotenv(started):
    local = {"DJANGO_SETTINGS_MODULE": "config.settings.local"}
    configured = "".join(f"{name}={PLACEHOLDERS[name]}\n" for name in devservices.SERVICE_URLS)

    assert started({**local, **PLACEHOLDERS}) == {}
    assert started(local, dotenv=configured) == {}
    assert "DATABASE_URL" not in os.environ  # `.env` stays the settings' to read
    # The environment wins over `.env`, as in settings/base.py: an empty variable there means unset.
    assert started({**local, "DATABASE_URL": ""}, dotenv=configured) == {"DATABASE_URL": "embedded://DATABASE_URL"}


def test_environ_ensure_never_starts_a_server_for_other_settings(started):
    assert started({"DJANGO_SETTINGS_MODULE": "config.settings.production"}) == {}
    assert started({}) == {}
    # manage.py's --settings wins over DJANGO_SETTINGS_MODULE, where Django reads it (after the command).
    local = {"DJANGO_SETTINGS_MODULE": "config.settings.local"}
    assert started(local, argv=("manage.py", "check", "--settings=config.settings.production")) == {}
    assert started(local, argv=("manage.py", "check", "--settings", "config.settings.production")) == {}
    production = {"DJANGO_SETTINGS_MODULE": "config.settings.production"}
    assert started(production, argv=("manage.py", "check", "--settings=config.settings.test")) != {}
