"""The README and docs/*.md name only what exists in this project, and the README stays a short entry.

What a page names, and how each name is checked (inline code is text between backticks; code blocks are
fenced with three backticks):

- commands: `manage.py <command>` in inline code or a code block, and inline code whose first word is a
  management command (`tenants_doctor --fix`). The command must be one of Django's get_commands(), and every
  `--option` after it on that line (or code span) must be an option of that command's parser;
- make targets: `make <target> [<target> ...]` in inline code or a code block, against the rules of the Makefile;
- settings: inline code that starts with an UPPER_CASE name holding an underscore (`TENANCY_BASE_DOMAIN`,
  `CONN_MAX_AGE=600`), `settings.NAME` anywhere in inline code, and `NAME=value` in code blocks. The name must
  be a Django setting, or a quoted string in config/settings/*.py (an environment variable they read, or a key
  they set), or one of OTHER_VARIABLES, which must then appear in the file named for it;
- paths: inline code made of path characters that holds a `/` or ends in a known file suffix
  (`lifecycle/provisioning.py`, `config/settings/`, `compose.yaml`) must exist, relative to the project folder or
  to the package folder; a bare file name (`apps.py`) must name a file somewhere in the project. Paths that exist
  only at run time (RUN_TIME_PATHS) and paths inside a setting (`MEDIA_ROOT/...`) are not checked;
- Python names: inline code that is a dotted name starting with one of the project's packages or `config`
  (`lifecycle.services.tenant_create`, `fleet.verification`) must be importable, or a model label
  (`accounts.LoginToken`), a migration (`tenancy.0003`), or a Celery task name or system check id declared in the
  package (`name="..."`, `id="..."`);
- links: every relative link must reach a file of the project, and its `#anchor` a heading of that page.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import get_commands, load_command_class

PROJECT_DIR = Path(__file__).resolve().parent.parent
PACKAGE = "{{ cookiecutter.project_slug }}"
PACKAGE_DIR = PROJECT_DIR / PACKAGE
README = PROJECT_DIR / "README.md"
DOCS_DIR = PROJECT_DIR / "docs"
DOC_FILES = [README, *sorted(DOCS_DIR.glob("*.md"))]
README_MAX_LINES = 120

# Environment variables the docs may name that the settings do not read, each with the file that reads it.
OTHER_VARIABLES = {
    "DJANGO_SETTINGS_MODULE": "manage.py",
    "EMBEDDED_DATA_DIR": "config/devservices.py",
    "CHROMIUM_PATH": "conftest.py",
    "ISOLATION_SABOTAGE": "tests/isolation/sabotage.py",
    "BENCHMARK_ARGS": "Makefile",
    "TEST_WORKERS": "Makefile",
    "TEST_WORKERS_MAX": "Makefile",
    "PYTEST_ARGS": "Makefile",
    "SABOTAGE_ARGS": "Makefile",
    "CRUFT_ARGS": "Makefile",
}
# Made while the project runs, or written by the bake and ignored by git: absent from a fresh clone.
RUN_TIME_PATHS = {".data", ".tools", ".venv", "backups", "media", "staticfiles", ".env", "uv.lock", ".cruft.json"}
PATH_SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".json", ".cfg", ".ini", ".txt", ".html", ".css"}
PATH_NAMES = {"Dockerfile", "Makefile", "Procfile.dev", ".env", ".env.example"}
SKIPPED_FOLDERS = {".venv", ".data", ".tools", "node_modules", "__pycache__", ".pytest_cache", ".mypy_cache"}

FENCE = re.compile(r"^\s*```")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
MANAGE = re.compile(r"manage\.py\s+([^\s`]+)(.*)")
MAKE = re.compile(r"(?:^|[\s;&|(])make\s+(.*)")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
SETTING_NAME = r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+"
LEADING_SETTING = re.compile(rf"^({SETTING_NAME})(?![\w.(])")
SETTINGS_ATTRIBUTE = re.compile(rf"\bsettings\.({SETTING_NAME})\b")
ASSIGNED_VARIABLE = re.compile(rf"(?:^|[\s'\"])({SETTING_NAME})=")
PATH = re.compile(r"^[\w.-]+(?:/[\w.-]*)*$")
DOTTED = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[A-Za-z0-9_]+)+)(?:\(.*\))?$", re.S)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: markup dropped, lowercase, punctuation removed, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def page_anchors(text: str) -> set[str]:
    """The anchors of every heading of a Markdown page (a repeated heading gets -1, -2, ... as on GitHub)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose_lines(text):
        match = HEADING.match(line)
        if match:
            anchor = github_anchor(match.group(2))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            anchors.add(anchor if count == 0 else f"{anchor}-{count}")
    return anchors


