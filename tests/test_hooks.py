"""The hooks: answers are validated before anything is written; the post hook finishes the bake."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cookiecutter.environment import StrictEnvironment

from .conftest import TEMPLATE_DIR, Bakery


def bake_cli(output_dir: Path, *answers: str) -> subprocess.CompletedProcess[str]:
    """Run the cookiecutter command line as a user would, with `answers` as key=value pairs."""
    return subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(output_dir), str(TEMPLATE_DIR), *answers],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("project_slug", "Acme-SaaS", "lowercase Python identifier"),
        ("project_slug", "1abc", "lowercase Python identifier"),
        ("project_slug", "class", "not a Python keyword"),
        ("project_slug", "products", "collides with an app"),
        ("project_slug", "tenancy", "collides with an app"),
        ("project_slug", "django", "collides with an app or module"),
        ("project_slug", "celery", "collides with an app or module"),
        ("domain_name", "not a domain", "lowercase hostname"),
        ("domain_name", "-x.com", "lowercase hostname"),
        ("domain_name", "localhost", "at least two dot-separated labels"),
        ("domain_name", "Example.com", "lowercase hostname"),
        ("domain_name", "example.com.", "no trailing dot"),
        ("domain_name", "10.0.0.1", "lowercase hostname"),
        ("domain_name", "a" * 64 + ".com", "1-63 characters"),
        ("use_celery", "yes", "accepted: y or n"),
        ("use_drf", "N", "accepted: y or n"),
        ("timezone", "Mars/Olympus", "IANA time zone"),
        ("project_name", 'Acme "SaaS"', "without double quotes"),
        ("tenant_path_prefix", "Clinic", "lowercase URL segment"),
        ("tenant_path_prefix", "t/x", "without slashes"),
        ("tenant_path_prefix", "1t", "a lowercase letter"),
        ("tenant_path_prefix", "t" * 31, "up to 29"),
        ("tenant_path_prefix", "accounts", "a path the project uses"),
        ("tenant_path_prefix", "api", "a path the project uses"),
        ("tenant_path_prefix", "static", "not one of"),
    ],
)
def test_pre_gen_hook_rejects_bad_answer_and_generates_nothing(
    empty_output_dir: Path, field: str, value: str, accepted: str
) -> None:
    answers = [f"{field}={value}"]
    if field == "project_name":
        answers.append("project_slug=acme_saas")
    result = bake_cli(empty_output_dir, *answers)

    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(error_lines) == 1, result.stderr
    assert repr(value) in error_lines[0]
    assert field in error_lines[0]
    assert accepted in error_lines[0]
    assert list(empty_output_dir.iterdir()) == []


def test_pre_gen_hook_accepts_other_valid_answers(empty_output_dir: Path) -> None:
    result = bake_cli(
        empty_output_dir,
        "project_name=Big Shop",
        "domain_name=shop.example.co.uk",
        "timezone=Europe/Paris",
        "postgresql_version=17",
    )

    assert result.returncode == 0, result.stderr
    project = empty_output_dir / "big_shop"
    assert (project / "big_shop" / "tenancy").is_dir()
    assert 'TIME_ZONE = "Europe/Paris"' in (project / "config" / "settings" / "base.py").read_text()
    assert "shop.example.co.uk" in (project / "config" / "settings" / "production.py").read_text()
    assert "image: postgres:17" in (project / "compose.yaml").read_text()


def run_pre_gen_hook(**answers: str) -> subprocess.CompletedProcess[str]:
    """Render hooks/pre_gen_project.py with cookiecutter.json's defaults and `answers`, as cookiecutter does,
    and run it. Needed where cookiecutter's own prompt would refuse the value first (a choice outside the
    list reaches the hook through `cruft update` or a replay file)."""
    defaults = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
    context = {key: (value[0] if isinstance(value, list) else value) for key, value in defaults.items()}
    context.update(project_slug="acme_saas", **answers)
    environment = StrictEnvironment(context={"cookiecutter": context})
    source = environment.from_string((TEMPLATE_DIR / "hooks" / "pre_gen_project.py").read_text())
    script = source.render(cookiecutter=context)
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize("version", ["14", "18", "16.4", "latest", ""])
def test_pre_gen_hook_refuses_a_postgresql_version_outside_the_choices(version: str) -> None:
    result = run_pre_gen_hook(postgresql_version=version)

    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == (
        f"ERROR: postgresql_version {version!r} is not supported; accepted: one of the major versions 15, 16, 17"
    )


@pytest.mark.parametrize("version", ["15", "16", "17"])
def test_pre_gen_hook_accepts_each_listed_postgresql_version(version: str) -> None:
    result = run_pre_gen_hook(postgresql_version=version)
    assert result.returncode == 0, result.stderr


def test_pre_gen_hook_accepts_exactly_the_postgresql_versions_of_cookiecutter_json() -> None:
    choices = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())["postgresql_version"]
    hook = (TEMPLATE_DIR / "hooks" / "pre_gen_project.py").read_text()
    listed = re.search(r"^POSTGRESQL_VERSIONS = (\(.*\))$", hook, re.MULTILINE)

    assert listed, "hooks/pre_gen_project.py has no POSTGRESQL_VERSIONS tuple"
    assert sorted(ast.literal_eval(listed.group(1))) == sorted(choices)


@pytest.mark.parametrize("version", ["15", "16", "17"])
def test_each_postgresql_version_bakes_a_ci_that_installs_its_client(empty_output_dir: Path, version: str) -> None:
    result = bake_cli(empty_output_dir, f"postgresql_version={version}")
    assert result.returncode == 0, result.stderr
    workflow = yaml.safe_load((empty_output_dir / "acme_saas" / ".github" / "workflows" / "ci.yml").read_text())
    job = workflow["jobs"]["test"]
    script = "\n".join(str(step.get("run", "")) for step in job["steps"])

    assert job["services"]["postgres"]["image"] == f"postgres:{version}"
    assert job["container"] == "python:3.11-bookworm"
    assert "apt.postgresql.org/pub/repos/apt ${VERSION_CODENAME}-pgdg main" in script
    assert re.search(rf"apt-get install [^\n]*\bpostgresql-client-{version}\b", script), script
    assert not re.search(r"postgresql-client-(?!" + version + r"\b)\d+", script), script
    assert job["env"]["TENANCY_PG_BIN_DIR"] == f"/usr/lib/postgresql/{version}/bin"
    # The PGDG step comes before the step that runs the tests.
    names = [step.get("name", "") for step in job["steps"]]
    client_step = next(i for i, n in enumerate(names) if f"PostgreSQL {version} client" in n)
    test_step = next(
        i for i, s in enumerate(job["steps"]) if "make " in str(s.get("run", "")) and "test" in str(s.get("run", ""))
    )
    assert client_step < test_step


@pytest.mark.parametrize("routing", ["subfolder", "Path", ""])
def test_pre_gen_hook_refuses_a_tenant_routing_outside_the_choices(routing: str) -> None:
    result = run_pre_gen_hook(tenant_routing=routing)

    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == f"ERROR: tenant_routing {routing!r} is not a choice; accepted: domain or path"


def test_pre_gen_hook_accepts_exactly_the_tenant_routings_of_cookiecutter_json() -> None:
    choices = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())["tenant_routing"]
    hook = (TEMPLATE_DIR / "hooks" / "pre_gen_project.py").read_text()
    listed = re.search(r"^TENANT_ROUTINGS = (\(.*\))$", hook, re.MULTILINE)

    assert listed, "hooks/pre_gen_project.py has no TENANT_ROUTINGS tuple"
    assert sorted(ast.literal_eval(listed.group(1))) == sorted(choices)
    for routing in choices:
        assert run_pre_gen_hook(tenant_routing=routing, tenant_path_prefix="clinic").returncode == 0


def test_pre_gen_hook_refuses_every_first_path_segment_of_the_project_as_a_prefix() -> None:
    """A new top-level URL in either URLconf must join the hook's TAKEN_PATH_SEGMENTS (a prefix equal to it
    would hide it behind the tenants' paths)."""
    config = TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "config"
    source = (config / "urls_public.py").read_text() + (config / "urls_tenants.py").read_text()
    segments = set(re.findall(r"""(?:re_)?path\(r?["']\^?([a-z0-9-]+)/""", source))
    segments |= {"static", "media", "healthz"}  # STATIC_URL, MEDIA_URL, tenancy.middleware.HEALTH_PATH

    assert {"accounts", "admin", "signup", "products", "api", "billing"} <= segments
    for segment in sorted(segments):
        result = run_pre_gen_hook(tenant_routing="path", tenant_path_prefix=segment)
        assert result.returncode == 1, segment
        assert f"tenant_path_prefix {segment!r} is a path the project uses" in result.stderr


