"""The fleet commands with good and bad input: exit codes, messages, nothing half-made."""

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_exists

from {{ cookiecutter.project_slug }}.accounts.models import Membership, User
from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.tenancy.models import Domain, Tenant

from conftest import manage_process, test_database_url

pytestmark = pytest.mark.django_db
PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT_PACKAGE = "{{ cookiecutter.project_slug }}"


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def fleet():
    return (
        sorted(Tenant.objects.values_list("slug", flat=True)),
        sorted(Domain.objects.values_list("domain", flat=True)),
        sorted(s for s in ("tenant_initech", "tenant_pg_x") if schema_exists(s)),
    )


def manage(*args):
    """Run manage.py in its own process on the test database (conftest.manage_process); return (exit code,
    stdout, stderr)."""
    result = manage_process(*args)
    return result.returncode, result.stdout, result.stderr


# Which of the project's packages provides each command that replaces or extends a stock one.
COMMAND_PACKAGES = {
    "migrate_schemas": "fleet", "migrate": "fleet", "shell": "tenancy", "seed_demo": "demo",
    **{name: "lifecycle" for name in ("create_tenant", "drop_schema", "list_tenants", "createsuperuser",
                                      "ensure_public_tenant", "tenant_status", "tenants_doctor", "backup_tenant",
                                      "restore_tenant")},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(COMMAND_PACKAGES))
def test_command_name_resolves_to_the_project_command(name):
    app = f"{PROJECT_PACKAGE}.{COMMAND_PACKAGES[name]}"
    assert get_commands()[name] == app
    # `migrate` is django-tenants' alias of migrate_schemas; here it is the project's migrate_schemas.
    module = "migrate_schemas" if name == "migrate" else name
    assert load_command_class(app, name).__module__ == f"{app}.management.commands.{module}"


@pytest.mark.parametrize(
    "name", ["create_tenant", "drop_schema", "list_tenants", "migrate_schemas", "seed_demo", "ensure_public_tenant",
             "createsuperuser", "tenant_status", "tenants_doctor", "backup_tenant", "restore_tenant", "plans",
             "subscription"],
)  # fmt: skip
@pytest.mark.parametrize("flag", ["--noinput", "--no-input"])
def test_commands_accept_both_spellings_of_noinput(name, flag):
    parser = load_command_class(get_commands()[name], name).create_parser("manage.py", name)
    required = {
        "drop_schema": ["--tenant", "acme"],
        "tenant_status": ["--tenant", "acme"],
        "backup_tenant": ["--tenant", "acme"],
        "restore_tenant": ["--input", "x.dump", "--slug", "acme-copy"],
        "subscription": ["--tenant", "acme"],
    }.get(name, [])
    assert parser.parse_known_args([flag, *required])[0].interactive is False


def test_create_tenant_creates_schema_domain_and_owner():
    output = run("create_tenant", "--name", "Initech", "--slug", "initech", "--owner-email", "boss@initech.example",
                 "--noinput")  # fmt: skip
    assert "tenant_initech" in output and "initech.localhost" in output
    tenant = Tenant.objects.get(slug="initech")
    assert schema_exists("tenant_initech")
    assert Membership.objects.get(tenant=tenant, user__email="boss@initech.example").role == "owner"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--slug", "public"], "'public'"),
        (["--slug", "Acme!"], "'Acme!'"),
        (["--slug", "pg_x"], "'pg_x'"),
        (["--slug", 'a";drop schema public;--'], "drop schema public"),
        (["--slug", "x" * 64], "x" * 64),
        (["--slug", "acme"], "'acme'"),
        (["--slug", "initech", "--domain", "acme.localhost"], "'acme.localhost'"),
        (["--slug", "initech", "--domain", "bad domain!"], "'bad domain!'"),
        (["--slug", "initech", "--domain", "intranet"], "'intranet' has no dot"),
        (["--slug", "tenant"], "'tenant' is reserved"),
        (["--slug", "initech", "--owner-email", "nobody"], "'nobody'"),
    ],
)
def test_create_tenant_bad_input_exits_2_naming_the_value_and_creates_nothing(args, named):
    before = fleet()
    with pytest.raises(CommandError) as excinfo:
        run("create_tenant", "--name", "Initech", *args, "--noinput")
    assert excinfo.value.returncode == 2
    assert named in str(excinfo.value)
    assert fleet() == before