def split_page(text: str) -> tuple[list[str], list[str]]:
    """(lines outside code blocks, lines inside code blocks; a line ending in a backslash joined with the next)."""
    prose: list[str] = []
    code: list[str] = []
    in_code = False
    pending = ""
    for line in text.splitlines():
        if FENCE.match(line):
            in_code = not in_code
            continue
        if not in_code:
            prose.append(line)
        elif line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
        else:
            code.append(pending + line)
            pending = ""
    return prose, code


def prose_lines(text: str) -> list[str]:
    return split_page(text)[0]


def code_spans(text: str) -> list[str]:
    """The inline code of the prose, whitespace inside a span collapsed (a span may wrap)."""
    prose = "\n".join(prose_lines(text))
    return [" ".join(match.group(2).split()) for match in CODE_SPAN.finditer(prose)]


def without_comment(line: str) -> str:
    """A code block line without its shell comment (`#` after whitespace)."""
    return re.split(r"\s#", line, maxsplit=1)[0]


@cache
def command_options(name: str) -> frozenset[str] | None:
    """The option strings of management command `name`'s parser, or None when there is no such command."""
    app = get_commands().get(name)
    if app is None:
        return None
    parser = load_command_class(app, name).create_parser("manage.py", name)
    return frozenset(parser._option_string_actions)


@cache
def make_targets() -> frozenset[str]:
    """The targets the project's Makefile has a rule for."""
    targets: set[str] = set()
    for line in (PROJECT_DIR / "Makefile").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][\w.-]*(?:[ \t]+[A-Za-z0-9][\w.-]*)*)[ \t]*:(?!=)", line)
        if match:
            targets.update(match.group(1).split())
    return frozenset(targets)


@cache
def settings_source() -> str:
    return "\n".join(path.read_text() for path in sorted((PROJECT_DIR / "config" / "settings").glob("*.py")))


def setting_known(name: str) -> bool:
    """True when `name` is a Django setting, is quoted in the settings files, or is read where OTHER_VARIABLES says."""
    if hasattr(settings, name) or re.search(rf"[\"']{name}[\"']", settings_source()):
        return True
    reader = OTHER_VARIABLES.get(name)
    return reader is not None and (PROJECT_DIR / reader).is_file() and name in (PROJECT_DIR / reader).read_text()


@cache
def project_files() -> frozenset[str]:
    """The names of every file and folder of the project (outside virtual environments and caches)."""
    names: set[str] = set()
    for path in PROJECT_DIR.rglob("*"):
        if not SKIPPED_FOLDERS.intersection(path.relative_to(PROJECT_DIR).parts):
            names.add(path.name)
    return frozenset(names)


def path_exists(span: str) -> bool | None:
    """Whether the path in inline code `span` exists in the project; None when `span` is not a path to check."""
    if not PATH.match(span) or not ("/" in span or Path(span).suffix in PATH_SUFFIXES or span in PATH_NAMES):
        return None
    first = span.split("/", 1)[0]
    if first in RUN_TIME_PATHS or re.fullmatch(SETTING_NAME, first) or span in {".", ".."}:
        return None
    if "/" not in span:
        return span in project_files()
    relative = span.rstrip("/")
    return any((base / relative).exists() for base in (PROJECT_DIR, PACKAGE_DIR))


@cache
def declared_names() -> frozenset[str]:
    """Celery task names and system check ids declared in the package (`name="..."`, `id="..."`)."""
    names: set[str] = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        names.update(re.findall(r"\b(?:name|id)=[\"']([\w.]+)[\"']", path.read_text()))
    return frozenset(names)


def python_object_exists(dotted: str) -> bool:
    """True when `dotted` is a module, or an attribute reached from the longest importable module prefix."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        module = ".".join(parts[:end])
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            continue
        if end == len(parts):
            return True
        value: object = importlib.import_module(module)
        for attribute in parts[end:]:
            if not hasattr(value, attribute):
                return False
            value = getattr(value, attribute)
        return True
    return False


def dotted_name_exists(name: str) -> bool | None:
    """Whether dotted `name` is a Python object, model, migration, task or check of the project; None when it
    does not start with one of the project's packages (or `config`) and is not checked."""
    first, rest = name.split(".", 1)
    packages = {path.parent.name for path in PACKAGE_DIR.glob("*/__init__.py")}
    if first == "config" or first == PACKAGE:
        return python_object_exists(name)
    if first not in packages:
        return None
    if python_object_exists(f"{PACKAGE}.{name}") or name in declared_names():
        return True
    if "." not in rest:
        try:
            apps.get_model(first, rest)
            return True
        except (LookupError, ValueError):
            pass
        if re.fullmatch(r"\d{4}\w*", rest) and any((PACKAGE_DIR / first / "migrations").glob(f"{rest}*.py")):
            return True
    return False


