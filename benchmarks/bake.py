"""Bake the template's working tree for the benchmarks and install it: `python -m benchmarks.bake <folder>`.

Run by the root Makefile with the template's own interpreter (.venv-template: cookiecutter, uv). The bake goes to
`<folder>/bake/<slug>` with cookiecutter's default answers (use_celery=y: every benchmark applies), is installed
with the bake's own `make install` (uv from the template's venv on PATH, the machine's Python), and
`<folder>/project` links to it. A fingerprint of the template's files (cookiecutter.json, hooks/, the project
folder) is kept in `<folder>/fingerprint`: while it matches and the bake's environment exists, the bake is reused.
Prints the bake's folder. Answers after the folder (`key=value`, e.g. `tenant_routing=path`) replace cookiecutter's
defaults; they are part of the fingerprint, so changing them bakes again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_PARTS = ("cookiecutter.json", "hooks", "{{cookiecutter.project_slug}}")
SKIPPED = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv", ".data", ".tools"}
# Variables of the caller's shell that would steer the install elsewhere (tests/conftest.py strips the same).
STRIPPED = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT")


def fingerprint(answers: dict[str, str] | None = None) -> str:
    """A digest of the names and contents of every file the bake is made from, and of the `answers` given."""
    digest = hashlib.sha256()
    digest.update(repr(sorted((answers or {}).items())).encode() + b"\0")
    for part in TEMPLATE_PARTS:
        root = TEMPLATE_DIR / part
        files = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in files:
            if path.is_dir() or SKIPPED.intersection(path.relative_to(TEMPLATE_DIR).parts) or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(TEMPLATE_DIR)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def install_env() -> dict[str, str]:
    """The environment of `make install` in the bake: uv and python3 from this venv first, no stray settings."""
    env = {key: value for key, value in os.environ.items() if key not in STRIPPED}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.setdefault("UV_PYTHON", sys.executable)
    env.setdefault("UV_LINK_MODE", "copy")
    return env


def stop_services(project: Path) -> None:
    """Stop the embedded PostgreSQL/Redis an old bake started (they outlive the processes that start them)."""
    python = project / ".venv" / "bin" / "python"
    if (project / ".data").exists() and python.exists():
        subprocess.run([str(python), "-m", "config.devservices", "down"], cwd=project, check=False)  # noqa: S603


def bake(folder: Path, answers: dict[str, str] | None = None) -> Path:
    """Return an installed bake of the current template tree under `folder`, reusing the last one when current.

    `answers`: cookiecutter answers replacing the defaults, e.g. {"tenant_routing": "path"}."""
    from cookiecutter.main import cookiecutter

    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # as root, the embedded PostgreSQL's unprivileged user must reach the bake
    link, stamp = folder / "project", folder / "fingerprint"
    current = fingerprint(answers)
    if (link / ".venv" / "bin" / "python").exists() and stamp.is_file() and stamp.read_text() == current:
        print(f"reusing the bake {link.resolve()} (the template did not change)", file=sys.stderr)
        return link.resolve()
    if link.exists():
        stop_services(link.resolve())
    stamp.unlink(missing_ok=True)
    shutil.rmtree(folder / "bake", ignore_errors=True)
    (folder / "bake").mkdir()
    given = ", ".join(f"{key}={value}" for key, value in sorted((answers or {}).items())) or "none"
    print(f"baking {TEMPLATE_DIR} (cookiecutter's defaults; answers: {given}) into {folder / 'bake'}", file=sys.stderr)
    project = Path(
        cookiecutter(str(TEMPLATE_DIR), no_input=True, output_dir=str(folder / "bake"), extra_context=answers or {})
    )
    result = subprocess.run(["make", "install"], cwd=project, env=install_env(), check=False)  # noqa: S607
    if result.returncode != 0:
        raise SystemExit(f"`make install` failed in {project} (exit {result.returncode})")
    link.unlink(missing_ok=True)
    link.symlink_to(project.relative_to(folder))
    stamp.write_text(current)
    return project


def main(argv: list[str]) -> int:
    answers = dict(arg.split("=", 1) for arg in argv[1:] if "=" in arg)
    if not argv or len(answers) != len(argv) - 1:
        print("usage: python -m benchmarks.bake <folder> [key=value ...]", file=sys.stderr)
        return 2
    print(bake(Path(argv[0]).resolve(), answers))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