def test_create_tenant_without_slug_and_without_terminal_exits_2():
    with pytest.raises(CommandError, match="--slug is required") as excinfo:
        run("create_tenant", "--name", "Initech", "--noinput")
    assert excinfo.value.returncode == 2


def test_drop_schema_refuses_public_unknown_and_unconfirmed():
    for args, message in [
        (["--tenant", "public", "--force"], "public schema"),
        (["--tenant", "nope", "--force"], "'nope'"),
        (["--tenant", "acme"], "without confirmation"),
        (["--tenant", "acme", "--force", "--no-backup", "--backup-output", "x.dump"], "exclude each other"),
    ]:
        with pytest.raises(CommandError, match=message) as excinfo:
            run("drop_schema", *args)
        assert excinfo.value.returncode == 2
    assert schema_exists("tenant_acme") and Tenant.objects.filter(slug="acme").exists()


def test_list_tenants_json_lists_slug_name_schema_domains_status_and_billing():
    rows = {row["slug"]: row for row in json.loads(run("list_tenants", "--format", "json"))}
    plan = Tenant.objects.get(slug="acme").subscription.plan.code
    path_mode = settings.TENANCY_ROUTING == "path"
    url = f"http://localhost/{settings.TENANCY_PATH_PREFIX}/acme/" if path_mode else "http://acme.localhost/"
    assert rows["acme"] == {
        "slug": "acme", "name": "Acme Corporation", "schema": "tenant_acme", "domains": ["acme.localhost"],
        "url": url, "status": "active", "plan": plan, "billing": "active", "access": "full",
    }  # fmt: skip
    assert "public" not in rows and "globex" in rows


def test_list_tenants_table_shows_each_tenant():
    output = run("list_tenants")
    assert "tenant_acme" in output and "globex.localhost" in output


def test_list_tenants_searches_slug_name_schema_and_domains_and_pages_in_slug_order():
    Domain.objects.create(domain="shop.example.com", tenant=Tenant.objects.get(slug="globex"), is_primary=False)
    slugs = [row["slug"] for row in json.loads(run("list_tenants", "--format", "json"))]
    assert len(slugs) >= 2 and slugs == sorted(slugs)

    def found(*args):
        return [row["slug"] for row in json.loads(run("list_tenants", "--format", "json", *args))]

    assert found("--search", "SHOP.example") == ["globex"]  # a domain that is not primary, any case
    assert found("--search", " globex\t") == ["globex"]  # as pasted, spaces around it
    assert found("--search", "Acme Corp") == ["acme"]  # the name
    assert found("--search", "tenant_acme") == ["acme"]  # the schema
    assert found("--search", "no-such-tenant") == []
    assert found("--limit", "1", "--offset", "1") == slugs[1:2]
    assert found("--limit", "0") == slugs
    table = run("list_tenants", "--limit", "1", "--offset", "1")
    assert f"2-2 of {len(slugs)} tenant(s)" in table and slugs[1] in table and f" {slugs[0]} " not in table
    assert f"none of {len(slugs)} tenant(s) after --offset 99" in run("list_tenants", "--offset", "99")


def test_list_tenants_sends_as_many_queries_for_every_tenant_as_for_one():
    connection.set_schema_to_public()
    run("list_tenants", "--format", "json", "--search", "acme")  # warms what is read once per process
    with CaptureQueriesContext(connection) as one:
        run("list_tenants", "--format", "json", "--search", "acme")
    with CaptureQueriesContext(connection) as every:
        listed = json.loads(run("list_tenants", "--format", "json"))
    assert len(listed) >= 2
    assert len(every.captured_queries) == len(one.captured_queries), every.captured_queries


@pytest.mark.parametrize(
    "args, message",
    [
        (["--limit", "-1"], "argument --limit: '-1' is not a whole number >= 0"),
        (["--offset", "x"], "argument --offset: 'x' is not a whole number >= 0"),
        (["--search", " "], "--search needs some text"),
        (["--spares", "--search", "acme"], "--spares lists every spare schema"),
    ],
)
def test_list_tenants_refuses_a_bad_page_or_search(args, message):
    """In-process, argparse's refusals are CommandErrors (exit 2 as a process: BAD_USAGE); the others exit 2."""
    with pytest.raises(CommandError, match=re.escape(message)) as excinfo:
        call_command("list_tenants", *args, stdout=io.StringIO(), stderr=io.StringIO())
    if not message.startswith("argument "):
        assert excinfo.value.returncode == 2


