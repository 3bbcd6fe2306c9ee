"""What a bake contains, for the defaults and each option turned off."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .conftest import CONFIGURATIONS, DEFAULT_SLUG, PATH_CLINIC, Bakery, option

# Folders a bake grows once it is used (uv sync, tests, embedded servers).
GENERATED_FOLDERS = {".venv", ".data", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__", "staticfiles"}
TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#|cookiecutter\.")


def project_files(project: Path) -> list[Path]:
    """Every file the bake wrote, relative to the project folder."""
    return sorted(
        path.relative_to(project)
        for path in project.rglob("*")
        if path.is_file() and not GENERATED_FOLDERS.intersection(path.relative_to(project).parts)
    )


def is_kept_raw(relative: Path) -> bool:
    """Django templates are copied without rendering (cookiecutter.json's _copy_without_render)."""
    return "templates" in relative.parts[:-1]


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_bake_leaves_no_template_syntax(bakery: Bakery, name: str) -> None:
    project = bakery.bake(name)
    leftovers = []
    for relative in project_files(project):
        if is_kept_raw(relative):
            continue
        text = (project / relative).read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if TEMPLATE_SYNTAX.search(line):
                leftovers.append(f"{relative}:{number}: {line.strip()}")
    assert leftovers == []


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_bake_has_no_cookiecutter_reference_even_in_raw_files(bakery: Bakery, name: str) -> None:
    project = bakery.bake(name)
    raw_files = [relative for relative in project_files(project) if is_kept_raw(relative)]
    assert raw_files, "expected Django templates and a CI workflow in the bake"
    offenders = [str(relative) for relative in raw_files if "cookiecutter" in (project / relative).read_text()]
    assert offenders == []


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_bake_drops_files_of_unselected_options(bakery: Bakery, name: str) -> None:
    project = bakery.bake(name)
    celery = CONFIGURATIONS[name].get("use_celery", "y") == "y"
    drf = CONFIGURATIONS[name].get("use_drf", "y") == "y"
    files = project_files(project)
    python_sources = {relative: (project / relative).read_text() for relative in files if relative.suffix == ".py"}

    celery_files = [
        f
        for f in files
        if f.name == "tasks.py"
        or f.name.startswith("celery_")
        or (f.parts[0] == "tests" and f.match("test_celery_*.py"))
    ]
    celery_files += [f for f in files if f == Path("config/celery_app.py")]
    drf_files = [
        f
        for f in files
        if f.name == "api.py"
        or f.name.startswith("api_")  # api_support.py; API keys: accounts/api_key*.py, templates/accounts/api_keys.html
        or f.name.endswith("_apikey.py")  # the API keys' migration
        or (f.parts[0] == "tests" and f.match("test_api_*.py"))
    ]
    uses_celery = sorted(
        str(f)
        for f, text in python_sources.items()
        if re.search(r"^\s*(from|import) (celery|tenant_schemas_celery)\b", text, re.MULTILINE)
    )
    uses_drf = sorted(
        str(f)
        for f, text in python_sources.items()
        if re.search(r"^\s*(from|import) (rest_framework|drf_spectacular)\b", text, re.MULTILINE)
    )
    pyproject = (project / "pyproject.toml").read_text()

    if celery:
        assert Path("config/celery_app.py") in files
        assert "tenant-schemas-celery" in pyproject
    else:
        assert celery_files == []
        assert uses_celery == []
        assert "celery" not in pyproject
    if drf:
        assert Path(DEFAULT_SLUG) / "api.py" in files
        assert Path(DEFAULT_SLUG) / "accounts" / "api_keys.py" in files
        assert "djangorestframework" in pyproject
    else:
        assert drf_files == []
        assert uses_drf == []
        assert "djangorestframework" not in pyproject


def test_the_path_routing_bake_differs_from_the_defaults_only_in_its_routing_settings(bakery: Bakery) -> None:
    """Routing branches on settings.TENANCY_ROUTING at run time, not in Jinja: every Python file and
    pyproject.toml of the path bake is the defaults' but for the two settings lines (so both modes' code is linted
    and type-checked in every bake, and test_quality.py need not lint the path bake again)."""
    domain, path = bakery.bake("defaults"), bakery.bake(PATH_CLINIC)
    checked = [f for f in project_files(domain) if f.suffix == ".py" or f.name == "pyproject.toml"]
    settings = Path("config/settings/base.py")

    assert [f for f in project_files(path) if f.suffix == ".py" or f.name == "pyproject.toml"] == checked
    differing = [str(f) for f in checked if (domain / f).read_text() != (path / f).read_text()]
    assert differing == [str(settings)]
    changed = set((domain / settings).read_text().splitlines()) ^ set((path / settings).read_text().splitlines())
    assert changed == {
        'TENANCY_ROUTING = "domain"',
        'TENANCY_PATH_PREFIX = "t"',
        'TENANCY_ROUTING = "path"',
        'TENANCY_PATH_PREFIX = "clinic"',
    }


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_bake_yaml_files_parse_and_compose_matches_options(bakery: Bakery, name: str) -> None:
    project = bakery.bake(name)
    celery = CONFIGURATIONS[name].get("use_celery", "y") == "y"

    compose = yaml.safe_load((project / "compose.yaml").read_text())
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    pre_commit = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())

    services = set(compose["services"])
    assert {"postgres", "web"} <= services
    assert ({"redis", "worker", "beat"} <= services) is celery
    assert ({"redis", "worker", "beat"} & services == set()) is not celery
    assert compose["services"]["postgres"]["image"] == f"postgres:{option(name, 'postgresql_version')}"
    assert "migrate_schemas --shared" in compose["services"]["web"]["command"]
    ci_services = workflow["jobs"]["test"]["services"]
    assert ci_services["postgres"]["image"] == compose["services"]["postgres"]["image"]
    assert ("redis" in ci_services) is celery
    assert ("REDIS_URL" in workflow["jobs"]["test"]["env"]) is celery
    steps = " ".join(step.get("run", "") for step in workflow["jobs"]["test"]["steps"])
    assert "make lint typecheck test" in steps
    assert "chromium" in steps
    hook_ids = {hook["id"] for repo in pre_commit["repos"] for hook in repo["hooks"]}
    assert {"ruff", "ruff-format"} <= hook_ids


