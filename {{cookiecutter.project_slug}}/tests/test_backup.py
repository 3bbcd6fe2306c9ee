"""Backups of tenant schemas and their restore as new tenants, on committed schemas of their own.

The tenant `bk-src` (rows in every tenant app, an admin log entry, a deleted product so that its
sequence is ahead of the highest id) is created for this module and backed up once; pg_dump, pg_restore
and psql run in their own connections, so what they read must be committed. Every `bk-*` tenant is
dropped after the module. Run against both the machine's PostgreSQL and the embedded one (another major
version) to check that the binaries of the server's version are chosen.
"""

import datetime as dt
import hashlib
import io
import re
import subprocess
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_exists, tenant_context

from {{ cookiecutter.project_slug }}.accounts.models import Membership, User
from {{ cookiecutter.project_slug }}.accounts.services import user_delete
from {{ cookiecutter.project_slug }}.audit.models import AuditEvent
from {{ cookiecutter.project_slug }}.bookings.models import Booking
from {{ cookiecutter.project_slug }}.customers.models import Customer
from {{ cookiecutter.project_slug }}.fleet.verification import fleet_verify
from {{ cookiecutter.project_slug }}.lifecycle.backup import (
    BackupError,
    pg_binary,
    restore_script_check,
    tenant_backup,
    tenant_restore,
)
from {{ cookiecutter.project_slug }}.lifecycle.pgtools import server_version
from {{ cookiecutter.project_slug }}.lifecycle.provisioning import spare_pool_fill
from {{ cookiecutter.project_slug }}.lifecycle.services import tenant_create, tenant_drop
from {{ cookiecutter.project_slug }}.products.models import Category, Product
from {{ cookiecutter.project_slug }}.tenancy.models import Domain, Tenant

from config.devservices import postgres_bin_dir

OWNER = "owner@bk-src.example"


def sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def command(*args):
    """Run a management command in this process; return (exit code, stdout + error message)."""
    out = io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def checksums(schema):
    """{table: (row count, md5 of the text of its rows in order)} for every table of `schema`."""
    tables = sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE'",
        [schema],
    )
    return {
        table: sql(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
            f'FROM "{schema}"."{table}" t'
        )[0]
        for (table,) in tables
    }


def sequences(schema):
    """{sequence: (last_value, is_called)} for every sequence of `schema`."""
    names = sql(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'S'",
        [schema],
    )
    return {name: sql(f'SELECT last_value, is_called FROM "{schema}"."{name}"')[0] for (name,) in names}


def snapshot(schema):
    return checksums(schema), sequences(schema)


def fleet():
    """Tenants, domains and non-system schemas, as committed."""
    schemas = sql("SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' ORDER BY 1")
    return (
        sorted(Tenant.objects.values_list("slug", "schema_name", "status")),
        sorted(Domain.objects.values_list("domain", flat=True)),
        [name for (name,) in schemas],
    )