def command_problems(name: str, arguments: str) -> Iterator[str]:
    if not re.match(r"[A-Za-z_]", name):  # a placeholder: manage.py <command>, manage.py ...
        return
    options = command_options(name)
    if options is None:
        yield f"command {name!r} does not exist"
        return
    for option in OPTION.findall(arguments):
        if option not in options:
            yield f"command {name!r} has no option {option}"


def make_problems(arguments: str) -> Iterator[str]:
    for word in arguments.split():
        if not re.fullmatch(r"[a-z][a-z0-9-]*", word):
            break
        if word not in make_targets():
            yield f"make target {word!r} does not exist"


def link_problems(target: str, page: Path, text: str) -> Iterator[str]:
    """Problems of link `target` on `page` (whose Markdown is `text`): a missing file, or a missing heading."""
    if re.match(r"^[a-z]+:", target):
        return
    path_part, _, anchor = target.partition("#")
    if not path_part:
        if anchor not in page_anchors(text):
            yield f"link {target!r}: {page.name} has no heading with anchor #{anchor}"
        return
    linked = (page.parent / path_part).resolve()
    if not linked.exists() or PROJECT_DIR.resolve() not in (linked, *linked.parents):
        yield f"link {target!r} leads to no file of the project"
    elif anchor and linked.suffix == ".md" and anchor not in page_anchors(linked.read_text()):
        yield f"link {target!r}: {linked.name} has no heading with anchor #{anchor}"


def doc_problems(text: str, page: Path) -> list[str]:
    """Everything the Markdown `text` of `page` names that does not exist; an empty list when all of it does."""
    problems: list[str] = []
    _, code = split_page(text)
    for line in code:
        line = without_comment(line)
        for match in MANAGE.finditer(line):
            problems += command_problems(match.group(1), match.group(2))
        for match in MAKE.finditer(line):
            problems += make_problems(match.group(1))
        for name in ASSIGNED_VARIABLE.findall(line):
            if not setting_known(name):
                problems.append(f"setting or environment variable {name!r} is not read anywhere")
    for span in code_spans(text):
        manage = MANAGE.search(span)
        first_word = span.split(" ", 1)[0]
        if manage:
            problems += command_problems(manage.group(1), manage.group(2))
        elif re.fullmatch(r"[a-z][a-z0-9_]*", first_word) and command_options(first_word) is not None:
            problems += command_problems(first_word, span[len(first_word) :])
        for match in MAKE.finditer(span):
            problems += make_problems(match.group(1))
        names = SETTINGS_ATTRIBUTE.findall(span)
        leading = LEADING_SETTING.match(span)
        for name in [*names, *([leading.group(1)] if leading else [])]:
            if not setting_known(name):
                problems.append(f"setting or environment variable {name!r} is not read anywhere")
        if path_exists(span) is False:
            problems.append(f"path {span!r} does not exist")
        dotted = DOTTED.match(span)
        if dotted and dotted_name_exists(dotted.group(1)) is False:
            problems.append(f"Python name {dotted.group(1)!r} does not exist")
    for line in prose_lines(text):
        for target in LINK.findall(line):
            problems += link_problems(target, page, text)
    return problems


@pytest.mark.parametrize("page", DOC_FILES, ids=[path.relative_to(PROJECT_DIR).as_posix() for path in DOC_FILES])
def test_docs_name_only_commands_options_targets_settings_paths_and_links_that_exist(page: Path) -> None:
    assert doc_problems(page.read_text(), page) == []


def test_readme_is_a_short_entry_that_links_every_docs_page() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    linked = {target.partition("#")[0] for target in LINK.findall(text)}
    pages = {f"docs/{path.name}" for path in DOCS_DIR.glob("*.md")}
    assert pages, "docs/ has no pages"
    assert pages <= linked, f"README.md does not link {sorted(pages - linked)}"
    acme = "http://acme.localhost:8000/"
    if settings.TENANCY_ROUTING == "path":
        acme = f"http://localhost:8000/{settings.TENANCY_PATH_PREFIX}/acme/"
    for needle in ("make dev", "make test", acme):
        assert needle in text
{%- if cookiecutter.use_celery == "n" %}


