"""A bake refers only to what it contains: no link, path or note pointing at the template's own workspace.

The generated project leaves the template behind: its files may not mention the template authors' design
notes (`shared/docs`, DESIGN.md, STYLE.md, BENCHMARKS.md), work items ("the issue", "target P5") or files the
bake does not have. Every Markdown link to a relative path, every `docs/<name>.md` named in any file, and
every file path written in backticks in README.md and docs/ must resolve in the bake of each configuration.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import CONFIGURATIONS, Bakery

# Folders a bake grows once it is used; `.data/...` paths in the docs name files the embedded servers write.
RUNTIME_FOLDERS = {".venv", ".data", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__", "staticfiles"}
FOREIGN_REFERENCE = re.compile(
    r"shared/docs|\bDESIGN\.md\b|\bSTYLE\.md\b|\bBENCHMARKS\.md\b|\b[Tt]he issue\b|\btarget P\d+\b|\bissue #\d+"
)
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOCS_PAGE = re.compile(r"(?<![\w/.-])docs/[\w-]+\.md\b")
CODE_PATH = re.compile(r"`([\w.][\w./-]*\.(?:py|md|toml|ya?ml|json|html|cfg|ini|txt|sh|css|js))`")


def text_files(project: Path) -> dict[str, str]:
    """Relative path -> text of every UTF-8 file the bake wrote."""
    texts = {}
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if not path.is_file() or RUNTIME_FOLDERS.intersection(relative.parts):
            continue
        try:
            texts[relative.as_posix()] = path.read_text()
        except UnicodeDecodeError:
            continue
    return texts


def broken_references(project: Path) -> list[str]:
    """`file:line: what` for every reference of the bake that points outside it or at nothing."""
    texts = text_files(project)
    names = set(texts) | {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}

    def resolves(target: str, folder: Path) -> bool:
        if target.startswith(".data/") or "<" in target or "*" in target:
            return True  # written at run time, or a pattern
        if (project / target).exists() or (folder / target).exists():
            return True
        # Docs name modules relative to the package (`tenancy/domain.py`) or by file name.
        return any(name.endswith("/" + target) for name in names)

    problems = []
    for relative, text in texts.items():
        folder = (project / relative).parent
        is_doc = relative.endswith(".md")
        for number, line in enumerate(text.splitlines(), start=1):
            where = f"{relative}:{number}"
            problems += [f"{where}: {m.group(0)!r}: {line.strip()}" for m in FOREIGN_REFERENCE.finditer(line)]
            problems += [
                f"{where}: {m.group(0)} does not exist"
                for m in DOCS_PAGE.finditer(line)
                if not (project / m.group(0)).exists()
            ]
            if not is_doc:
                continue
            for match in MARKDOWN_LINK.finditer(line):
                target = match.group(1)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                    continue  # a URL or an anchor on the same page
                if not (folder / target.split("#", 1)[0]).exists():
                    problems.append(f"{where}: link {target!r} does not resolve")
            problems += [
                f"{where}: `{m.group(1)}` does not exist in the bake"
                for m in CODE_PATH.finditer(line)
                if not resolves(m.group(1), folder)
            ]
    return problems


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_bake_refers_only_to_files_it_contains(bakery: Bakery, name: str) -> None:
    assert broken_references(bakery.bake(name)) == []


def test_the_reference_check_finds_each_kind_of_broken_reference(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    (project / "pkg").mkdir()
    (project / "pkg" / "mod.py").write_text("# see DESIGN.md section 4, target P5 and the issue\n")
    (project / "docs" / "real.md").write_text("real\n")
    (project / "README.md").write_text(
        "[ok](docs/real.md#top) [gone](docs/gone.md) [shared](../shared/docs/DESIGN.md) [web](https://x.org/a.md)\n"
        "`pkg/mod.py` `mod.py` `pkg/missing.py` `.data/ports.json` and docs/nothing.md\n"
    )

    problems = broken_references(project)

    links = (project / "README.md").read_text().splitlines()[0]
    assert problems == [
        f"README.md:1: 'shared/docs': {links}",
        f"README.md:1: 'DESIGN.md': {links}",
        "README.md:1: docs/gone.md does not exist",
        "README.md:1: link 'docs/gone.md' does not resolve",
        "README.md:1: link '../shared/docs/DESIGN.md' does not resolve",
        "README.md:2: docs/nothing.md does not exist",
        "README.md:2: `pkg/missing.py` does not exist in the bake",
        "pkg/mod.py:1: 'DESIGN.md': # see DESIGN.md section 4, target P5 and the issue",
        "pkg/mod.py:1: 'target P5': # see DESIGN.md section 4, target P5 and the issue",
        "pkg/mod.py:1: 'the issue': # see DESIGN.md section 4, target P5 and the issue",
    ]