@pytest.fixture(scope="module")
def source(django_db_setup, django_db_blocker, tmp_path_factory):
    """The committed tenant bk-src with its data, and its backup file."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        tenant = tenant_create(name="Backup Source", slug="bk-src", owner_email=OWNER)
        owner = User.objects.get(email=OWNER)
        try:
            with tenant_context(tenant):
                rooms = Category.objects.create(name="Rooms")
                products = [
                    Product.objects.create(
                        name=f"Room {n}", sku=f"R-{n}", price=Decimal("10.25") * n, stock=n, category=rooms
                    )
                    for n in (1, 2, 3)
                ]
                products[2].delete()  # the sequence stays at 3, ahead of the highest id (2)
                guests = [Customer.objects.create(name=f"Guest {n}", email=f"guest{n}@example.com") for n in (1, 2)]
                start = dt.datetime(2030, 1, 7, 9, tzinfo=dt.UTC)
                Booking.objects.create(customer=guests[0], product=products[0], start=start,
                                       end=start + dt.timedelta(hours=2))  # fmt: skip
                LogEntry.objects.create(
                    user=owner, content_type=ContentType.objects.get(app_label="products", model="product"),
                    object_id=str(products[0].pk), object_repr=str(products[0]), action_flag=ADDITION,
                    change_message="[]",
                )  # fmt: skip
            connection.set_schema_to_public()
            dump = tenant_backup(slug="bk-src", output=tmp_path_factory.mktemp("source") / "bk-src.dump")
            yield SimpleNamespace(tenant=tenant, owner=owner, dump=dump)
        finally:
            connection.set_schema_to_public()
            for slug in Tenant.objects.filter(slug__startswith="bk-").values_list("slug", flat=True):
                tenant_drop(slug=slug)
            for user in User.objects.filter(email=OWNER):
                user_delete(user=user)  # a user row is never deleted: its tombstone stays
            spare_pool_fill()  # bk-src claimed a spare schema


@pytest.fixture
def committed(source, django_db_blocker):
    """Database access outside any test transaction, as the command-line tools see it."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        yield source
        connection.set_schema_to_public()


def fake_bin(folder, *, major, pg_dump_body):
    """A folder whose pg_dump reports PostgreSQL `major` and otherwise runs `pg_dump_body` (sh)."""
    folder.mkdir()
    script = folder / "pg_dump"
    version = f'if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) {major}.1"; exit 0; fi'
    script.write_text(f"#!/bin/sh\n{version}\n{pg_dump_body}\n")
    script.chmod(0o755)
    return folder


# --- binaries of the server's version --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("tool", ["pg_dump", "pg_restore", "psql"])
def test_tools_of_the_servers_major_version_are_chosen(tool):
    major, _ = server_version()
    path = pg_binary(tool)

    version = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    assert re.search(rf"\(PostgreSQL\) {major}\b", version), version
    embedded = postgres_bin_dir()
    if embedded is not None and (embedded / tool).exists():
        found = re.search(r"\(PostgreSQL\) (\d+)", subprocess.run([embedded / tool, "--version"],
                                                              capture_output=True, text=True).stdout)  # fmt: skip
        if found and int(found.group(1)) == major:
            assert path.parent == embedded  # the embedded server's own binaries come first
        else:
            assert path.parent != embedded


@pytest.mark.django_db
def test_tools_of_another_major_version_are_refused_naming_server_version_and_folder(settings, tmp_path):
    major, version = server_version()
    settings.TENANCY_PG_BIN_DIR = str(fake_bin(tmp_path / "bin", major=major + 1, pg_dump_body="exit 0"))

    with pytest.raises(BackupError) as excinfo:
        pg_binary("pg_dump")
    assert f"PostgreSQL {major}" in str(excinfo.value) and version in str(excinfo.value)
    assert str(tmp_path / "bin") in str(excinfo.value) and f"{major + 1}.1" in str(excinfo.value)
    code, message = command("backup_tenant", "--tenant", "acme", "--output", str(tmp_path / "acme.dump"))
    assert code == 1 and f"PostgreSQL {major}" in message
    assert not (tmp_path / "acme.dump").exists()


# --- backup_tenant ---------------------------------------------------------------------------------------