def test_migrate_schemas_parses_tenant_slug_only_when_written_with_equals():
    command = load_command_class(f"{PROJECT_PACKAGE}.fleet", "migrate_schemas")
    parser = command.create_parser("manage.py", "migrate_schemas")
    stock = parser.parse_args(["--tenant", "products", "0001"])
    assert (stock.tenant, stock.tenant_slug, stock.app_label, stock.migration_name) == (True, None, "products", "0001")
    one = parser.parse_args(["--tenant=acme"])
    assert (one.tenant, one.tenant_slug) == (False, "acme")


def test_migrate_schemas_list_shows_pending_migration_of_one_tenant_and_migrates_nothing():
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM tenant_acme.django_migrations WHERE app = 'products' AND name = '0001_initial'")
    output = run("migrate_schemas", "--tenant=acme", "--list")
    assert "tenant_acme" in output and "products.0001_initial" in output
    assert "tenant_globex" not in output
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM tenant_acme.django_migrations WHERE app = 'products' ORDER BY name")
        assert [name for (name,) in cursor.fetchall()] == ["0002_product_low_stock", "0003_product_image"]


def test_migrate_schemas_list_all_schemas_shows_nothing_pending():
    output = run("migrate_schemas", "--list")
    for schema in ("public", "tenant_acme", "tenant_globex"):
        assert schema in output
    assert "none" in output and ".0001_initial" not in output


def test_migrate_schemas_with_unknown_slug_exits_2():
    with pytest.raises(CommandError, match="'nope'") as excinfo:
        run("migrate_schemas", "--tenant=nope")
    assert excinfo.value.returncode == 2


def test_django_tenants_internal_call_still_migrates_one_schema():
    run("migrate_schemas", "--tenant=acme", "--verbosity", "0")
    call_command("migrate_schemas", tenant=True, schema_name="tenant_globex", interactive=False, verbosity=0)
    assert "none" in run("migrate_schemas", "--list", "--schema", "tenant_globex")