def test_a_path_routing_bake_writes_its_mode_and_prefix_into_the_settings(empty_output_dir: Path) -> None:
    result = bake_cli(empty_output_dir, "tenant_routing=path", "tenant_path_prefix=clinic")

    assert result.returncode == 0, result.stderr
    settings = (empty_output_dir / "acme_saas" / "config" / "settings" / "base.py").read_text()
    assert 'TENANCY_ROUTING = "path"' in settings
    assert 'TENANCY_PATH_PREFIX = "clinic"' in settings


def test_post_gen_hook_writes_private_dotenv_with_fresh_secret_key(bakery: Bakery) -> None:
    first = bakery.bake("defaults")
    second = bakery.bake("defaults_again", extra_context={})

    keys = []
    for project in (first, second):
        dotenv = project / ".env"
        assert dotenv.stat().st_mode & 0o777 == 0o600
        values = dict(
            line.split("=", 1) for line in dotenv.read_text().splitlines() if line and not line.startswith("#")
        )
        # Only the secret is set: DATABASE_URL and REDIS_URL stay commented so the embedded servers are used.
        assert set(values) == {"DJANGO_SECRET_KEY"}
        assert len(values["DJANGO_SECRET_KEY"]) >= 50
        assert "change-me" not in values["DJANGO_SECRET_KEY"]
        keys.append(values["DJANGO_SECRET_KEY"])
    assert keys[0] != keys[1]


def test_post_gen_hook_keeps_env_example_without_secret(bakery: Bakery) -> None:
    project = bakery.bake("defaults")
    example = (project / ".env.example").read_text()
    secret = next(line for line in (project / ".env").read_text().splitlines() if line.startswith("DJANGO_SECRET_KEY="))

    assert secret not in example
    assert "# DATABASE_URL=" in example
    assert "# REDIS_URL=" in example
