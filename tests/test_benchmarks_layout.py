"""Stock-versus-project benchmarks belong to the template: `benchmarks/` at its root, run against a fresh bake by
`make benchmark-*` there. A bake keeps only what its owners run on their own project: the load check
(`loadcheck/`, `make benchmark-load`), with no stock comparison code.

The bake's own test suite compares the project's migrate_schemas with stock django-tenants schema by schema
(tests/stock_equivalence): that is behaviour, not a benchmark, so the bake's tests/ are not searched.
"""

from __future__ import annotations

import importlib
import re
import shutil
import sys
from pathlib import Path

import pytest

from .conftest import TEMPLATE_DIR, Bakery

BENCHMARKS_DIR = TEMPLATE_DIR / "benchmarks"
# What a stock-versus-project benchmark needs and the project itself never names (outside its tests). The project
# does use django-tenants' migrate_schemas command class, its executor lookup and its per-schema run_migrations.
STOCK_MARKERS = {
    "a stock executor class": re.compile(r"\b(?:Standard|Multiprocessing|Subprocess)Executor\b"),
    "django-tenants' executor lookup replaced": re.compile(r"\.GET_EXECUTOR_FUNCTION\s*="),
    "the stock routing middleware chosen by its dotted path": re.compile(
        r"django_tenants\.middleware\.main\.TenantMainMiddleware"
    ),
    "django-tenants' own migrate_schemas put in place of the project's": re.compile(
        r"""\[\s*["']migrate_schemas["']\s*\]\s*=\s*["']django_tenants["']"""
    ),
    "a tenant created by django-tenants' auto_create_schema": re.compile(r"auto_create_schema\s*=\s*True"),
    "tenant-schemas-celery's per-task tenant lookup": re.compile(r"\bget_tenant_for_schema\b"),
}
ROOT_TARGETS = (
    "benchmark-migrations",
    "benchmark-provisioning",
    "benchmark-routing",
    "benchmark-fanout",
    "benchmark-scale",
)
BAKE_TARGETS = {"benchmark-load"}
SKIPPED_DIRS = {".venv", ".data", ".tools", "__pycache__", "node_modules"}


def stock_comparison_code(project: Path) -> list[str]:
    """Everything in the baked `project` that belongs to a stock comparison, as "<path>: <what>" lines (empty when
    there is none): a benchmarks/ folder, a Python file outside tests/ that names what only a stock comparison
    needs (STOCK_MARKERS), a Makefile benchmark target other than the load check's."""
    found = []
    if (project / "benchmarks").exists():
        found.append("benchmarks/: the stock-versus-project benchmarks live at the template root")
    for path in sorted(project.rglob("*.py")):
        relative = path.relative_to(project)
        if relative.parts[0] == "tests" or SKIPPED_DIRS.intersection(relative.parts):
            continue
        text = path.read_text(errors="replace")
        found.extend(f"{relative}: names {what}" for what, pattern in STOCK_MARKERS.items() if pattern.search(text))
    makefile = (project / "Makefile").read_text()
    targets = set(re.findall(r"^(benchmark-[\w-]+)\s*:", makefile, re.MULTILINE))
    found.extend(f"Makefile: target {target}" for target in sorted(targets - BAKE_TARGETS))
    return found


def test_default_bake_holds_no_stock_comparison_code(bakery: Bakery) -> None:
    project = bakery.bake("defaults")

    assert stock_comparison_code(project) == []
    assert (project / "loadcheck" / "__main__.py").is_file(), "the owners' load check stays in the bake"
    assert re.search(r"^benchmark-load:.*\n\t.*python -m loadcheck\b", (project / "Makefile").read_text(), re.MULTILINE)


