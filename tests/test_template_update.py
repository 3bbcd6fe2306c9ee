"""Template updates through cruft: a bake records its template and commit, and `cruft update` brings later commits in.

Each test works on a throwaway Git repository holding a snapshot of the template (the working tree as it
stands, and for the slow test also commit OLD_LAYOUT_COMMIT), so commits made here never touch this repository.

- A bake by plain cookiecutter from a Git checkout writes `.cruft.json` as `cruft create` does (plus the skip
  list), from a relative path as well; a bake from a plain folder or a zip file writes none and succeeds.
- The update path: bake commit A, commit the bake and a local change, commit a template change B, run
  `cruft update`: B's change arrives, the local change stays, skipped files are left alone, no .rej file.
- The previous layout (slow): a bake of OLD_LAYOUT_COMMIT, the last commit before the package split, with a
  database it migrated and seeded on the machine's PostgreSQL, is linked with `cruft link` as docs/updating.md
  says, updated to the working tree, installed again and migrated with the new code: no row of any schema
  changes, and django_migrations gains only NEW_MIGRATIONS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import (
    ADMIN_DATABASE_URL,
    DB_PREFIX,
    DEFAULT_SLUG,
    REDIS_URL,
    TEMPLATE_DIR,
    VENV_BIN,
    describe,
    psql,
    run,
)

# The last template commit with the module layout before the package split (accounts, adoption, demo, fleet,
# lifecycle, platform): projects baked from it must update through cruft and migrate with no data change.
OLD_LAYOUT_COMMIT = "ca1ae85"
# Migrations an update from OLD_LAYOUT_COMMIT to the working tree may add, as (app label, name). A migration
# added here must still leave every existing row alone: only tables it creates may be new (and empty).
NEW_MIGRATIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("accounts", "0004_apikey"),
        ("audit", "0001_initial"),
        ("tenancy", "0004_tenant_billing_state"),
        ("billing", "0001_initial"),
        ("tenancy", "0005_migration_state"),
        ("tenancy", "0006_schemascript"),
        ("lifecycle", "0001_provision_function"),
        ("lifecycle", "0002_provision_function_fingerprints"),
        ("bookings", "0004_user_references_without_foreign_keys"),
        ("accounts", "0005_user_delete_refused"),
    }
)
# Columns those migrations add to existing tables, as (table, column): rows keep every other column's value.
NEW_COLUMNS: frozenset[tuple[str, str]] = frozenset(
    ("public.tenancy_tenant", column)
    for column in ("billing_status", "billing_past_due_since", "billing_period_end", "billing_trial_end")
)
# New tables that migrations fill: the seeded plan catalogue, and one subscription per existing tenant (public
# excepted). Every other new table must be empty.
SEEDED_PLANS = 3
# Models those migrations add, as (app label, model): Django's post_migrate gives each a django_content_type
# row and its four auth_permission rows (add, change, delete, view). Those registries may gain exactly these.
NEW_MODELS: frozenset[tuple[str, str]] = frozenset(
    {
        ("accounts", "apikey"),
        ("audit", "auditevent"),
        ("billing", "plan"),
        ("billing", "subscription"),
        ("billing", "webhookevent"),
        ("tenancy", "migrationstate"),
        ("tenancy", "schemascript"),
    }
)
# New tables the platform fills as it works, not from existing rows: one migration summary per schema with a
# django_migrations (fleet/state.py; `make migrate` puts the trigger on every schema it reads directly), and the
# schema script captured when the spare pool is topped up (lifecycle/schema_script.py; at most one row).
MAINTAINED_TABLES = ("public.tenancy_migrationstate", "public.tenancy_schemascript")
REGISTRY_TABLES = ("django_content_type", "auth_permission")
# What the post_gen_project hook puts in .cruft.json's skip list.
CRUFT_SKIP = [".env", "uv.lock"]
STATE_KEYS = {"template", "commit", "checkout", "context", "directory", "skip"}

# Commits in the throwaway repositories: a fixed identity, and no user or system configuration (signing,
# hooks, templates) that would make them differ from machine to machine.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Template Test",
    "GIT_AUTHOR_EMAIL": "template-test@example.com",
    "GIT_COMMITTER_NAME": "Template Test",
    "GIT_COMMITTER_EMAIL": "template-test@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
# Local state of a working tree that is not part of the template.
NOT_TEMPLATE = shutil.ignore_patterns(
    ".git", ".venv*", "__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", ".mypy_cache"
)
SNAPSHOT_TIMEOUT = 300  # seconds
# Every table of every schema (public, tenants, spares): row count and an md5 of its rows in a fixed order,
# and the django_migrations rows of each schema. Runs with the bake's psycopg: snapshot(url) -> JSON.
SNAPSHOT_SCRIPT = r"""
import json, sys
import psycopg
from psycopg import sql