def test_docs_name_no_celery_or_redis_in_a_project_without_them() -> None:
    # Whole words: the template's option `use_celery` may be named.
    words = re.compile(r"\b(celery|redis)\b", re.I)
    named = [(page.name, word) for page in DOC_FILES for word in words.findall(page.read_text())]
    assert named == []
{%- endif %}
{%- if cookiecutter.use_drf == "n" %}


def test_docs_name_no_rest_api_in_a_project_without_it() -> None:
    words = ("REST API", "REST framework", "/api/", "drf-spectacular")
    named = [(page.name, word) for page in DOC_FILES for word in words if word in page.read_text()]
    assert named == []
{%- endif %}


# One bogus name of each kind, with the problem the checker must report for it.
BOGUS = {
    "uv run python manage.py no_such_command --help": "command 'no_such_command' does not exist",
    "`manage.py create_tenant --name N --no-such-option`": "command 'create_tenant' has no option --no-such-option",
    "`tenants_doctor --repair`": "command 'tenants_doctor' has no option --repair",
    "`make test no-such-target`": "make target 'no-such-target' does not exist",
    "`TENANCY_NO_SUCH_SETTING`": "setting or environment variable 'TENANCY_NO_SUCH_SETTING' is not read anywhere",
    "NO_SUCH_VARIABLE=1 make test": "setting or environment variable 'NO_SUCH_VARIABLE' is not read anywhere",
    "`settings.NO_SUCH_SETTING`": "setting or environment variable 'NO_SUCH_SETTING' is not read anywhere",
    "`lifecycle/no_such_module.py`": "path 'lifecycle/no_such_module.py' does not exist",
    "`no_such_file.toml`": "path 'no_such_file.toml' does not exist",
    "`lifecycle.services.no_such_function`": "Python name 'lifecycle.services.no_such_function' does not exist",
    "`tenancy.9999`": "Python name 'tenancy.9999' does not exist",
    "[a page](no-such-page.md)": "link 'no-such-page.md' leads to no file of the project",
    "[a heading](concepts.md#no-such-heading)": "link 'concepts.md#no-such-heading': concepts.md has no heading",
    "[here](#no-such-heading)": "link '#no-such-heading': fake.md has no heading",
}


@pytest.mark.parametrize(("line", "problem"), BOGUS.items(), ids=list(BOGUS))
def test_checker_reports_a_bogus_command_option_target_setting_path_name_or_link(line: str, problem: str) -> None:
    in_code_block = not line.startswith(("`", "["))
    text = f"# A page\n\n```\n{line}\n```\n" if in_code_block else f"# A page\n\nSee {line}.\n"
    problems = doc_problems(text, DOCS_DIR / "fake.md")
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem), problems


def test_checker_accepts_the_same_kinds_of_names_when_they_exist() -> None:
    text = (
        "# A page\n\n## Section two\n\n"
        "```\nuv run python manage.py create_tenant --name N --slug S --dry-run\nmake lint typecheck test\n"
        "DATABASE_URL=postgres://localhost/x make test   # a comment: --not-checked\n```\n\n"
        "`tenants_doctor --fix`, `make dev`, `TENANCY_BASE_DOMAIN`, `CONN_MAX_AGE=600`, `settings.TENANT_APPS`, "
        "`lifecycle/provisioning.py`, `config/settings/`, `pyproject.toml`, `apps.py`, `.data/ports.json`, "
        "`MEDIA_ROOT/.dropped/`, `lifecycle.services.tenant_create`, `fleet.verification`, `accounts.LoginToken`, "
        "`tenancy.0003`, `tenancy.E002`, [concepts](concepts.md#glossary), [below](#section-two), "
        "[cruft](https://cruft.github.io/cruft/).\n"
    )
    assert doc_problems(text, DOCS_DIR / "fake.md") == []


def test_github_anchor_drops_markup_and_punctuation_and_keeps_underscores() -> None:
    assert github_anchor("Checking the fleet: `tenants_doctor`") == "checking-the-fleet-tenants_doctor"
    assert github_anchor("What the bake recorded: `.cruft.json`") == "what-the-bake-recorded-cruftjson"
    assert github_anchor("1. Bring the models in") == "1-bring-the-models-in"
