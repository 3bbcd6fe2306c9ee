"""Every bake installs, lints, type-checks, has its migrations and passes Django's deploy checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import CONFIGURATIONS, DUMMY_PRODUCTION_ENV, PATH_CLINIC, ZETA, Bakery, describe, run

pytestmark = pytest.mark.slow

COMPILE_TEMPLATES = Path(__file__).resolve().parent / "scripts" / "compile_templates.py"
# The Zeta Works bake runs `make lint typecheck test` (tests/test_generated_suite.py): the same ruff, lint-imports
# and mypy runs as below, so they are not repeated for it here. The path-routing bake's Python is the defaults'
# but for two settings strings (tests/test_bake.py), so linting it again would check the same code.
LINTED_HERE = [name for name in CONFIGURATIONS if name not in (ZETA, PATH_CLINIC)]


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_bake_installs_with_uv(bakery: Bakery, name: str) -> None:
    project = bakery.synced(name)

    assert (project / ".venv" / "bin" / "python").exists()
    assert (project / "uv.lock").exists()


@pytest.mark.parametrize("name", LINTED_HERE)
def test_bake_passes_ruff_check(bakery: Bakery, name: str) -> None:
    result = run(["uv", "run", "--no-sync", "ruff", "check", "."], cwd=bakery.synced(name))
    assert result.returncode == 0, describe(result)


@pytest.mark.parametrize("name", LINTED_HERE)
def test_bake_is_ruff_formatted(bakery: Bakery, name: str) -> None:
    result = run(["uv", "run", "--no-sync", "ruff", "format", "--check", "."], cwd=bakery.synced(name))
    assert result.returncode == 0, describe(result)


@pytest.mark.parametrize("name", LINTED_HERE)
def test_bake_keeps_its_package_layering(bakery: Bakery, name: str) -> None:
    """`make lint`'s import contracts (pyproject.toml [tool.importlinter]): layers, no cycles, plain domain modules."""
    result = run(["uv", "run", "--no-sync", "lint-imports"], cwd=bakery.synced(name))
    assert result.returncode == 0, describe(result)
    assert re.search(r"Contracts: \d+ kept, 0 broken", result.stdout), describe(result)


@pytest.mark.parametrize("name", LINTED_HERE)
def test_bake_passes_mypy_with_django_stubs(bakery: Bakery, name: str) -> None:
    # Dummy URLs: the django-stubs plugin imports the settings, which require
    # them (importing settings starts no embedded server).
    urls = {key: DUMMY_PRODUCTION_ENV[key] for key in ("DATABASE_URL", "REDIS_URL")}
    result = run(["uv", "run", "--no-sync", "mypy", "."], cwd=bakery.synced(name), extra_env=urls, timeout=1200)
    assert result.returncode == 0, describe(result)
    assert re.search(r"^Success: no issues found", result.stdout, re.MULTILINE), describe(result)


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_bake_has_every_migration(bakery: Bakery, name: str) -> None:
    result = run(
        ["uv", "run", "--no-sync", "python", "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=bakery.synced(name),
        extra_env=DUMMY_PRODUCTION_ENV,
    )
    assert result.returncode == 0, describe(result)
    assert "No changes detected" in result.stdout, describe(result)


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_bake_passes_deploy_checks_with_production_settings(bakery: Bakery, name: str) -> None:
    result = run(
        ["uv", "run", "--no-sync", "python", "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=bakery.synced(name),
        extra_env=DUMMY_PRODUCTION_ENV,
    )
    assert result.returncode == 0, describe(result)
    assert "System check identified no issues" in result.stdout, describe(result)


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_bake_production_settings_require_secrets(bakery: Bakery, name: str) -> None:
    env = dict(DUMMY_PRODUCTION_ENV)
    del env["DJANGO_SECRET_KEY"]
    project = bakery.synced(name)
    # The bake's `.env` holds a development secret key, and stays where it is: production settings must not
    # fall back to it unnoticed.
    assert re.search(r"^DJANGO_SECRET_KEY=\S{50,}$", (project / ".env").read_text(), re.MULTILINE)
    check = ["uv", "run", "--no-sync", "python", "manage.py", "check"]

    refused = run(check, cwd=project, extra_env=env)
    read = run(check, cwd=project, extra_env={**env, "DJANGO_READ_DOT_ENV_FILE": "True"})

    assert refused.returncode != 0, describe(refused)
    assert "DJANGO_SECRET_KEY" in refused.stdout, describe(refused)
    assert read.returncode == 0, describe(read)
    assert "System check identified no issues" in read.stdout, describe(read)


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_bake_django_templates_compile(bakery: Bakery, name: str) -> None:
    result = run(
        ["uv", "run", "--no-sync", "python", str(COMPILE_TEMPLATES)],
        cwd=bakery.synced(name),
        extra_env=DUMMY_PRODUCTION_ENV,
    )
    assert result.returncode == 0, describe(result)
    match = re.search(r"^compiled (\d+) of (\d+) templates", result.stdout, re.MULTILINE)
    assert match, describe(result)
    assert int(match.group(2)) >= 4, describe(result)


def test_bake_runs_the_dockerfile_collectstatic_step(bakery: Bakery) -> None:
    # Docker is not needed to prove the image's build step: the same command, same settings.
    project = bakery.synced("defaults")
    dockerfile = (project / "Dockerfile").read_text()
    assert "python manage.py collectstatic --noinput" in dockerfile

    result = run(
        ["uv", "run", "--no-sync", "python", "manage.py", "collectstatic", "--noinput"],
        cwd=project,
        extra_env=DUMMY_PRODUCTION_ENV,
    )
    assert result.returncode == 0, describe(result)
    assert (project / "staticfiles" / "staticfiles.json").exists(), describe(result)


@pytest.mark.parametrize("name", ["defaults", "no_celery"])
def test_bake_compose_entry_points_import_with_production_settings(bakery: Bakery, name: str) -> None:
    # compose.yaml runs gunicorn on config.wsgi and, with Celery, `celery -A config.celery_app`.
    celery = CONFIGURATIONS[name].get("use_celery", "y") == "y"
    script = "import config.wsgi\n"
    if celery:
        script += "from config.celery_app import app\nassert app.conf.broker_url == 'redis://127.0.0.1:1/0', app.conf.broker_url\n"
    result = run(
        ["uv", "run", "--no-sync", "python", "-c", script], cwd=bakery.synced(name), extra_env=DUMMY_PRODUCTION_ENV
    )
    assert result.returncode == 0, describe(result)