# argv[2], when given: {"<schema>.<table>": [columns]} of an earlier snapshot; those tables are digested over
# these columns only, so a column a migration added (reported in "columns") does not count as a changed row.
only = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
tables, migrations, registries, columns = {}, {}, {}, {}
with psycopg.connect(sys.argv[1]) as conn:
    names = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' "
        "ORDER BY 1, 2"
    ).fetchall()
    for schema, table in names:
        name = sql.Identifier(schema, table)
        present = [row[0] for row in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
            "ORDER BY attnum", [sql.Identifier(schema, table).as_string(conn)]
        )]
        columns[f"{schema}.{table}"] = present
        digested = only.get(f"{schema}.{table}", present)
        row = sql.SQL("ROW({})::text").format(sql.SQL(", ").join(sql.Identifier("t", column) for column in digested))
        count, digest = conn.execute(
            sql.SQL("SELECT count(*), md5(coalesce(string_agg({row}, E'\\n' ORDER BY {row}), '')) FROM {name} t")
            .format(row=row, name=name)
        ).fetchone()
        tables[f"{schema}.{table}"] = [count, digest]
        if table in ("django_content_type", "auth_permission"):
            rows = conn.execute(sql.SQL("SELECT row_to_json(t)::text FROM {} t").format(name))
            registries[f"{schema}.{table}"] = sorted(row[0] for row in rows)
        if table == "django_migrations":
            rows = conn.execute(sql.SQL("SELECT id, app, name, applied::text FROM {} ORDER BY id").format(name))
            migrations[schema] = [list(row) for row in rows]
print(json.dumps({"tables": tables, "migrations": migrations, "registries": registries, "columns": columns}))
"""


def git(cwd: Path, *args: str) -> str:
    """Run `git *args` in `cwd` with GIT_ENV; return its stripped output, or fail the test."""
    result = run(["git", *args], cwd=cwd, extra_env=GIT_ENV, timeout=300)
    assert result.returncode == 0, describe(result)
    return result.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    """Commit every change of `repo`'s work tree; return the new commit's full hash."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def copy_working_tree(dest: Path) -> None:
    """Copy the template as it stands in this work tree (uncommitted changes included) into `dest`."""
    shutil.copytree(TEMPLATE_DIR, dest, ignore=NOT_TEMPLATE, dirs_exist_ok=True)


def bake_cli(
    template: str, output_dir: Path, cwd: Path | None = None, extra_env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Bake the defaults with the cookiecutter command line, as the README says; return the finished process."""
    output_dir.mkdir(parents=True, exist_ok=True)
    return run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(output_dir), template],
        cwd=cwd or output_dir,
        extra_env={**GIT_ENV, **(extra_env or {})},
        timeout=300,
    )


def cruft(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the cruft command line in `project`; return the finished process."""
    return run([str(VENV_BIN / "cruft"), *args], cwd=project, extra_env=GIT_ENV, timeout=600)


def cruft_state(project: Path) -> dict:
    """The parsed .cruft.json of `project`."""
    return json.loads((project / ".cruft.json").read_text())


def changed_paths(project: Path) -> set[str]:
    """Paths `git status` reports in `project`: changed, added, deleted or untracked (not ignored)."""
    # Not git(): its stripping would cut the first line's leading status column.
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=project, extra_env=GIT_ENV)
    assert status.returncode == 0, describe(status)
    return {line[3:] for line in status.stdout.splitlines() if line}


