"""The project's shape: package layering and import rules hold, and the checks behind them can fail.

The rules are STYLE-level promises a reader relies on: each package's __init__.py says what it owns and
what it may import; `lint-imports` (pyproject.toml [tool.importlinter], run by `make lint`) enforces
the layers, the plain-Python domain modules and the absence of import cycles; a function-local import of
the project's own modules is allowed only where app loading requires it, with a comment saying so.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
PACKAGE = "{{ cookiecutter.project_slug }}"
PACKAGE_DIR = PROJECT_DIR / PACKAGE
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on `project` (its pyproject.toml's contracts); return the finished process."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=project, capture_output=True, text=True, timeout=120, check=False
    )


def packages() -> list[Path]:
    return sorted(path.parent for path in PACKAGE_DIR.glob("*/__init__.py") if path.parent.name != "templates")


def test_import_contracts_are_kept() -> None:
    result = lint_imports(PROJECT_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the package and pyproject.toml, for breaking a rule without touching the real files."""
    shutil.copytree(
        PACKAGE_DIR, tmp_path / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "templates", "static")
    )
    shutil.copy(PROJECT_DIR / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # The tenancy core reaching up into the tenant lifecycle.
        ("tenancy/models.py", "from ..lifecycle import services", "Platform packages depend downwards"),
        # A tenant app calling provisioning.
        ("products/services.py", "from ..lifecycle.services import tenant_create", "Tenant apps know nothing"),
        # Django in a domain module.
        ("bookings/domain.py", "from django.db import models", "Domain modules are plain Python"),
        # Two modules of one package importing each other.
        ("accounts/selectors.py", "from . import views", "No import cycles"),
    ],
)
def test_each_import_contract_fails_on_a_violation(project_copy: Path, module: str, line: str, contract: str) -> None:
    target = project_copy / PACKAGE / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(project_copy)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [text for text in result.stdout.splitlines() if "BROKEN" in text]
    assert any(contract in text for text in broken) or contract in result.stdout.split("Broken contracts")[-1], (
        result.stdout
    )


def test_every_package_says_what_it_owns_and_may_import() -> None:
    for package in packages():
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
        assert "May import" in docstring, f"{package.name}/__init__.py needs a docstring saying what it may import"


def local_project_imports(path: Path) -> list[tuple[int, str]]:
    """(line, import text) of every import of the project's own modules made inside a function of `path`."""
    tree = ast.parse(path.read_text())
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if (isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(PACKAGE))) or (
                isinstance(node, ast.Import) and any(alias.name.startswith(PACKAGE) for alias in node.names)
            ):
                found.append((node.lineno, ast.unparse(node)))
    return found


def test_function_local_imports_say_why() -> None:
    unexplained = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        lines = path.read_text().splitlines()
        for lineno, text in local_project_imports(path):
            here, above = lines[lineno - 1], lines[lineno - 2] if lineno > 1 else ""
            block_comment = any(
                line.strip().startswith("#") for line in lines[max(0, lineno - 4) : lineno - 1]
            )  # a comment opening the block of imports
            if "#" not in here and not above.strip().startswith("#") and not block_comment:
                unexplained.append(f"{path.relative_to(PROJECT_DIR)}:{lineno}: {text}")
    assert not unexplained, "function-local imports without a comment saying why:\n" + "\n".join(unexplained)
