"""The baked project a benchmark runs against: its folder, its package and its options, found at run time.

The benchmarks live at the template root and are not rendered by cookiecutter, so nothing in them names the
project's package. They run from the bake's folder (the root Makefile's `make benchmark-*` does that), or from
the folder in $BENCHMARK_PROJECT; the package is the folder next to manage.py that holds `tenancy/`.

No Django imports here: benchmarks/loadsite and the benchmarks read this before Django is set up.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

PROJECT_ENV = "BENCHMARK_PROJECT"


class ProjectNotFound(RuntimeError):
    """The benchmark does not run against a baked project."""


def find_project_dir() -> Path:
    """The bake's folder: $BENCHMARK_PROJECT, else the current folder; it must hold manage.py."""
    folder = Path(os.environ.get(PROJECT_ENV) or os.getcwd()).resolve()
    if not (folder / "manage.py").is_file():
        raise ProjectNotFound(
            f"{folder} holds no manage.py: run the benchmarks with `make benchmark-*` at the template root, or from "
            f"a baked project's folder (or with ${PROJECT_ENV} set to it)"
        )
    return folder


def find_package(project_dir: Path) -> str:
    """The name of the project's package: the one folder next to manage.py that holds tenancy/__init__.py."""
    found = sorted(path.parent.parent.name for path in project_dir.glob("*/tenancy/__init__.py"))
    if len(found) != 1:
        raise ProjectNotFound(f"expected one package with tenancy/ in {project_dir}, found {found or 'none'}")
    return found[0]


PROJECT_DIR = find_project_dir()
PACKAGE = find_package(PROJECT_DIR)


def module(name: str) -> ModuleType:
    """Import and return the project's module `name`, e.g. module("tenancy.models")."""
    return importlib.import_module(f"{PACKAGE}.{name}")


def has_celery() -> bool:
    """True when the bake was generated with use_celery=y (its config/celery_app.py is kept only then)."""
    return (PROJECT_DIR / "config" / "celery_app.py").is_file()


def from_project(module_name: str, *names: str) -> Any:
    """`from <package>.<module_name> import <names>`: the one object, or a tuple of them for several names.

    A name that is a submodule not imported yet is imported, as the `from ... import` statement does.
    """
    parent = module(module_name)
    found = []
    for name in names:
        try:
            found.append(getattr(parent, name))
        except AttributeError:
            found.append(module(f"{module_name}.{name}"))
    return found[0] if len(found) == 1 else tuple(found)