def test_the_check_finds_the_benchmarks_when_a_bake_holds_them_as_before(bakery: Bakery, tmp_path: Path) -> None:
    """The layout before the move: the template's benchmarks inside the bake, with their Makefile targets."""
    project = tmp_path / "old_layout"
    shutil.copytree(bakery.bake("defaults"), project, ignore=shutil.ignore_patterns(*SKIPPED_DIRS))
    shutil.copytree(BENCHMARKS_DIR, project / "benchmarks", ignore=shutil.ignore_patterns("__pycache__"))
    with (project / "Makefile").open("a") as makefile:
        makefile.write("\nbenchmark-migrations: install\n\t$(UV) run --no-sync python -m benchmarks.migrate_fleet\n")

    found = stock_comparison_code(project)

    assert "benchmarks/: the stock-versus-project benchmarks live at the template root" in found
    assert "Makefile: target benchmark-migrations" in found
    for module, what in [
        ("benchmarks/stock_manage.py", "a stock executor class"),
        ("benchmarks/stock_manage.py", "django-tenants' executor lookup replaced"),
        ("benchmarks/provisioning.py", "a tenant created by django-tenants' auto_create_schema"),
        ("benchmarks/provisioning.py", "django-tenants' own migrate_schemas put in place of the project's"),
        ("benchmarks/loadsite/__init__.py", "the stock routing middleware chosen by its dotted path"),
        ("benchmarks/celery_fanout.py", "tenant-schemas-celery's per-task tenant lookup"),
    ]:
        assert f"{module}: names {what}" in found, found


def test_the_check_finds_one_stock_import_added_to_the_load_check(bakery: Bakery, tmp_path: Path) -> None:
    project = tmp_path / "sabotaged"
    shutil.copytree(bakery.bake("defaults"), project, ignore=shutil.ignore_patterns(*SKIPPED_DIRS))
    harness = project / "loadcheck" / "harness.py"
    stock_import = "\nfrom django_tenants.migration_executors import StandardExecutor  # noqa: F401\n"
    harness.write_text(harness.read_text() + stock_import)

    assert stock_comparison_code(project) == ["loadcheck/harness.py: names a stock executor class"]


def test_template_benchmarks_are_plain_python_that_find_the_bake_at_run_time(
    bakery: Bakery, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = sorted(BENCHMARKS_DIR.rglob("*.py"))
    assert sources
    for path in sources:
        text = path.read_text().replace("{{cookiecutter.project_slug}}", "")  # the template's folder, by name
        assert "{{" not in text and "{%" not in text, f"{path} holds template syntax: it is not rendered"
        assert "acme_saas" not in text, f"{path} names a bake's package instead of finding it"

    project = bakery.bake("defaults")
    monkeypatch.setenv("BENCHMARK_PROJECT", str(project))
    monkeypatch.syspath_prepend(str(TEMPLATE_DIR))
    sys.modules.pop("benchmarks.project", None)
    try:
        found = importlib.import_module("benchmarks.project")
        assert (found.PROJECT_DIR, found.PACKAGE, found.has_celery()) == (project.resolve(), "acme_saas", True)
    finally:
        sys.modules.pop("benchmarks.project", None)


def test_template_root_makefile_runs_each_benchmark_against_a_fresh_bake() -> None:
    makefile = (TEMPLATE_DIR / "Makefile").read_text()
    for target in ROOT_TARGETS:
        recipe = re.search(rf"^{target}: bench-bake\n\t(.*)$", makefile, re.MULTILINE)
        assert recipe, f"no `{target}: bench-bake` rule in the template's Makefile"
        module = "celery_fanout" if target == "benchmark-fanout" else target.removeprefix("benchmark-")
        module = {"migrations": "migrate_fleet"}.get(module, module)
        assert f"benchmarks.{module}" in recipe.group(1) and "$(BENCHMARK_ARGS)" in recipe.group(1)
        assert (BENCHMARKS_DIR / f"{module}.py").is_file()
    assert re.search(r"^bench-bake:.*\n\t.*-m benchmarks\.bake ", makefile, re.MULTILINE)
    # `make test` collects tests/ only: a benchmark never runs as a test.
    assert re.search(r"^test: .*\n\t.*-m pytest tests ", makefile, re.MULTILINE)
