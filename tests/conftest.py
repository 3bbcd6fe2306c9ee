"""Bake the template once per configuration and run what it made.

Bakes go to a folder under /var/tmp whose every parent other users can traverse:
when the tests run as root, the generated project's embedded PostgreSQL runs as
an unprivileged user that must reach the project folder.

Environment knobs (all optional):
  TEMPLATE_TEST_DATABASE_URL   admin URL of the PostgreSQL used for the default bake's suite
                               (default postgres://postgres@127.0.0.1:5432/postgres)
  TEMPLATE_TEST_DB_PREFIX      prefix of the throwaway database names (default template_test_)
  TEMPLATE_TEST_REDIS_URL      Redis for that suite (default redis://127.0.0.1:6379/13)
  TEMPLATE_TEST_KEEP_BAKES     set to 1 to keep the baked projects after the session
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_SLUG = "acme_saas"

# name -> extra_context; "defaults" is cookiecutter.json as it stands. Every value of every option is baked
# (postgresql_version 16 by default, 15 and 17 with the options turned off) and, to keep CI short, another
# project name rides on the use_drf=n bake: its slug differs from every name the template's files spell out.
# PATH_CLINIC routes tenants by path (/clinic/<slug>/, the clinic seed's URLs) with Celery and DRF on, so its
# suite covers every feature in that mode; its Python differs from the defaults' only in two settings
# (test_bake.py checks), so it is not linted and type-checked again (test_quality.py LINTED_HERE).
ZETA = "zeta_works_no_drf"
PATH_CLINIC = "path_clinic"
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "defaults": {},
    "no_celery": {"use_celery": "n", "postgresql_version": "15"},
    ZETA: {"project_name": "Zeta Works", "use_drf": "n"},
    "no_celery_no_drf": {"use_celery": "n", "use_drf": "n", "postgresql_version": "17"},
    PATH_CLINIC: {"tenant_routing": "path", "tenant_path_prefix": "clinic"},
}
COOKIECUTTER_JSON: dict[str, object] = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())


def option(name: str, key: str) -> str:
    """The answer configuration `name` gives to `key`: its extra_context, else cookiecutter.json's default."""
    default = COOKIECUTTER_JSON[key]
    return CONFIGURATIONS[name].get(key, default[0] if isinstance(default, list) else str(default))


# Variables of the caller's shell that would steer a baked project somewhere else.
STRIPPED_VARIABLES = (
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONHOME",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "UV_PROJECT_ENVIRONMENT",
    "PYTEST_ADDOPTS",
    "PYTEST_XDIST_AUTO_NUM_WORKERS",
    # `make test PYTEST_ARGS=...` here puts PYTEST_ARGS in the environment and hands it to every make below it
    # through MAKEFLAGS: a bake's `make test` would run with the template's pytest arguments.
    "PYTEST_ARGS",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
)

# Production settings with a dummy environment: nothing listens on port 1, and
# nothing here opens a connection.
DUMMY_PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "dummy-" + "k7Qz2xW9pL4mN8vR3tY6uB1cE5hJ0aS" * 2,
    "DATABASE_URL": "postgres://u:p@127.0.0.1:1/x",
    "REDIS_URL": "redis://127.0.0.1:1/0",
}