def test_backup_tenant_writes_the_default_file_with_its_checksum_and_prints_its_path(committed, settings, tmp_path):
    settings.TENANCY_BACKUP_DIR = str(tmp_path / "backups")

    code, out = command("backup_tenant", "--tenant", "bk-src")

    assert code == 0, out
    [dump, sums] = sorted((tmp_path / "backups").iterdir())
    assert re.fullmatch(r"bk-src-\d{8}T\d{6}Z\.dump", dump.name)
    assert out.strip() == str(dump)
    assert dump.read_bytes()[:5] == b"PGDMP" and dump.stat().st_mode & 0o777 == 0o600
    assert sums.name == dump.name + ".sha256" and sums.stat().st_mode & 0o777 == 0o600
    assert sums.read_text() == f"{hashlib.sha256(dump.read_bytes()).hexdigest()}  {dump.name}\n"
    check = subprocess.run(["sha256sum", "-c", sums.name], cwd=dump.parent, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.strip() == f"{dump.name}: OK", check
    code, message = command("backup_tenant", "--tenant", "bk-src", "--output", str(dump))
    assert code == 2 and str(dump) in message  # an existing file is never overwritten


def test_backup_tenant_refuses_an_output_whose_checksum_file_exists_and_writes_nothing(committed, tmp_path):
    stale = tmp_path / "bk-src.dump.sha256"
    stale.write_text("left from an earlier backup\n")

    code, message = command("backup_tenant", "--tenant", "bk-src", "--output", str(tmp_path / "bk-src.dump"))

    assert code == 2 and f"checksum file {stale} already exists" in message
    assert list(tmp_path.iterdir()) == [stale] and stale.read_text() == "left from an earlier backup\n"


@pytest.mark.django_db
@pytest.mark.parametrize(("slug", "named"), [("nope", "'nope'"), ("public", "'public'")])
def test_backup_tenant_refuses_unknown_and_public_tenants(slug, named, settings, tmp_path):
    settings.TENANCY_BACKUP_DIR = str(tmp_path)
    code, message = command("backup_tenant", "--tenant", slug)
    assert code == 2 and named in message
    assert list(tmp_path.iterdir()) == []


# --- restore ---------------------------------------------------------------------------------------------


def test_backup_restored_as_new_tenant_has_same_rows_and_sequences_while_original_exists(committed):
    original = snapshot("tenant_bk_src")
    original_oid = sql("SELECT oid FROM pg_namespace WHERE nspname = 'tenant_bk_src'")

    code, out = command("restore_tenant", "--input", str(committed.dump), "--slug", "bk-copy", "--domain",
                        "Copy.BK.localhost", "--name", "Backup Copy", "--owner-email", OWNER)  # fmt: skip

    assert code == 0, out
    copy = Tenant.objects.get(slug="bk-copy")
    assert (copy.schema_name, copy.name, copy.status) == ("tenant_bk_copy", "Backup Copy", "active")
    assert copy.get_primary_domain().domain == "copy.bk.localhost"
    assert Membership.objects.get(tenant=copy, user=committed.owner).role == "owner"
    restored = snapshot("tenant_bk_copy")
    assert restored == original
    assert restored[0]["products_product"][0] == 2 and restored[0]["django_admin_log"][0] == 1
    assert sequences("tenant_bk_copy")["products_product_id_seq"] == (3, True)
    # The original schema is the same schema with the same rows.
    assert snapshot("tenant_bk_src") == original
    assert sql("SELECT oid FROM pg_namespace WHERE nspname = 'tenant_bk_src'") == original_oid

    # The restored tenant routes and serves its rows to its owner.
    client = Client(HTTP_HOST="copy.bk.localhost")
    client.force_login(committed.owner)
    response = client.get("/products/")
    assert response.status_code == 200
    assert "Room 1" in response.text and "Room 2" in response.text and "Room 3" not in response.text
    connection.set_schema_to_public()
    with tenant_context(copy):
        # Ids continue after the sequence position of the backup; the admin log still refers to public users, by
        # id and without a foreign key, as in every tenant schema (bookings migration 0004).
        assert Product.objects.create(name="Room 4", sku="R-4", price=Decimal("1.00")).pk == 4
        entry = LogEntry.objects.create(
            user=committed.owner, object_repr="Room 4", action_flag=ADDITION, change_message=""
        )
        assert LogEntry.objects.select_related("user").get(pk=entry.pk).user == committed.owner
    assert sequences("tenant_bk_src")["products_product_id_seq"] == (3, True)
    user_keys = sql(
        "SELECT confrelid::regclass::text FROM pg_constraint WHERE contype = 'f' "
        "AND conrelid = 'tenant_bk_copy.django_admin_log'::regclass AND confrelid = 'public.accounts_user'::regclass"
    )
    assert user_keys == []


def test_drop_schema_leaves_a_backup_that_restore_tenant_brings_back(committed, settings, tmp_path):
    settings.TENANCY_BACKUP_DIR = str(tmp_path / "backups")
    seen = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    tenant = tenant_restore(input_path=committed.dump, slug="bk-drop", owner_email=OWNER)
    with tenant_context(tenant):
        Product.objects.create(name="Written after the source backup", sku="LATE", price=Decimal("2.00"))
    connection.set_schema_to_public()
    before = snapshot("tenant_bk_drop")

    code, out = command("drop_schema", "--tenant", "bk-drop", "--force")

    assert code == 0, out
    [dump] = (tmp_path / "backups").glob("*.dump")
    assert str(dump) in out and re.fullmatch(r"bk-drop-\d{8}T\d{6}Z\.dump", dump.name)
    assert sorted(path.name for path in (tmp_path / "backups").iterdir()) == [dump.name, dump.name + ".sha256"]
    assert not schema_exists("tenant_bk_drop") and not Tenant.objects.filter(slug="bk-drop").exists()

    code, out = command("restore_tenant", "--input", str(dump), "--slug", "bk-drop", "--domain", "bk-drop.localhost",
                        "--owner-email", OWNER)  # fmt: skip

    assert code == 0, out
    assert snapshot("tenant_bk_drop") == before
    # Audit log: each restore and the drop, with the backup file, in the transactions that changed the rows.
    recorded = AuditEvent.objects.filter(id__gt=seen, schema_name="tenant_bk_drop").order_by("id")
    assert [(e.action, e.origin, e.detail.get("archive") or e.detail.get("backup")) for e in recorded] == [
        ("tenant.restore", "", str(committed.dump)),
        ("tenant.drop", "cli:drop_schema", str(dump)),
        ("tenant.restore", "cli:restore_tenant", str(dump)),
    ]
    client = Client(HTTP_HOST="bk-drop.localhost")
    client.force_login(committed.owner)
    response = client.get("/products/")
    assert response.status_code == 200 and "Written after the source backup" in response.text


def test_drop_schema_without_backup_writes_nothing(committed, settings, tmp_path):
    settings.TENANCY_BACKUP_DIR = str(tmp_path / "backups")
    tenant_restore(input_path=committed.dump, slug="bk-nobackup")

    code, out = command("drop_schema", "--tenant", "bk-nobackup", "--force", "--no-backup")

    assert code == 0, out
    assert not (tmp_path / "backups").exists() and not schema_exists("tenant_bk_nobackup")


@pytest.mark.django_db
def test_drop_schema_drops_a_tenant_whose_schema_is_gone_without_a_backup(settings, tmp_path):
    settings.TENANCY_BACKUP_DIR = str(tmp_path)
    ghost = Tenant.objects.create(name="Ghost", slug="bk-ghost", schema_name="tenant_bk_ghost", status="active")
    Domain.objects.create(domain="bk-ghost.localhost", tenant=ghost, is_primary=True)

    code, out = command("drop_schema", "--tenant", "bk-ghost", "--force")

    assert code == 0, out
    assert "No backup: schema tenant_bk_ghost did not exist" in out and list(tmp_path.iterdir()) == []
    assert not Tenant.objects.filter(slug="bk-ghost").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "named"),
    [("pg_dump fails", "simulated pg_dump failure"), ("pg_dump writes nothing", "wrote no data"),
     ("folder cannot be made", "cannot create backup folder")],
)  # fmt: skip
def test_drop_schema_refuses_to_drop_when_the_backup_fails(case, named, settings, tmp_path):
    major, _ = server_version()
    settings.TENANCY_BACKUP_DIR = str(tmp_path / "backups")
    if case == "pg_dump fails":
        body = 'echo "pg_dump: error: simulated pg_dump failure" >&2; exit 1'
        settings.TENANCY_PG_BIN_DIR = str(fake_bin(tmp_path / "bin", major=major, pg_dump_body=body))
    elif case == "pg_dump writes nothing":
        settings.TENANCY_PG_BIN_DIR = str(fake_bin(tmp_path / "bin", major=major, pg_dump_body="exit 0"))
    else:
        (tmp_path / "a-file").write_text("")
        settings.TENANCY_BACKUP_DIR = str(tmp_path / "a-file" / "backups")

    code, message = command("drop_schema", "--tenant", "acme", "--force")

    assert code == 1
    assert named in message and "nothing was dropped" in message
    assert Tenant.objects.filter(slug="acme").exists() and Domain.objects.filter(domain="acme.localhost").exists()
    assert schema_exists("tenant_acme") and sql("SELECT count(*) FROM tenant_acme.products_product")[0][0] > 0
    assert not (tmp_path / "backups").exists() or list((tmp_path / "backups").iterdir()) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--slug", "acme"], "'acme'"),
        (["--slug", "bk-bad", "--domain", "acme.localhost"], "'acme.localhost'"),
        (["--slug", "Bad Slug!"], "'Bad Slug!'"),
        (["--slug", "bk-bad", "--name", ""], "name ''"),
        (["--slug", "bk-bad", "--owner-email", "nobody@bk.example"], "'nobody@bk.example'"),
        (["--slug", "bk-bad", "--input", "MISSING"], "missing.dump"),
        (["--slug", "bk-bad", "--input", "NOT-AN-ARCHIVE"], "not-an-archive.dump"),
    ],
)
def test_restore_tenant_refuses_bad_input_with_exit_2_and_creates_nothing(source, args, named, tmp_path):
    if "--input" in args:
        missing, text = tmp_path / "missing.dump", tmp_path / "not-an-archive.dump"
        text.write_text("SELECT 1;\n")
        args = [{"MISSING": str(missing), "NOT-AN-ARCHIVE": str(text)}.get(arg, arg) for arg in args]
    else:
        args = ["--input", str(source.dump), *args]
    before = fleet()

    code, message = command("restore_tenant", *args)

    assert code == 2, message
    assert named in message
    assert fleet() == before