def test_readme_and_docs_document_the_commands_and_the_generated_project(bakery: Bakery) -> None:
    """The README is a short entry linking docs/; together they document the commands, settings and URLs.

    The bake's own tests/test_docs.py checks that everything they name exists; here, that the essentials are named.
    """
    project = bakery.bake("defaults")
    readme = (project / "README.md").read_text()
    assert len(readme.splitlines()) <= 120
    pages = sorted(path.name for path in (project / "docs").glob("*.md"))
    assert {"concepts.md", "commands.md", "operations.md", "deployment.md", "security.md", "benchmarks.md"} <= set(
        pages
    )
    assert "updating.md" in pages and "adoption.md" in pages
    assert all(f"(docs/{page})" in readme for page in pages)
    docs = readme + "".join((project / "docs" / page).read_text() for page in pages)
    for needle in (
        "make dev",
        "make test",
        "make services-down",
        "http://acme.localhost:8000/",
        "http://globex.localhost:8000/",
        "http://localhost:8000/",
        "create_tenant --name N --slug S [--domain D] [--owner-email E] [--plan CODE] [--dry-run] [--noinput]",
        "tenant_status --tenant S",
        "list_tenants [--format table\\|json] [--include-public] [--search TEXT] [--limit N] [--offset N] [--spares]",
        "drop_schema --tenant S [--force] [--no-backup]",
        "backup_tenant --tenant S",
        "restore_tenant --input PATH --slug NEW",
        "tenants_doctor [--fix \\| --citus] [--format table\\|json]",
        "adopt_single_tenant --name N --slug S [--domain D] [--legacy-users TABLE]",
        "http://localhost:8000/signup/",
        "http://localhost:8000/accounts/login/",
        "TENANCY_INVITATION_HOURS",
        "ACCOUNT_EMAIL_VERIFICATION",
        "TENANCY_SPARE_SCHEMAS",
        "--tenant=<slug>",
        "tenant_<slug>",
        "DJANGO_SECRET_KEY",
        "TENANCY_BASE_DOMAIN",
        "/healthz",
        "plans [--format table\\|json]",
        "subscription --tenant S",
        "BILLING_PROVIDER",
        "BILLING_GRACE_DAYS",
        "STRIPE_WEBHOOK_SECRET",
        "/billing/stripe/webhook/",
        "stripe listen --forward-to localhost:8000/billing/stripe/webhook/",
    ):
        assert needle in docs