def test_createsuperuser_with_tenant_makes_an_owner_without_platform_rights(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-owner-password")
    run("createsuperuser", "--tenant", "globex", "--email", "Chief@Globex.example", "--noinput")
    user = User.objects.get(email="chief@globex.example")
    assert not user.is_staff and not user.is_superuser
    assert user.check_password("a-long-owner-password")
    assert Membership.objects.get(user=user, tenant__slug="globex").role == "owner"


def test_createsuperuser_without_tenant_makes_platform_staff(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-staff-password")
    run("createsuperuser", "--email", "ops@example.com", "--noinput")
    user = User.objects.get(email="ops@example.com")
    assert user.is_staff and user.is_superuser
    assert not user.memberships.exists()


def test_createsuperuser_with_unknown_tenant_exits_2():
    with pytest.raises(CommandError, match="'nope'") as excinfo:
        run("createsuperuser", "--tenant", "nope", "--email", "x@example.com", "--noinput")
    assert excinfo.value.returncode == 2


def test_shell_with_tenant_queries_that_tenants_schema(capsys):
    query = "print(sorted(Product.objects.values_list('sku', flat=True)))"
    code = f"from {{ cookiecutter.project_slug }}.products.models import Product; {query}"
    call_command("shell", "--tenant", "globex", "--command", code)
    assert "GLOBEX-HAMMOCK" in capsys.readouterr().out
    connection.set_schema_to_public()


def test_seed_demo_is_idempotent(tenant):
    products_before = Product.objects.count()
    out = run("seed_demo")
    run("seed_demo")
    connection.set_tenant(tenant)
    assert Product.objects.count() == products_before
    assert sorted(Tenant.objects.exclude(schema_name="public").values_list("slug", flat=True))[:2] == ["acme", "globex"]
    # One login for both demo tenants (the test database is seeded without it), each owner in its own only.
    roles = {
        (email, slug): role
        for email, slug, role in Membership.objects.filter(tenant__slug__in=["acme", "globex"]).values_list(
            "user__email", "tenant__slug", "role"
        )
    }
    assert roles[("member@demo.localhost", "acme")] == roles[("member@demo.localhost", "globex")] == "member"
    assert ("owner@acme.localhost", "globex") not in roles and ("owner@globex.localhost", "acme") not in roles
    assert "Member of both: member@demo.localhost / demo-member-password" in out


def test_acceptance_create_route_list_drop_as_separate_processes(client, tmp_path):
    code, out, err = manage("create_tenant", "--name", "Initech", "--slug", "initech", "--domain", "initech.localhost")
    assert code == 0, err
    try:
        assert client.get("/healthz").status_code == 200
        assert client.get("/accounts/login/", HTTP_HOST="initech.localhost").status_code == 200
        connection.set_schema_to_public()
        code, out, _ = manage("list_tenants", "--format", "json")
        assert code == 0 and "initech" in {row["slug"] for row in json.loads(out)}
    finally:
        code, out, err = manage("drop_schema", "--tenant", "initech", "--force", "--backup-output", str(tmp_path))
    assert code == 0, err
    [backup] = tmp_path.glob("*.dump")  # written before the drop, named <slug>-<UTC time>.dump
    assert (tmp_path / f"{backup.name}.sha256").is_file()
    assert backup.name.startswith("initech-") and backup.stat().st_size > 0 and str(backup) in out
    assert not schema_exists("tenant_initech")
    assert not Tenant.objects.filter(slug="initech").exists()
    assert not Domain.objects.filter(domain="initech.localhost").exists()


BAD_USAGE = [
    ["create_tenant", "--name", "X", "--slug", "acme"],
    ["drop_schema", "--tenant", "acme"],
    ["migrate_schemas", "--tenant=nope", "--list"],
    ["list_tenants", "--format", "yaml"],
    ["list_tenants", "--limit", "-1"],
]


def test_bad_usage_exits_2_as_a_process():
    """Each command in BAD_USAGE, in a process of its own (run side by side), exits 2 with a message."""
    env = {**os.environ, "DATABASE_URL": test_database_url(), "DJANGO_SETTINGS_MODULE": "config.settings.test"}

    def start(args):
        return subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip

    processes = [start(args) for args in BAD_USAGE]
    for args, process in zip(BAD_USAGE, processes, strict=True):
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 2, (args, err)
        assert err.strip(), args


def test_a_new_database_is_set_up_by_the_commands_make_dev_runs():
    """migrate_schemas on an empty database, then the public and demo tenants, in separate processes."""
    admin_url = test_database_url().rsplit("/", 1)[0] + "/postgres"
    name = f"{connection.settings_dict['NAME']}_fresh"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        env = {**os.environ, "DATABASE_URL": admin_url.rsplit("/", 1)[0] + f"/{name}",
               "DJANGO_SETTINGS_MODULE": "config.settings.test"}  # fmt: skip
        for args in (["migrate_schemas", "--noinput"], ["ensure_public_tenant"], ["seed_demo"],
                     ["migrate_schemas", "--check"]):  # fmt: skip
            result = subprocess.run(
                [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
                timeout=300,
            )  # fmt: skip
            assert result.returncode == 0, f"{args}: {result.stderr}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_one_tenant_rollback_and_forward_from_the_command_line():
    code, _out, err = manage("create_tenant", "--name", "Rollback", "--slug", "rollback-t")
    assert code == 0, err
    try:
        code, _out, err = manage("migrate_schemas", "--schema", "tenant_rollback_t", "bookings", "zero")
        assert code == 0, err
        assert not table_exists("tenant_rollback_t", "bookings_booking")
        code, out, err = manage("migrate_schemas", "--tenant")
        assert code == 0, err
        assert "1 migrated" in out
        assert table_exists("tenant_rollback_t", "bookings_booking")
        code, out, err = manage("migrate_schemas", "--tenant=rollback-t", "--fake", "--skip-checks")
        assert code == 0, err
    finally:
        manage("drop_schema", "--tenant", "rollback-t", "--force", "--no-backup")


def table_exists(schema, table):
    # The catalog with a fresh snapshot: to_regclass() may answer from this transaction's stale cache
    # after another process created the table.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            [schema, table],
        )
        return cursor.fetchone()[0] == 1