def test_failure_inside_the_restore_transaction_changes_nothing(committed):
    sql("CREATE FUNCTION public.bk_refuse_domain() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'domain % refused by a test trigger', NEW.domain; END $$; "
        "CREATE TRIGGER bk_refuse_domain BEFORE INSERT ON public.tenancy_domain FOR EACH ROW "
        "WHEN (NEW.domain = 'bk-fail.localhost') EXECUTE FUNCTION public.bk_refuse_domain()")  # fmt: skip
    try:
        before, original = fleet(), snapshot("tenant_bk_src")
        oid = sql("SELECT oid FROM pg_namespace WHERE nspname = 'tenant_bk_src'")

        code, message = command("restore_tenant", "--input", str(committed.dump), "--slug", "bk-fail")

        assert code == 1
        assert "domain bk-fail.localhost refused by a test trigger" in message and "nothing was restored" in message
    finally:
        sql("DROP TRIGGER bk_refuse_domain ON public.tenancy_domain; DROP FUNCTION public.bk_refuse_domain()")
    # The tenant row was inserted, the schema renamed and the original parked and renamed back: all rolled back.
    assert fleet() == before
    assert snapshot("tenant_bk_src") == original
    assert sql("SELECT oid FROM pg_namespace WHERE nspname = 'tenant_bk_src'") == oid


