"""Finish the generated project: drop the files of unselected options, write `.env` and `.cruft.json`.

Runs inside the generated project folder. Settings, pyproject.toml, the Makefile
and the README handle the options with Jinja conditionals; this hook removes the
files that exist only for an option. `.cruft.json` records the template and commit
the project was baked from, so `cruft update` can bring later template changes in
(docs/updating.md in the project).
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

PROJECT_SLUG = {{ cookiecutter.project_slug | tojson }}
USE_CELERY = {{ cookiecutter.use_celery | tojson }}
USE_DRF = {{ cookiecutter.use_drf | tojson }}
# Every answer and cookiecutter's private keys (_template, _repo_dir, _checkout, ..., or cruft's _commit),
# as a JSON string: JSON's true/false/null are not Python literals.
CONTEXT = json.loads({{ cookiecutter | tojson | tojson }})

PROJECT_DIR = Path.cwd()
SECRET_KEY_LINE = "DJANGO_SECRET_KEY="
CRUFT_FILE = ".cruft.json"
# Files the owner owns once baked; `cruft update` never diffs or patches them (docs/updating.md, "Skipped files").
# .env holds this bake's own secret key, and the template's hook writes a new one at every generation, so
# without the skip each update would try to patch it. uv.lock is resolved by the project, not the template.
CRUFT_SKIP = [".env", "uv.lock"]
# Context keys that describe one cookiecutter run on one machine, not the answers; cruft's own state
# has none of them (the checkout is a top-level key of .cruft.json).
MACHINE_KEYS = ("_output_dir", "_repo_dir", "_checkout")


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
        ]
    )


def remove_drf_files() -> None:
    remove_paths(
        [
            f"{PROJECT_SLUG}/api.py",
            f"{PROJECT_SLUG}/api_*.py",
            f"{PROJECT_SLUG}/*/api.py",
            # API keys: services, DRF authentication, page, template, migration (accounts/models.py uses Jinja).
            f"{PROJECT_SLUG}/*/api_*.py",
            f"{PROJECT_SLUG}/templates/accounts/api_keys.html",
            f"{PROJECT_SLUG}/accounts/migrations/*_apikey.py",
            "tests/**/test_api_*.py",
        ]
    )


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


def git(folder: Path, *args: str) -> str | None:
    """Return the stripped output of `git -C folder *args`, or None when git is missing or the command fails.

    --no-optional-locks: `git status` in the template's checkout must not take its index lock, which
    could make a git command the template's author runs at the same moment fail.
    """
    try:
        result = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(folder), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def local_path(value: str) -> Path | None:
    """Return `value` as an absolute path when it names an existing folder, else None.

    A relative path is relative to the folder the cookiecutter command was typed in, which the shell passes
    as PWD: this hook runs inside the new project, and cookiecutter itself has moved to the template.
    """
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        base = os.environ.get("PWD")
        if not base:
            return None
        path = Path(base) / path
    return path.resolve() if path.is_dir() else None


def cruft_state(context: dict) -> dict | None:
    """Return the content of .cruft.json for a bake by plain cookiecutter, or None when there is none to record.

    `context` is cookiecutter's context of this bake. There is a state when the template folder
    (`_repo_dir`: the folder given, or cookiecutter's clone of a URL) is in a Git work tree whose HEAD
    holds its cookiecutter.json: `commit` is that HEAD, `template` the work tree's root for a local
    folder, else the clone's origin URL (abbreviations such as gh:owner/repo already expanded), and
    `directory` the template folder inside the repository when it is not the root. A zip file, a
    folder outside Git, or a folder Git does not track (e.g. an unpacked zip inside a home directory
    kept in Git) has no state. The answers go under `context.cookiecutter`, where cruft reads them.
    """
    checkout = local_path(str(context.get("_repo_dir", "")))
    if checkout is None or not (checkout / "cookiecutter.json").is_file():
        return None
    root = git(checkout, "rev-parse", "--show-toplevel")
    commit = git(checkout, "rev-parse", "--verify", "HEAD^{commit}")
    if not root or not commit or not git(checkout, "ls-tree", "--name-only", "HEAD", "cookiecutter.json"):
        return None
    root_path = Path(root).resolve()
    typed = local_path(str(context.get("_template", "")))
    if typed is not None and (checkout == typed or typed in checkout.parents):
        template = str(root_path)
    else:
        template = git(checkout, "remote", "get-url", "origin") or str(root_path)
    inner = checkout.relative_to(root_path).as_posix()
    if git(checkout, "status", "--porcelain", "--", "."):
        print(
            f"Note: the template folder {checkout} has uncommitted changes; {CRUFT_FILE} records its last "
            f"commit {commit[:12]}, so `cruft diff` will show those changes as the project's own."
        )
    # cookiecutter.json's order, as cruft writes it (Jinja's tojson sorted the keys), so the first
    # `cruft update`, which rewrites the context, does not reorder it.
    order = list(json.loads((checkout / "cookiecutter.json").read_text()))
    keys = sorted(context, key=lambda key: order.index(key) if key in order else len(order))
    answers = {key: context[key] for key in keys if key not in MACHINE_KEYS}
    answers["_template"] = template
    answers["_commit"] = commit
    return {
        "template": template,
        "commit": commit,
        "checkout": context.get("_checkout"),
        "context": {"cookiecutter": answers},
        "directory": None if inner == "." else inner,
        "skip": CRUFT_SKIP,
    }


def write_cruft_state() -> None:
    """Write .cruft.json when this bake comes from a Git checkout of the template; say so when it does not.

    cruft's own runs (cruft create, and the throwaway bakes of cruft update and cruft diff) put `_commit`
    in the context and write their state themselves: nothing is written then, so a bake generated by cruft
    never carries a second .cruft.json into the diff of an update.
    """
    if "_commit" in CONTEXT:
        return
    state = cruft_state(CONTEXT)
    if state is None:
        print(
            f"Note: no {CRUFT_FILE} written: the template was not read from a Git checkout (a zip file, a plain "
            "folder, or a relative path without the shell's PWD); docs/updating.md explains how to link the "
            "project to its template later (cruft link)."
        )
        return
    text = json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": "))
    (PROJECT_DIR / CRUFT_FILE).write_text(text + "\n")


def main() -> int:
    if USE_CELERY == "n":
        remove_celery_files()
    if USE_DRF == "n":
        remove_drf_files()
    write_dotenv()
    write_cruft_state()
    # cruft update and cruft diff generate throwaway copies in temporary folders: naming those as the
    # project ready to use would mislead (cruft create, which puts `_commit` in the context too, stays quiet).
    if "_commit" not in CONTEXT:
        print(f"Project ready in {PROJECT_DIR}. Next: cd {PROJECT_DIR.name} && make dev")
    return 0


if __name__ == "__main__":
    sys.exit(main())