ADMIN_DATABASE_URL = os.environ.get("TEMPLATE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DB_PREFIX = os.environ.get("TEMPLATE_TEST_DB_PREFIX", "template_test_")
REDIS_URL = os.environ.get("TEMPLATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for commands run in a bake: uv from this venv, the machine's Python, no stray settings."""
    env = {key: value for key, value in os.environ.items() if key not in STRIPPED_VARIABLES}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_PYTHON"] = os.environ.get("UV_PYTHON", sys.executable)
    env["UV_LINK_MODE"] = "copy"
    env["UV_NO_PROGRESS"] = "1"
    env.update(extra or {})
    return env


def run(
    args: list[str], cwd: Path, extra_env: Mapping[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run `args` in `cwd`; return the finished process with stdout and stderr merged into stdout."""
    return subprocess.run(
        args,
        cwd=cwd,
        env=tool_env(extra_env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def describe(result: subprocess.CompletedProcess[str], tail: int = 12000) -> str:
    """A failure message: the command, its exit code and the end of its output."""
    return f"`{' '.join(result.args)}` exited {result.returncode}:\n{result.stdout[-tail:]}"


def make_bake_root() -> Path:
    """A fresh folder under /var/tmp (or the temp dir) that every user can traverse."""
    parent = Path("/var/tmp") if Path("/var/tmp").is_dir() else Path(tempfile.gettempdir())
    root = Path(tempfile.mkdtemp(prefix="tenant-saas-bakes-", dir=parent))
    root.chmod(0o755)
    return root


class Bakery:
    """Bakes each configuration once per session, and syncs its environment once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._projects: dict[str, Path] = {}
        self._synced: dict[str, subprocess.CompletedProcess[str]] = {}

    def bake(self, name: str, extra_context: Mapping[str, str] | None = None) -> Path:
        """Bake configuration `name` (or `extra_context` under that name) once; return the project folder."""
        if name not in self._projects:
            context = dict(CONFIGURATIONS[name] if extra_context is None else extra_context)
            output_dir = self.root / name
            output_dir.mkdir()
            project = cookiecutter(str(TEMPLATE_DIR), no_input=True, extra_context=context, output_dir=str(output_dir))
            self._projects[name] = Path(project)
        return self._projects[name]

    def synced(self, name: str) -> Path:
        """The baked project of `name` after `uv sync` (dev group included); fails the test when sync fails."""
        project = self.bake(name)
        if name not in self._synced:
            self._synced[name] = run(["uv", "sync"], cwd=project, timeout=1800)
        result = self._synced[name]
        if result.returncode != 0:
            pytest.fail(describe(result))
        return project

    def stop_embedded_services(self) -> None:
        """Stop any embedded PostgreSQL/Redis a bake started (they outlive the processes that start them)."""
        for project in self._projects.values():
            if (project / ".data").exists() and (project / ".venv").exists():
                run(["uv", "run", "--no-sync", "python", "-m", "config.devservices", "down"], cwd=project, timeout=120)


@pytest.fixture(scope="session")
def bakery() -> Iterator[Bakery]:
    root = make_bake_root()
    bakery = Bakery(root)
    try:
        yield bakery
    finally:
        bakery.stop_embedded_services()
        if os.environ.get("TEMPLATE_TEST_KEEP_BAKES") == "1":
            print(f"\nbakes kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def empty_output_dir(tmp_path: Path) -> Path:
    output = tmp_path / "out"
    output.mkdir()
    return output


def psql(project: Path, statement: str) -> subprocess.CompletedProcess[str]:
    """Run one SQL statement on the admin database with the bake's psycopg."""
    script = (
        "import sys, psycopg\n"
        "with psycopg.connect(sys.argv[1], autocommit=True) as conn:\n"
        "    conn.execute(sys.argv[2])\n"
    )
    return run(["uv", "run", "--no-sync", "python", "-c", script, ADMIN_DATABASE_URL, statement], cwd=project)


@pytest.fixture
def machine_database() -> Iterator[Callable[[Path], str]]:
    """A factory: `create(project)` makes a fresh database on the machine's PostgreSQL with the psycopg of
    `project` and returns its URL; every database made (and its test twin) is dropped after the test."""
    made: list[tuple[Path, str]] = []

    def create(project: Path) -> str:
        name = f"{DB_PREFIX}{uuid.uuid4().hex[:10]}"
        created = psql(project, f'CREATE DATABASE "{name}"')
        if created.returncode != 0:
            pytest.fail(f"cannot create a database on {ADMIN_DATABASE_URL}: {describe(created)}")
        made.append((project, name))
        return f"{ADMIN_DATABASE_URL.rsplit('/', 1)[0]}/{name}"

    yield create
    for project, name in made:
        for database in (name, f"test_{name}"):
            psql(project, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