def test_backup_behind_the_migrations_is_restored_then_migrated(committed, tmp_path):
    tenant_restore(input_path=committed.dump, slug="bk-old")
    call_command("migrate_schemas", "--schema", "tenant_bk_old", "bookings", "zero", verbosity=0)
    connection.set_schema_to_public()
    old = tenant_backup(slug="bk-old", output=tmp_path / "old.dump")

    tenant = tenant_restore(input_path=old, slug="bk-new")

    assert tenant.status == "active"
    assert sql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'tenant_bk_new' "
               "AND table_name = 'bookings_booking'") == [(1,)]  # fmt: skip
    assert fleet_verify(["tenant_bk_new"]) == {}  # the catalog stock django-tenants builds


# --- verified before anything is restored ----------------------------------------------------------------


def copy_with_checksum(dump, folder, data=None):
    """A copy of backup `dump` and its checksum file, same names, in the new `folder`; bytes `data` if given."""
    folder.mkdir()
    copy = folder / dump.name
    copy.write_bytes(dump.read_bytes() if data is None else data)
    (folder / f"{dump.name}.sha256").write_bytes((dump.parent / f"{dump.name}.sha256").read_bytes())
    return copy


def restore_refused(*args):
    """Run restore_tenant with `args`; return its message after checking that it exited 2 and changed nothing."""
    before, original = fleet(), snapshot("tenant_bk_src")
    code, message = command("restore_tenant", *args)
    assert code == 2, message
    assert fleet() == before and snapshot("tenant_bk_src") == original  # no tenant, domain or schema, not even staging
    return message