def rejects(project: Path) -> list[str]:
    """Every .rej file cruft's patch left in `project`."""
    return sorted(str(path.relative_to(project)) for path in project.rglob("*.rej"))


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Git repository whose one commit is the template's working tree; tests clone it to add commits."""
    repo = tmp_path_factory.mktemp("template") / "tenant-saas-template"
    copy_working_tree(repo)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "A: the template's working tree")
    return repo


def test_plain_cookiecutter_bake_records_the_state_cruft_create_writes(template_repo: Path, tmp_path: Path) -> None:
    baked = bake_cli(str(template_repo), tmp_path / "plain")
    assert baked.returncode == 0, describe(baked)
    project = tmp_path / "plain" / DEFAULT_SLUG
    created = run(
        [str(VENV_BIN / "cruft"), "create", str(template_repo), "--no-input", "--output-dir", str(tmp_path / "cruft"),
         *[f"--skip={path}" for path in CRUFT_SKIP]],
        cwd=tmp_path, extra_env=GIT_ENV, timeout=300,
    )  # fmt: skip
    assert created.returncode == 0, describe(created)
    by_cruft = tmp_path / "cruft" / DEFAULT_SLUG

    state = cruft_state(project)
    assert set(state) == STATE_KEYS
    assert state["template"] == str(template_repo)
    assert state["commit"] == git(template_repo, "rev-parse", "HEAD")
    assert state["checkout"] is None
    assert state["directory"] is None
    assert state["skip"] == CRUFT_SKIP
    assert state["context"]["cookiecutter"]["project_slug"] == DEFAULT_SLUG
    # The same state as `cruft create --skip ...`, key order included, and the same files (.env has its own secret).
    assert (project / ".cruft.json").read_text() == (by_cruft / ".cruft.json").read_text()
    files = sorted(str(path.relative_to(project)) for path in project.rglob("*") if path.is_file())
    assert files == sorted(str(path.relative_to(by_cruft)) for path in by_cruft.rglob("*") if path.is_file())
    assert all((project / name).read_bytes() == (by_cruft / name).read_bytes() for name in files if name != ".env")
    # The recorded answers generate this very bake again: cruft sees no difference, and prints nothing.
    diff = cruft(project, "diff", "--exit-code")
    assert diff.returncode == 0, describe(diff)
    assert diff.stdout.strip() == "", describe(diff)
    check = cruft(project, "check")
    assert check.returncode == 0, describe(check)


def test_bake_from_a_relative_path_records_the_absolute_template(template_repo: Path, tmp_path: Path) -> None:
    # Typed in a shell as `cookiecutter ./tenant-saas-template` from the folder holding it: the shell's PWD.
    baked = bake_cli(
        f"./{template_repo.name}", tmp_path / "out", cwd=template_repo.parent, extra_env={"PWD": str(template_repo.parent)}
    )  # fmt: skip
    assert baked.returncode == 0, describe(baked)
    state = cruft_state(tmp_path / "out" / DEFAULT_SLUG)
    assert state["template"] == str(template_repo)
    assert state["context"]["cookiecutter"]["_template"] == str(template_repo)


