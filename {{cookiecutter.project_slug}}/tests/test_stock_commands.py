"""django-tenants' stock commands and the platform admin's delete: each does the project's thing or refuses.

A refused command exits 2 with one line naming the project's command and creates, changes and deletes
nothing (no tenant row, schema, user or domain). Commands run as `python manage.py ...` processes on the test
database with stdin closed (no terminal), as a deploy script runs them, or through call_command.
"""

from __future__ import annotations

import io
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_exists

from {{ cookiecutter.project_slug }}.accounts.models import User
from {{ cookiecutter.project_slug }}.tenancy.models import Domain, Tenant

from conftest import committed_tenants, manage_process, test_database_url

PROJECT_DIR = Path(__file__).resolve().parent.parent
PACKAGE = "{{ cookiecutter.project_slug }}"
VICTIM = "stock-victim"
VICTIM_SCHEMA = "tenant_stock_victim"

# Every command django-tenants ships, and the project package whose module answers to its name.
STOCK_COMMANDS = {
    "create_tenant_superuser": "lifecycle", "delete_tenant": "lifecycle", "clone_tenant": "lifecycle",
    "rename_schema": "lifecycle", "collectstatic_schemas": "lifecycle", "create_missing_schemas": "lifecycle",
    "create_domain": "lifecycle", "delete_domain": "lifecycle", "tenant_command": "tenancy",
    "create_tenant": "lifecycle", "migrate_schemas": "fleet", "migrate": "fleet",
}  # fmt: skip


def manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run manage.py in its own process on the test database, stdin closed (no terminal): conftest.manage_process."""
    return manage_process(*args, env=env)


def raw_sql(statement: str, params: list[object] | None = None) -> None:
    """Run `statement` on a connection of its own, committed (what a separate process sees)."""
    with psycopg.connect(test_database_url(), autocommit=True) as other:
        other.execute(statement, params)  # type: ignore[arg-type]


def state() -> tuple[list[str], list[str], list[str], list[str]]:
    """Committed tenants, domains, users and schemas (other than PostgreSQL's own)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname !~ '^(pg_|information_schema)' ORDER BY 1")
        schemas = [row[0] for row in cursor.fetchall()]
    return (
        sorted(Tenant.objects.values_list("schema_name", flat=True)),
        sorted(Domain.objects.values_list("domain", flat=True)),
        sorted(User.objects.values_list("email", flat=True)),
        schemas,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *names: str) -> None:
    """Exit code 2 and exactly one line on stderr, naming each of `names`; nothing on stdout."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("CommandError: "), result.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert result.stdout == ""


@pytest.fixture(scope="module")
def victim(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """A committed tenant `stock-victim` (schema tenant_stock_victim) that stock commands would delete or rename."""
    with committed_tenants(django_db_blocker, [VICTIM]) as [schema]:
        yield schema


pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", sorted(STOCK_COMMANDS))
def test_every_stock_command_name_is_answered_by_the_project(name: str) -> None:
    assert get_commands()[name] == f"{PACKAGE}.{STOCK_COMMANDS[name]}"


def test_manage_py_help_lists_the_stock_command_names_under_the_project() -> None:
    result = manage("help")
    assert result.returncode == 0, result.stderr
    # all_tenants_command is django-tenants' own, unchanged (docs/commands.md): it only runs another command.
    stock_section = result.stdout.split("[django_tenants]")[-1].split("\n\n")[0]
    assert stock_section.split() == ["all_tenants_command"]
    for name in STOCK_COMMANDS:
        assert f"    {name}\n" in result.stdout


REFUSED = [
    pytest.param(
        ["create_tenant_superuser", "--schema", VICTIM_SCHEMA, "--noinput", "--email", "stock-su@example.com"],
        ["`manage.py createsuperuser`", "createsuperuser --tenant S", "create_tenant --owner-email"],
        id="create_tenant_superuser",
    ),
    pytest.param(
        ["delete_tenant", "--schema", VICTIM_SCHEMA, "--noinput"],
        ["`manage.py drop_schema --tenant S`"],
        id="delete_tenant",
    ),
    pytest.param(["delete_tenant"], ["drop_schema"], id="delete_tenant-no-arguments"),
    pytest.param(
        [
            "clone_tenant",
            "--clone_from",
            VICTIM_SCHEMA,
            "--schema_name",
            "tenant_stock_clone",
            "--name",
            "Clone",
            "--slug",
            "stock-clone",
            "--domain-domain",
            "stock-clone.localhost",
            "--domain-is_primary",
            "True",
        ],
        ["`manage.py create_tenant", "restore_tenant"],
        id="clone_tenant",
    ),
    pytest.param(
        ["rename_schema", "--rename_from", VICTIM_SCHEMA, "--rename_to", "tenant_stock_renamed"],
        ["backup_tenant", "restore_tenant", "drop_schema"],
        id="rename_schema",
    ),
    pytest.param(
        ["collectstatic_schemas", "--schema", VICTIM_SCHEMA, "--noinput"],
        ["`manage.py collectstatic"],
        id="collectstatic_schemas",
    ),
    pytest.param(["create_missing_schemas"], ["`manage.py tenants_doctor`"], id="create_missing_schemas"),
]


@pytest.mark.parametrize(("argv", "names"), REFUSED)
def test_stock_command_refuses_in_one_line_naming_the_project_command_and_changes_nothing(
    victim: str, argv: list[str], names: list[str]
) -> None:
    if argv[0] == "create_missing_schemas":
        # A tenant whose schema is gone: the stock command would give it an empty new one.
        raw_sql(f"ALTER SCHEMA {VICTIM_SCHEMA} RENAME TO stock_victim_aside")
    try:
        before = state()
        result = manage(*argv, env={"DJANGO_SUPERUSER_PASSWORD": "stock-su-password-1"})
        after = state()
    finally:
        if argv[0] == "create_missing_schemas":
            raw_sql(f"DROP SCHEMA IF EXISTS {VICTIM_SCHEMA} CASCADE")
            raw_sql(f"ALTER SCHEMA stock_victim_aside RENAME TO {VICTIM_SCHEMA}")

    assert_refused(result, argv[0], *names)
    assert after == before


@pytest.mark.parametrize("name", ["delete_tenant", "create_tenant_superuser", "clone_tenant", "rename_schema"])
def test_stock_command_refuses_through_call_command_with_its_stock_options(victim: str, name: str) -> None:
    every: dict[str, dict[str, Any]] = {
        "delete_tenant": {"schema_name": VICTIM_SCHEMA, "interactive": False},
        "create_tenant_superuser": {"schema_name": VICTIM_SCHEMA, "interactive": False, "email": "su@example.com"},
        "clone_tenant": {"clone_from": VICTIM_SCHEMA, "schema_name": "tenant_x", "domain_domain": "x.localhost"},
        "rename_schema": {"rename_from": VICTIM_SCHEMA, "rename_to": "tenant_y"},
    }
    options = every[name]
    before = state()
    with pytest.raises(CommandError) as refused:
        call_command(name, **options, stdout=io.StringIO(), stderr=io.StringIO())
    assert refused.value.returncode == 2 and "\n" not in str(refused.value) and name in str(refused.value)
    assert state() == before


def test_refused_command_help_says_it_is_refused_and_names_the_project_command() -> None:
    result = manage("delete_tenant", "--help")
    text = " ".join(result.stdout.split())  # argparse wraps the description
    assert result.returncode == 0
    assert "Refused, exit code 2" in text and "drop_schema --tenant S" in text


# create_domain / delete_domain: the project's validation, then routing follows.


def test_create_domain_refuses_a_malformed_domain_given_the_stock_way() -> None:
    before = state()
    result = manage("create_domain", "--schema_name", "tenant_acme", "--domain-domain", "Bad Domain!!", "--noinput")
    assert_refused(result, "'Bad Domain!!'", "hostname")
    assert state() == before


@pytest.mark.parametrize(
    ("domain", "named"),
    [
        ("admin.localhost", "reserved name 'admin'"),
        ("globex.localhost", "tenant 'globex'"),
        ("shop.acme.localhost:8000", "'shop.acme.localhost:8000'"),
        ("intranet", "'intranet' has no dot"),
    ],
)
def test_create_domain_refuses_reserved_taken_and_malformed_names(domain: str, named: str) -> None:
    before = state()
    with pytest.raises(CommandError) as refused:
        call_command("create_domain", "--tenant", "acme", "--domain", domain, stdout=io.StringIO())
    assert refused.value.returncode == 2 and named in str(refused.value)
    assert state() == before


def test_create_domain_refuses_an_unknown_tenant_and_a_missing_one() -> None:
    unknown = manage("create_domain", "--tenant", "nope", "--domain", "x.nope.localhost")
    missing = manage("create_domain", "--domain", "x.nope.localhost")
    assert_refused(unknown, "'nope'", "list_tenants")
    assert_refused(missing, "--tenant S")


def test_create_domain_adds_a_normalised_alias_that_routes_to_the_tenant(tenant: Tenant) -> None:
    connection.set_schema_to_public()
    assert Client(HTTP_HOST="shop.acme.localhost").get("/").status_code == 404
    out = io.StringIO()

    call_command("create_domain", "--tenant", "acme", "--domain", "Shop.Acme.Localhost.", stdout=out)

    added = Domain.objects.get(domain="shop.acme.localhost")
    assert added.tenant == tenant and not added.is_primary
    assert tenant.get_primary_domain().domain == "acme.localhost"
    assert "shop.acme.localhost routes to tenant 'acme' (alias)" in out.getvalue()
    assert Client(HTTP_HOST="shop.acme.localhost").get("/").status_code in (200, 302)


def test_create_domain_primary_moves_the_tenants_links(tenant: Tenant) -> None:
    call_command("create_domain", "--schema", "tenant_acme", "--domain-domain", "acme.example.com",
                 "--domain-is_primary", "true", stdout=io.StringIO())  # fmt: skip
    assert tenant.get_primary_domain().domain == "acme.example.com"
    assert Domain.objects.get(domain="acme.localhost").is_primary is False


def test_delete_domain_removes_an_alias_and_its_host_answers_404(tenant: Tenant) -> None:
    Domain.objects.create(domain="old.acme.localhost", tenant=tenant, is_primary=False)
    connection.set_schema_to_public()
    assert Client(HTTP_HOST="old.acme.localhost").get("/").status_code in (200, 302)

    call_command("delete_domain", "--tenant", "acme", "--domain", "old.acme.localhost", "--noinput",
                 stdout=io.StringIO())  # fmt: skip

    assert not Domain.objects.filter(domain="old.acme.localhost").exists()
    assert Client(HTTP_HOST="old.acme.localhost").get("/").status_code == 404


def test_delete_domain_removes_a_malformed_domain_stored_earlier(tenant: Tenant) -> None:
    Domain.objects.create(domain="Bad Domain!!", tenant=tenant, is_primary=False)
    call_command("delete_domain", "--domain", "Bad Domain!!", "--noinput", stdout=io.StringIO())
    assert not Domain.objects.filter(domain="Bad Domain!!").exists()


def test_delete_domain_refuses_the_primary_domain_another_tenants_and_an_unknown_one() -> None:
    before = state()
    primary = manage("delete_domain", "--domain", "acme.localhost", "--noinput")
    other = manage("delete_domain", "--tenant", "acme", "--domain", "globex.localhost", "--noinput")
    unknown = manage("delete_domain", "--domain", "nothing.localhost", "--noinput")
    assert_refused(primary, "primary domain of tenant 'acme'", "create_domain --primary", "drop_schema")
    assert_refused(other, "'globex.localhost'", "tenant 'acme'")
    assert_refused(unknown, "'nothing.localhost'")
    assert state() == before


def test_delete_domain_without_a_terminal_refuses_unless_noinput(victim: str) -> None:
    alias = f"alias-{uuid.uuid4().hex[:6]}.localhost"
    raw_sql("INSERT INTO public.tenancy_domain (domain, tenant_id, is_primary) "
            "SELECT %s, id, false FROM public.tenancy_tenant WHERE slug = %s", [alias, VICTIM])  # fmt: skip
    try:
        result = manage("delete_domain", "--tenant", VICTIM, "--domain", alias)
        assert_refused(result, alias, "--noinput")
        assert Domain.objects.filter(domain=alias).exists()
    finally:
        raw_sql("DELETE FROM public.tenancy_domain WHERE domain = %s", [alias])


# tenant_command: inspection commands inside one tenant's schema.


def test_tenant_command_showmigrations_reads_that_tenants_schema(victim: str) -> None:
    raw_sql(f"DELETE FROM {VICTIM_SCHEMA}.django_migrations WHERE app = 'products' AND name = '0001_initial'")
    try:
        in_victim = manage("tenant_command", "showmigrations", "products", "--tenant", VICTIM)
        in_acme = manage("tenant_command", "showmigrations", "products", "--schema", "tenant_acme")
    finally:
        raw_sql(f"INSERT INTO {VICTIM_SCHEMA}.django_migrations (app, name, applied) "
                "VALUES ('products', '0001_initial', now())")  # fmt: skip
    assert in_victim.returncode == 0, in_victim.stderr
    assert in_acme.returncode == 0, in_acme.stderr
    assert " [ ] 0001_initial" in in_victim.stdout
    assert " [X] 0001_initial" in in_acme.stdout


def test_tenant_command_sqlmigrate_prints_the_migrations_sql() -> None:
    result = manage("tenant_command", "sqlmigrate", "products", "0001", "--tenant", "acme")
    assert result.returncode == 0, result.stderr
    assert 'CREATE TABLE "products_category"' in result.stdout


def test_tenant_command_through_call_command_runs_in_the_tenant(victim: str) -> None:
    out = io.StringIO()
    call_command("tenant_command", "showmigrations", "products", tenant=VICTIM, stdout=out)
    assert " [X] 0001_initial" in out.getvalue()


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["showmigrations", "products"], "--tenant S"),
        (["showmigrations", "--tenant", "nope"], "'nope'"),
        (["showmigrations", "--schema", "tenant_nope"], "'tenant_nope'"),
        (["showmigrations", "--tenant", "acme", "--schema", "tenant_acme"], "exclude each other"),
        (["nosuchcommand", "--tenant", "acme"], "'nosuchcommand'"),
    ],
)
def test_tenant_command_refuses_without_prompting(argv: list[str], named: str) -> None:
    assert_refused(manage("tenant_command", *argv), named)


# The platform admin deletes no tenant: a plain delete would leave its schema behind.


@pytest.fixture
def platform_admin(db: None) -> Client:
    staff = User.objects.create_superuser(email="stock-ops@example.com", password="stock-ops-password")
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    return client


def orphan_schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%'")
        schemas = {row[0] for row in cursor.fetchall()}
    return schemas - set(Tenant.objects.values_list("schema_name", flat=True))


def test_platform_admin_offers_no_bulk_delete_and_ignores_one(platform_admin: Client, other_tenant: Tenant) -> None:
    listing = platform_admin.get("/admin/tenancy/tenant/")
    posted = platform_admin.post(
        "/admin/tenancy/tenant/",
        {"action": "delete_selected", "_selected_action": [str(other_tenant.pk)], "post": "yes"},
    )

    assert listing.status_code == 200
    assert b'value="delete_selected"' not in listing.content and b'value="suspend"' in listing.content
    assert posted.status_code in (200, 302)
    assert Tenant.objects.filter(pk=other_tenant.pk).exists() and schema_exists(other_tenant.schema_name)
    assert orphan_schemas() == set()


def test_platform_admin_delete_page_is_forbidden(platform_admin: Client, other_tenant: Tenant) -> None:
    page = platform_admin.get(f"/admin/tenancy/tenant/{other_tenant.pk}/delete/")
    posted = platform_admin.post(f"/admin/tenancy/tenant/{other_tenant.pk}/delete/", {"post": "yes"})
    change = platform_admin.get(f"/admin/tenancy/tenant/{other_tenant.pk}/change/")

    assert page.status_code == 403 and posted.status_code == 403
    assert f"/admin/tenancy/tenant/{other_tenant.pk}/delete/".encode() not in change.content
    assert Tenant.objects.filter(pk=other_tenant.pk).exists() and orphan_schemas() == set()


def test_platform_admin_refuses_a_malformed_domain_on_the_tenant_page(
    platform_admin: Client, other_tenant: Tenant
) -> None:
    [primary] = other_tenant.domains.all()
    response = platform_admin.post(
        f"/admin/tenancy/tenant/{other_tenant.pk}/change/",
        {
            "name": other_tenant.name,
            "domains-TOTAL_FORMS": "2", "domains-INITIAL_FORMS": "1",
            "domains-MIN_NUM_FORMS": "0", "domains-MAX_NUM_FORMS": "1000",
            "domains-0-id": str(primary.pk), "domains-0-tenant": str(other_tenant.pk),
            "domains-0-domain": primary.domain, "domains-0-is_primary": "on",
            "domains-1-id": "", "domains-1-tenant": str(other_tenant.pk), "domains-1-domain": "Bad Domain!!",
        },
    )  # fmt: skip

    assert response.status_code == 200
    assert b"is not a valid hostname" in response.content
    assert not Domain.objects.filter(domain__iexact="bad domain!!").exists()