@pytest.mark.parametrize(
    "damage", ["8 bytes at 1/4", "8 bytes at 1/2", "8 bytes at 3/4", "8 bytes at 7/8", "truncated at 1/2"]
)
def test_archive_damaged_after_backup_is_refused_by_its_checksum_with_exit_2_and_nothing_created(
    committed, tmp_path, damage
):
    data = bytearray(committed.dump.read_bytes())
    numerator, denominator = int(damage[-3]), int(damage[-1])
    at = len(data) * numerator // denominator
    if damage.startswith("truncated"):
        del data[at:]
    else:
        data[at : at + 8] = bytes(byte ^ 0xFF for byte in data[at : at + 8])
    broken = copy_with_checksum(committed.dump, tmp_path / "copy", bytes(data))

    message = restore_refused("--input", str(broken), "--slug", "bk-broken")

    assert f"backup file {broken} does not match its checksum file {broken}.sha256" in message
    original = hashlib.sha256(committed.dump.read_bytes()).hexdigest()
    assert f"sha256 {hashlib.sha256(data).hexdigest()}, expected {original}" in message


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (f"{'0' * 64}  bk-src.dump\n", "expected 0000000000000000000000000000000000000000000000000000000000000000"),
        ("not a checksum\n", "holds 'not a checksum'; expected one line '<64 hex digits>  bk-src.dump'"),
    ],
)
def test_checksum_file_that_does_not_match_or_is_no_checksum_is_refused(committed, tmp_path, content, named):
    copy = copy_with_checksum(committed.dump, tmp_path / "copy")
    (tmp_path / "copy" / "bk-src.dump.sha256").write_text(content)

    message = restore_refused("--input", str(copy), "--slug", "bk-badsum")

    assert f"{copy}.sha256" in message and named in message


def test_archive_without_checksum_file_is_refused_unless_no_checksum_is_given(committed, tmp_path):
    copy = copy_with_checksum(committed.dump, tmp_path / "copy")
    (tmp_path / "copy" / "bk-src.dump.sha256").unlink()

    message = restore_refused("--input", str(copy), "--slug", "bk-nosum")
    assert f"backup file {copy} has no checksum file {copy}.sha256" in message and "--no-checksum" in message

    code, out = command("restore_tenant", "--input", str(copy), "--slug", "bk-nosum", "--no-checksum")
    assert code == 0, out
    assert Tenant.objects.get(slug="bk-nosum").status == "active"
    assert snapshot("tenant_bk_nosum") == snapshot("tenant_bk_src")


