"""The hooks: answers are validated before anything is written; the post hook finishes the bake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
