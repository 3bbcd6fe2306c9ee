"""Finish the generated project: drop the files of unselected options, write `.env`.

Runs inside the generated project folder. Settings, pyproject.toml, the Makefile
and the README handle the options with Jinja conditionals; this hook removes the
files that exist only for an option.
"""

import os
import secrets
import sys
from pathlib import Path

PROJECT_SLUG = {{ cookiecutter.project_slug | tojson }}
USE_CELERY = {{ cookiecutter.use_celery | tojson }}
USE_DRF = {{ cookiecutter.use_drf | tojson }}

PROJECT_DIR = Path.cwd()
SECRET_KEY_LINE = "DJANGO_SECRET_KEY="


def remove_paths(patterns: list[str]) -> None:
    """Delete every file matching one of the glob `patterns` (relative to the project folder)."""
    for pattern in patterns:
        for path in PROJECT_DIR.glob(pattern):
            path.unlink()


def remove_celery_files() -> None:
    remove_paths(
        [
            "config/celery_app.py",
            "config/redis_cache.py",
            f"{PROJECT_SLUG}/*/tasks.py",
            f"{PROJECT_SLUG}/*/celery_*.py",
            "tests/**/test_celery_*.py",
            "benchmarks/celery_*.py",
        ]
    )


def remove_drf_files() -> None:
    remove_paths([f"{PROJECT_SLUG}/api.py", f"{PROJECT_SLUG}/*/api.py", "tests/**/test_api_*.py"])


def write_dotenv() -> None:
    """Write `.env` from `.env.example` with a fresh random DJANGO_SECRET_KEY, readable by the owner only.

    The database and Redis lines stay commented, so development and tests use the
    embedded servers until the developer points them elsewhere.
    """
    secret_key = secrets.token_urlsafe(50)
    example = (PROJECT_DIR / ".env.example").read_text()
    lines = [
        f"{SECRET_KEY_LINE}{secret_key}" if line.startswith(SECRET_KEY_LINE) else line for line in example.splitlines()
    ]
    dotenv = PROJECT_DIR / ".env"
    fd = os.open(dotenv, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    dotenv.chmod(0o600)


def main() -> int:
    if USE_CELERY == "n":
        remove_celery_files()
    if USE_DRF == "n":
        remove_drf_files()
    write_dotenv()
    print(f"Project ready in {PROJECT_DIR}. Next: cd {PROJECT_DIR.name} && make dev")
    return 0


if __name__ == "__main__":
    sys.exit(main())