@pytest.mark.parametrize("source", ["folder", "zip"])
def test_bake_from_outside_git_writes_no_cruft_state(template_repo: Path, tmp_path: Path, source: str) -> None:
    if source == "folder":
        template = tmp_path / "plain-template"
        copy_working_tree(template)
    else:
        template = tmp_path / "template.zip"
        git(template_repo, "archive", "--format=zip", "--prefix=tenant-saas-template/", "-o", str(template), "HEAD")
    # cookiecutter unpacks a zip file under its cookiecutters_dir: a throwaway one, not the user's.
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(f"cookiecutters_dir: {tmp_path / 'cookiecutters'}\nreplay_dir: {tmp_path / 'replay'}\n")
    output = tmp_path / "out"
    output.mkdir()
    baked = run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "--config-file", str(config), "-o", str(output),
         str(template)],
        cwd=output, extra_env=GIT_ENV, timeout=300,
    )  # fmt: skip

    assert baked.returncode == 0, describe(baked)
    project = output / DEFAULT_SLUG
    assert (project / ".env").is_file()
    assert not (project / ".cruft.json").exists()
    assert "no .cruft.json written" in baked.stdout, describe(baked)


def test_cruft_update_brings_the_template_change_and_keeps_the_local_one(template_repo: Path, tmp_path: Path) -> None:
    # The template's history: A (cloned), then B below. The clone is the template the bake names.
    template = tmp_path / "template"
    git(tmp_path, "clone", "-q", str(template_repo), str(template))
    commit_a = git(template, "rev-parse", "HEAD")
    baked = bake_cli(str(template), tmp_path / "out")
    assert baked.returncode == 0, describe(baked)
    project = tmp_path / "out" / DEFAULT_SLUG
    assert cruft_state(project)["commit"] == commit_a

    # The owner's repository: the bake, then a change of their own to a generated file, their lock file and .env.
    git(project, "init", "-q", "-b", "main")
    (project / "uv.lock").write_text("# the owner's lock\n")
    commit_all(project, "bake")
    settings = project / "config" / "settings" / "base.py"
    local_line = "OWNER_SETTING = True  # the owner's own change\n"
    settings.write_text(settings.read_text() + local_line)
    commit_all(project, "local change")
    (project / ".env").write_text((project / ".env").read_text() + "OWNER_VARIABLE=1\n")
    dotenv = (project / ".env").read_bytes()

    # Template commit B: one generated file changed (rendered with the recorded answers), one added, and a
    # uv.lock the template now ships, which the owner's skip list keeps out.
    slug_dir = template / "{{cookiecutter.project_slug}}"
    gitignore = slug_dir / ".gitignore"
    gitignore.write_text(gitignore.read_text() + "# {{ cookiecutter.project_slug }}: template change B\n")
    (slug_dir / "TEMPLATE_CHANGE_B.md").write_text("Added by template commit B for {{ cookiecutter.project_name }}.\n")
    (slug_dir / "uv.lock").write_text("# the template's lock\n")
    commit_b = commit_all(template, "B: a template change")

    behind = cruft(project, "check")
    assert behind.returncode == 1, describe(behind)
    updated = cruft(project, "update", "--skip-apply-ask")
    assert updated.returncode == 0, describe(updated)

    state = cruft_state(project)
    assert state["commit"] == commit_b
    assert state["context"]["cookiecutter"]["_commit"] == commit_b
    assert state["skip"] == CRUFT_SKIP
    assert (project / ".gitignore").read_text().endswith(f"# {DEFAULT_SLUG}: template change B\n")
    assert (project / "TEMPLATE_CHANGE_B.md").read_text() == "Added by template commit B for Acme SaaS.\n"
    assert settings.read_text().endswith(local_line)
    assert (project / "uv.lock").read_text() == "# the owner's lock\n"
    assert (project / ".env").read_bytes() == dotenv
    assert rejects(project) == []
    # Exactly the template's change and the new state, ready for the owner to review and commit.
    assert changed_paths(project) == {".cruft.json", ".gitignore", "TEMPLATE_CHANGE_B.md"}
    current = cruft(project, "check")
    assert current.returncode == 0, describe(current)


# --- The previous layout: update and migrate with no data change (slow) ---