@pytest.mark.parametrize("cut", ["1/2", "3/4"])
def test_truncated_archive_restored_without_checksum_is_refused_by_pg_restore(committed, tmp_path, cut):
    data = committed.dump.read_bytes()
    broken = tmp_path / "truncated.dump"
    broken.write_bytes(data[: len(data) * int(cut[0]) // int(cut[-1])])

    message = restore_refused("--input", str(broken), "--slug", "bk-cut", "--no-checksum")

    assert f"backup file {broken} is damaged: pg_restore cannot" in message


def test_backup_of_a_schema_that_lost_its_primary_key_is_refused_by_the_catalog_comparison(committed, tmp_path):
    tenant_restore(input_path=committed.dump, slug="bk-nopk")
    sql("ALTER TABLE tenant_bk_nopk.django_admin_log DROP CONSTRAINT django_admin_log_pkey")
    dump = tenant_backup(slug="bk-nopk", output=tmp_path / "nopk.dump")  # a valid checksum: the schema was wrong

    message = restore_refused("--input", str(dump), "--slug", "bk-nopk-copy")

    assert f"backup file {dump} does not restore what its migrations build" in message
    assert "missing constraint django_admin_log.django_admin_log_pkey (expected 'PRIMARY KEY (id)')" in message
    assert "missing index django_admin_log_pkey" in message and "nothing was restored" in message


def test_archive_whose_primary_key_was_edited_into_unique_is_refused_by_the_catalog_comparison(committed, tmp_path):
    data = committed.dump.read_bytes()
    primary = b"ADD CONSTRAINT django_admin_log_pkey PRIMARY KEY (id);"
    unique = b"ADD CONSTRAINT django_admin_log_pkey UNIQUE (id);     "  # same length: the archive stays readable
    assert data.count(primary) == 1
    edited = tmp_path / "edited.dump"
    edited.write_bytes(data.replace(primary, unique))

    message = restore_refused("--input", str(edited), "--slug", "bk-edited", "--no-checksum")

    assert f"backup file {edited} does not restore what its migrations build" in message
    assert (
        "changed constraint django_admin_log.django_admin_log_pkey (expected 'PRIMARY KEY (id)', found 'UNIQUE (id)')"
        in message
    )


def test_backup_with_an_extra_index_is_restored_keeping_it(committed, tmp_path):
    tenant_restore(input_path=committed.dump, slug="bk-extra")
    sql("CREATE INDEX bk_extra_product_name ON tenant_bk_extra.products_product (name)")
    dump = tenant_backup(slug="bk-extra", output=tmp_path / "extra.dump")

    code, out = command("restore_tenant", "--input", str(dump), "--slug", "bk-extra-copy")

    assert code == 0, out
    assert Tenant.objects.get(slug="bk-extra-copy").status == "active"
    assert sql(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'tenant_bk_extra_copy' AND tablename = 'products_product' "
        "AND indexname = 'bk_extra_product_name'"
    ) == [("bk_extra_product_name",)]


def test_restore_script_check_refuses_transaction_control_and_psql_commands(tmp_path):
    script = tmp_path / "restore.sql"
    body = (
        "CREATE SCHEMA tenant_x;\n"
        "CREATE FUNCTION tenant_x.f() RETURNS trigger LANGUAGE plpgsql AS $_$\nBEGIN\n  RETURN NEW;\nEND\n$_$;\n"
        "COPY tenant_x.django_migrations (id, app, name, applied) FROM stdin;\n"
        "1\tproducts\t0001_initial\t2030-01-01 00:00:00+00\nCOMMIT;\n\\.\n"
    )
    script.write_text(body)
    assert restore_script_check(script, "tenant_x") == {("products", "0001_initial")}
    for line in ("COMMIT;", "BEGIN;", "\\connect other", "\\! rm -rf /"):
        script.write_text(body + line + "\n")
        with pytest.raises(BackupError, match="line 11"):
            restore_script_check(script, "tenant_x")
    script.write_text(body.replace("CREATE SCHEMA tenant_x;\n", ""))
    with pytest.raises(BackupError, match="does not create schema tenant_x"):
        restore_script_check(script, "tenant_x")