@dataclass
class LegacyBake:
    """A bake of OLD_LAYOUT_COMMIT, installed, committed and linked to `template` by `cruft link`."""

    project: Path
    template: Path
    old_commit: str
    new_commit: str


def old_layout_commit() -> str:
    """The full hash of OLD_LAYOUT_COMMIT in this repository's history; fails the test when it is missing."""
    found = subprocess.run(
        ["git", "-C", str(TEMPLATE_DIR), "rev-parse", "--verify", "--quiet", f"{OLD_LAYOUT_COMMIT}^{{commit}}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if found.returncode != 0:
        pytest.fail(
            f"template commit {OLD_LAYOUT_COMMIT} (the last before the package split) is not in the history of "
            f"{TEMPLATE_DIR}: a shallow clone, or not a Git checkout? Fetch the full history "
            "(git fetch --unshallow); this test must run, not skip."
        )
    return found.stdout.strip()


@pytest.fixture
def legacy_bake(tmp_path: Path) -> Iterator[LegacyBake]:
    """Bake OLD_LAYOUT_COMMIT as its users did (plain cookiecutter, no .cruft.json then), install it with
    `make install`, commit it, link it to the template with `cruft link` plus the skip list (docs/updating.md),
    and commit the working tree on top of the old commit in the template's repository.

    Yields the bake; removes it and its virtual environment afterwards unless TEMPLATE_TEST_KEEP_BAKES=1.
    """
    old_sha = old_layout_commit()
    template = tmp_path / "tenant-saas-template"
    template.mkdir()
    archive = tmp_path / "old.tar"
    exported = subprocess.run(
        ["git", "-C", str(TEMPLATE_DIR), "archive", "--format=tar", "-o", str(archive), old_sha],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    subprocess.run(["tar", "-xf", str(archive), "-C", str(template)], check=True)
    git(template, "init", "-q", "-b", "main")
    old_commit = commit_all(template, f"the template at {OLD_LAYOUT_COMMIT}")

    baked = bake_cli(str(template), tmp_path / "bake")
    assert baked.returncode == 0, describe(baked)
    project = tmp_path / "bake" / DEFAULT_SLUG
    assert not (project / ".cruft.json").exists(), "the old layout's hook wrote no .cruft.json"
    installed = run(["make", "install"], cwd=project, timeout=1800)
    assert installed.returncode == 0, describe(installed)
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "bake of the old layout, with its uv.lock")
    linked = cruft(project, "link", str(template), "--checkout", old_commit, "--no-input")
    assert linked.returncode == 0, describe(linked)
    state = cruft_state(project)
    assert state["commit"] == old_commit, state
    state["skip"] = CRUFT_SKIP
    (project / ".cruft.json").write_text(json.dumps(state, indent=2) + "\n")
    commit_all(project, "link to the template (cruft link)")

    for child in template.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    copy_working_tree(template)
    new_commit = commit_all(template, "the template's working tree")
    try:
        yield LegacyBake(project=project, template=template, old_commit=old_commit, new_commit=new_commit)
    finally:
        if os.environ.get("TEMPLATE_TEST_KEEP_BAKES") == "1":
            print(f"\nlegacy bake kept in {project}", file=sys.stderr)
        else:
            shutil.rmtree(tmp_path / "bake", ignore_errors=True)


@pytest.fixture
def update_database(legacy_bake: LegacyBake) -> Iterator[str]:
    """A throwaway database on the machine's PostgreSQL; yields its URL and drops it afterwards."""
    name = f"{DB_PREFIX}cruft_{uuid.uuid4().hex[:10]}"
    created = psql(legacy_bake.project, f'CREATE DATABASE "{name}"')
    if created.returncode != 0:
        pytest.fail(f"cannot create a database on {ADMIN_DATABASE_URL}: {describe(created)}")
    try:
        yield f"{ADMIN_DATABASE_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        psql(legacy_bake.project, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def snapshot(project: Path, database_url: str, *, columns_of: Mapping[str, list[str]] | None = None) -> dict:
    """Row counts and checksums of every table of every schema (over `columns_of[table]` where given: the columns
    of an earlier snapshot), each table's columns, and each schema's django_migrations rows."""
    args = [database_url, *([json.dumps(columns_of)] if columns_of is not None else [])]
    result = run(
        ["uv", "run", "--no-sync", "python", "-c", SNAPSHOT_SCRIPT, *args], cwd=project, timeout=SNAPSHOT_TIMEOUT
    )
    assert result.returncode == 0, describe(result)
    return json.loads(result.stdout.strip().splitlines()[-1])


def registry_gains(before: Mapping[str, list[str]], after: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Per registry table (`<schema>.django_content_type` / `<schema>.auth_permission`), the rows that are not
    allowed: rows of `before` missing from `after`, and rows `after` gained that belong to no model of NEW_MODELS.
    Rows are row_to_json texts of the snapshot; an empty dict means the registries only gained NEW_MODELS."""
    allowed_codenames = {f"{verb}_{model}" for _, model in NEW_MODELS for verb in ("add", "change", "delete", "view")}
    wrong: dict[str, list[str]] = {}
    assert set(before) == set(after), sorted(set(before) ^ set(after))
    for table, rows in before.items():
        now = set(after[table])
        bad = [f"missing: {row}" for row in rows if row not in now]
        for row in sorted(now - set(rows)):
            fields = json.loads(row)
            if table.endswith(".django_content_type"):
                ok = (fields["app_label"], fields["model"]) in NEW_MODELS
            else:
                ok = fields["codename"] in allowed_codenames
            if not ok:
                bad.append(f"gained: {row}")
        if bad:
            wrong[table] = bad
    return wrong


def manage(project: Path, env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `manage.py *args` with the bake's environment; fail the test unless it exits 0."""
    result = run(["uv", "run", "--no-sync", "python", "manage.py", *args], cwd=project, extra_env=env, timeout=1800)
    assert result.returncode == 0, describe(result)
    return result


def template_files(project: Path) -> set[str]:
    """Files of a bake the template accounts for: not ignored by its .gitignore, not the owner's lock file."""
    listed = git(project, "ls-files", "--cached", "--others", "--exclude-standard")
    return {name for name in listed.splitlines() if name and name != "uv.lock" and (project / name).is_file()}


@pytest.mark.slow
def test_bake_of_the_previous_layout_updates_and_migrates_without_changing_data(
    legacy_bake: LegacyBake, update_database: str, tmp_path: Path
) -> None:
    project = legacy_bake.project
    # The refill of claimed spare schemas stays off: nothing is queued on the shared Redis for a worker
    # of another test, and the second migrate_schemas below refills the pool instead.
    env = {"DATABASE_URL": update_database, "REDIS_URL": REDIS_URL, "TENANCY_SPARE_REFILL": "off"}

    # The old code makes the database as `make dev` would, and the owners' tenants get rows.
    manage(project, env, "migrate_schemas", "--noinput")
    manage(project, env, "ensure_public_tenant")
    manage(project, env, "seed_demo", "--noinput")
    manage(project, env, "create_tenant", "--name", "Initech", "--slug", "initech",
           "--owner-email", "owner@initech.example", "--noinput")  # fmt: skip
    # Once more with the old code: what its own migrate_schemas still changes (the spare pool refilled after
    # create_tenant claimed one) is in the snapshot, so the comparison below is about the new code alone.
    manage(project, env, "migrate_schemas", "--noinput")
    before = snapshot(project, update_database)
    assert any(name.startswith("tenant_initech.") for name in before["tables"]), sorted(before["tables"])
    assert any(count for name, (count, _) in before["tables"].items() if name.startswith("tenant_acme.")), before

    # The update, as docs/updating.md says: cruft update, then install and migrate.
    updated = cruft(project, "update", "--skip-apply-ask")
    assert updated.returncode == 0, describe(updated)
    assert cruft_state(project)["commit"] == legacy_bake.new_commit
    assert rejects(project) == []
    # The updated bake is exactly a fresh bake of the new commit (the owner's lock file aside).
    fresh_baked = bake_cli(str(legacy_bake.template), tmp_path / "fresh")
    assert fresh_baked.returncode == 0, describe(fresh_baked)
    fresh = tmp_path / "fresh" / DEFAULT_SLUG
    git(fresh, "init", "-q", "-b", "main")
    files = template_files(project)
    assert files == template_files(fresh)
    differing = [
        name for name in sorted(files - {".cruft.json"}) if (project / name).read_bytes() != (fresh / name).read_bytes()
    ]
    assert differing == []

    migrated = run(["make", "migrate"], cwd=project, extra_env=env, timeout=1800)
    assert migrated.returncode == 0, describe(migrated)
    after = snapshot(project, update_database, columns_of=before["columns"])

    # No row changed, in any table of any schema; only tables of NEW_MIGRATIONS may be new, and empty; the
    # content type and permission registries keep every row and gain only NEW_MODELS' rows.
    assert registry_gains(before["registries"], after["registries"]) == {}
    kept = (".django_migrations", *(f".{table}" for table in REGISTRY_TABLES))
    before_tables = {name: value for name, value in before["tables"].items() if not name.endswith(kept)}
    after_tables = {name: value for name, value in after["tables"].items() if not name.endswith(kept)}
    assert sorted(set(before_tables) - set(after_tables)) == []
    changed = {
        name: (value, after_tables[name]) for name, value in before_tables.items() if after_tables[name] != value
    }
    assert changed == {}
    # Columns: existing tables gain only NEW_COLUMNS.
    gained_columns = {
        (table, column)
        for table, names in after["columns"].items()
        if table in before["columns"]
        for column in set(names) - set(before["columns"][table])
    }
    assert gained_columns <= NEW_COLUMNS, sorted(gained_columns - NEW_COLUMNS)
    added = {name: value for name, value in after_tables.items() if name not in before_tables}
    summaries, _ = added.pop(MAINTAINED_TABLES[0])
    scripts, _ = added.pop(MAINTAINED_TABLES[1])
    assert 0 < summaries <= len(after["migrations"]) and scripts <= 1, (summaries, scripts)
    tenants = before_tables["public.tenancy_tenant"][0] - 1  # the public tenant has no subscription
    seeded = {"public.billing_plan": SEEDED_PLANS, "public.billing_subscription": tenants}
    assert {name: count for name, (count, _) in added.items() if count} == {
        name: count for name, count in seeded.items() if count
    }, added
    assert not added or NEW_MIGRATIONS, f"tables added without a migration listed in NEW_MIGRATIONS: {sorted(added)}"
    # django_migrations keeps every row as it was, and gains only NEW_MIGRATIONS.
    assert set(after["migrations"]) == set(before["migrations"])
    for schema, rows in before["migrations"].items():
        after_rows = after["migrations"][schema]
        assert after_rows[: len(rows)] == rows, f"{schema}: django_migrations rows changed"
        gained = {(app, name) for _, app, name, _ in after_rows[len(rows) :]}
        assert gained <= NEW_MIGRATIONS, f"{schema}: unexpected migrations applied: {sorted(gained - NEW_MIGRATIONS)}"

    listed = manage(project, env, "migrate_schemas", "--list", "--format", "json")
    schemas = json.loads(listed.stdout[listed.stdout.index("[") :])
    assert {row["schema"] for row in schemas} >= {"public", "tenant_acme", "tenant_globex", "tenant_initech"}
    assert [row["schema"] for row in schemas if row["pending"]] == []
    models = manage(project, env, "makemigrations", "--check", "--dry-run")
    assert "No changes detected" in models.stdout, describe(models)
