"""tenants_doctor: each kind of damage is found, --fix repairs what it may and never drops a schema that is
not a tenant or spare schema, and a provisioning killed with SIGKILL at each of its steps leaves nothing or a
tenant in provisioning that `tenants_doctor --fix` completes."""

import contextlib
import io
import json
import os
import secrets
import signal
import time
import traceback

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import schema_exists

from {{ cookiecutter.project_slug }}.accounts.models import Membership, User
from {{ cookiecutter.project_slug }}.accounts.services import user_delete
from {{ cookiecutter.project_slug }}.fleet import verification
from {{ cookiecutter.project_slug }}.fleet.plan import plan_fleet
from {{ cookiecutter.project_slug }}.lifecycle import doctor as doctor_module
from {{ cookiecutter.project_slug }}.lifecycle.doctor import (
    DropRefused,
    fleet_diagnose,
    fleet_repair,
    schema_drop,
    schema_droppable,
)
from {{ cookiecutter.project_slug }}.lifecycle.pgtools import BackupError
from {{ cookiecutter.project_slug }}.lifecycle.provisioning import (
    LOCK_NAMESPACE,
    PROVISIONING_STEPS,
    provisioning_step,
    spare_pool_fill,
)
from {{ cookiecutter.project_slug }}.lifecycle.services import tenant_create, tenant_drop
from {{ cookiecutter.project_slug }}.tenancy.models import Domain, SpareSchema, Tenant

from conftest import test_database_url


def sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def doctor(*args):
    """Run tenants_doctor; return (exit code, stdout)."""
    out = io.StringIO()
    try:
        call_command("tenants_doctor", *args, stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def doctor_json(*args):
    code, output = doctor(*args, "--format", "json")
    return code, json.loads(output[: output.rindex("}") + 1])


def found(findings):
    """{(kind, schema or tenant)} of Finding objects or their JSON form."""
    as_dicts = [f if isinstance(f, dict) else f.as_dict() for f in findings]
    return {(f["kind"], f["schema"] or f["tenant"]) for f in as_dicts}


def spares():
    return list(SpareSchema.objects.order_by("id").values_list("schema_name", flat=True))


def tables(schema):
    return sorted(row[0] for row in sql("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                        [schema]))  # fmt: skip


def unrecord_last_shared_migration(schema):
    """Delete the django_migrations row of the accounts app's last migration (nothing depends on it): in a tenant
    or spare schema that app is shared, so applying it again only records it (a pending migration that --fix can
    apply)."""
    app, name = MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes("accounts")[0]
    sql(f'DELETE FROM "{schema}".django_migrations WHERE app = %s AND name = %s', [app, name])
    return f"{app}.{name}"


@contextlib.contextmanager
def lock_held_elsewhere(schema):
    """Another session holds the provisioning lock of `schema`, as a provisioning still running would."""
    with psycopg.connect(test_database_url(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, schema])
        yield


# --- diagnosis and repair inside the test transaction -------------------------------------


@pytest.mark.django_db
def test_a_healthy_fleet_has_no_findings_and_exits_0():
    assert fleet_diagnose() == []
    code, output = doctor()
    assert code == 0
    assert "No problems found" in output


@pytest.mark.django_db
def test_each_kind_of_damage_is_reported_by_name_and_exits_1():
    pool = spares()
    Tenant.objects.create(name="Ghost", slug="ghost", schema_name="tenant_ghost", status=Tenant.Status.SUSPENDED)
    Tenant.objects.create(name="Half", slug="half", schema_name="tenant_half", status=Tenant.Status.PROVISIONING)
    Tenant.objects.create(name="Busy", slug="busy", schema_name="tenant_busy", status=Tenant.Status.PROVISIONING)
    sql("CREATE SCHEMA tenant_leftover; CREATE SCHEMA spare_0123456789ab; CREATE SCHEMA other_app")
    SpareSchema.objects.create(schema_name="spare_gone00000000")
    unrecord_last_shared_migration(pool[0])
    migration = unrecord_last_shared_migration("tenant_globex")
    sql("ALTER TABLE tenant_acme.products_product DROP COLUMN stock")
    sql("ALTER TABLE tenant_acme.products_product ALTER COLUMN sku TYPE text")
    sql("CREATE TABLE tenant_acme.notes (id int)")

    with lock_held_elsewhere("tenant_busy"):
        code, report = doctor_json()
        table_code, table = doctor()

    assert (code, table_code) == (1, 1)
    assert found(report["findings"]) == {
        ("stale_provisioning", "tenant_half"),
        ("provisioning_in_progress", "tenant_busy"),
        ("tenant_without_schema", "tenant_ghost"),
        ("orphan_schema", "spare_0123456789ab"),
        ("orphan_schema", "tenant_leftover"),
        ("foreign_schema", "other_app"),
        ("spare_without_schema", "spare_gone00000000"),
        ("stale_spare", pool[0]),
        ("pending_migrations", "tenant_globex"),
        ("recorded_not_applied", "tenant_acme"),
    }
    by_kind = {f["kind"]: f for f in report["findings"]}
    assert by_kind["pending_migrations"]["data"] == {"pending": [migration]}
    drift = by_kind["recorded_not_applied"]["data"]
    assert drift["missing"] == [
        "column products_product.stock: integer NOT NULL",
        "constraint products_product.products_product_stock_check: CHECK ((stock >= 0))",
    ]
    assert drift["extra"] == ["column notes.id: integer NULL", "table notes: table"]
    assert drift["changed"] == ["column products_product.sku: character varying(32) NOT NULL -> text NOT NULL"]
    assert not by_kind["foreign_schema"]["problem"] and not by_kind["provisioning_in_progress"]["problem"]
    assert report["ok"] is False
    for name in ("tenant_half", "tenant_busy", "ghost", "tenant_leftover", "spare_0123456789ab", "other_app",
                 "spare_gone00000000", pool[0], "tenant_globex", "tenant_acme", "products_product.stock"):  # fmt: skip
        assert name in table
    assert "8 problem(s) remain" in table  # the two notes are not problems
    assert schema_exists("other_app") and Tenant.objects.get(slug="half").status == Tenant.Status.PROVISIONING


@pytest.mark.django_db
def test_a_staging_schema_left_by_a_killed_restore_is_dropped_unless_a_restore_holds_it():
    sql("CREATE SCHEMA restore_staging_0123456789abcdef; CREATE SCHEMA restore_staging_fedcba9876543210")
    findings = [f for f in fleet_diagnose() if f.kind == "orphan_schema"]
    assert {(f.schema, f.fixable) for f in findings} == {
        ("restore_staging_0123456789abcdef", True),
        ("restore_staging_fedcba9876543210", True),
    }
    assert all("restore_tenant that was killed" in f.detail for f in findings)

    with lock_held_elsewhere("restore_staging_fedcba9876543210"):  # a restore still running
        outcomes = {repair.finding.schema: repair.outcome for repair in fleet_repair(findings)}

    assert outcomes == {"restore_staging_0123456789abcdef": "fixed", "restore_staging_fedcba9876543210": "skipped"}
    assert not schema_exists("restore_staging_0123456789abcdef")
    assert schema_exists("restore_staging_fedcba9876543210")


@pytest.mark.django_db
def test_fix_repairs_the_fixable_damage_then_exits_0():
    pool = spares()
    Tenant.objects.create(name="Half", slug="half", schema_name="tenant_half", status=Tenant.Status.PROVISIONING)
    Domain.objects.create(domain="half.localhost", tenant=Tenant.objects.get(slug="half"), is_primary=True)
    sql("CREATE SCHEMA spare_0123456789ab")
    SpareSchema.objects.create(schema_name="spare_gone00000000")
    unrecord_last_shared_migration(pool[1])
    unrecord_last_shared_migration("tenant_globex")
    assert doctor()[0] == 1

    code, report = doctor_json("--fix")

    assert code == 0, report
    assert {(r["finding"]["kind"], r["outcome"]) for r in report["repairs"]} == {
        ("stale_provisioning", "fixed"),
        ("orphan_schema", "fixed"),
        ("spare_without_schema", "fixed"),
        ("stale_spare", "fixed"),
        ("pending_migrations", "fixed"),
    }
    assert report["remaining"] == [] and report["ok"] is True
    assert fleet_diagnose() == []
    half = Tenant.objects.get(slug="half")
    assert half.status == Tenant.Status.ACTIVE
    assert tables("tenant_half") == tables("tenant_acme")  # a complete schema (the claimed spare)
    assert not schema_exists("spare_0123456789ab")
    assert spares() == pool[1:]  # the gone spare unregistered, the first spare claimed for `half`
    assert plan_fleet([(pool[1], None), ("tenant_globex", "globex")]).pending == []
    code, output = doctor()
    assert code == 0 and "No problems found" in output


@pytest.mark.django_db
def test_fix_leaves_what_it_must_not_touch_and_exits_1():
    Tenant.objects.create(name="Ghost", slug="ghost", schema_name="tenant_ghost", status=Tenant.Status.ACTIVE)
    Tenant.objects.create(name="Busy", slug="busy", schema_name="tenant_busy", status=Tenant.Status.PROVISIONING)
    sql("CREATE SCHEMA other_app; CREATE TABLE other_app.keep (id int); INSERT INTO other_app.keep VALUES (1)")
    sql("CREATE SCHEMA tenant_leftover")  # not committed: a backup (another process) cannot see it
    sql("ALTER TABLE tenant_acme.products_product DROP COLUMN stock")

    with lock_held_elsewhere("tenant_busy"):
        code, report = doctor_json("--fix")

    assert code == 1
    assert found(report["remaining"]) == {
        ("provisioning_in_progress", "tenant_busy"),
        ("tenant_without_schema", "tenant_ghost"),
        ("orphan_schema", "tenant_leftover"),
        ("foreign_schema", "other_app"),
        ("recorded_not_applied", "tenant_acme"),
    }
    repairs = {r["finding"]["schema"]: (r["outcome"], r["message"]) for r in report["repairs"]}
    assert set(repairs) == {"tenant_leftover"}  # nothing else is fixable
    assert repairs["tenant_leftover"][0] == "refused" and "not dropped" in repairs["tenant_leftover"][1]
    assert sql("SELECT id FROM other_app.keep") == [(1,)]
    assert schema_exists("tenant_leftover")
    assert Tenant.objects.get(slug="busy").status == Tenant.Status.PROVISIONING
    ghost = next(f for f in report["remaining"] if f["kind"] == "tenant_without_schema")
    assert "restore_tenant" in ghost["hint"] and "drop_schema --tenant ghost" in ghost["hint"]


@pytest.mark.django_db
def test_repair_rechecks_and_leaves_what_changed_since_the_diagnosis():
    Tenant.objects.create(name="Half", slug="half", schema_name="tenant_half", status=Tenant.Status.PROVISIONING)
    sql("CREATE SCHEMA spare_0123456789ab; CREATE SCHEMA tenant_leftover")
    findings = fleet_diagnose()
    assert found(findings) == {
        ("stale_provisioning", "tenant_half"),
        ("orphan_schema", "spare_0123456789ab"),
        ("orphan_schema", "tenant_leftover"),
    }
    # Since the diagnosis: the spare was registered, a tenant took the schema, provisioning restarted.
    SpareSchema.objects.create(schema_name="spare_0123456789ab")
    Tenant.objects.create(name="Left", slug="leftover", schema_name="tenant_leftover", status=Tenant.Status.ACTIVE)

    with lock_held_elsewhere("tenant_half"):
        repairs = {repair.finding.schema: repair for repair in fleet_repair(findings)}

    assert {schema: repair.outcome for schema, repair in repairs.items()} == {
        "tenant_half": "skipped",
        "spare_0123456789ab": "skipped",
        "tenant_leftover": "skipped",
    }
    assert "provisioned by another session" in repairs["tenant_half"].message
    assert repairs["tenant_leftover"].message == "a tenant uses it now"
    assert schema_exists("spare_0123456789ab") and schema_exists("tenant_leftover")
    assert Tenant.objects.get(slug="half").status == Tenant.Status.PROVISIONING


@pytest.mark.django_db
def test_drift_is_measured_against_a_stock_built_reference_that_leaves_nothing_behind():
    SpareSchema.objects.all().delete()  # the spare schemas become orphans: no spare can serve as reference
    sql("ALTER TABLE tenant_globex.customers_customer DROP COLUMN email")
    sql("CREATE INDEX customers_extra_idx ON tenant_acme.customers_customer (name)")
    sql("ALTER TABLE public.tenancy_domain ALTER COLUMN domain TYPE varchar(300)")
    verification._REFERENCES.clear()  # built afresh here, so that what it leaves behind is checked

    findings = fleet_diagnose()

    drift = {f.schema: (f.kind, f.data) for f in findings if f.kind in ("schema_drift", "recorded_not_applied")}
    assert drift == {
        "tenant_globex": (
            "recorded_not_applied",
            {
                "missing": [
                    "column customers_customer.email: character varying(254) NOT NULL",
                    "index customers_customer_email_ci_unique: CREATE UNIQUE INDEX "
                    "customers_customer_email_ci_unique ON <schema>.customers_customer "
                    "USING btree (lower((email)::text))",
                ]
            },
        ),
        "tenant_acme": (
            "schema_drift",
            {
                "extra": [
                    "index customers_extra_idx: CREATE INDEX customers_extra_idx ON <schema>.customers_customer "
                    "USING btree (name)"
                ]
            },
        ),
        "public": (
            "schema_drift",
            {
                "changed": [
                    "column tenancy_domain.domain: character varying(253) NOT NULL -> character varying(300) NOT NULL"
                ]
            },
        ),
    }
    assert not sql("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'verify_reference_%%'")


NOT_OURS = ["public", "other_app", "pg_toast", "information_schema", "tenant", "spare", "tenants_x", "Tenant_x",
            "tenant_X", 'tenant_x"; DROP SCHEMA public; --', ""]  # fmt: skip


@pytest.mark.parametrize("name", NOT_OURS)
def test_schema_drop_refuses_every_schema_without_the_tenant_or_spare_prefix(name):
    assert not schema_droppable(name)
    with pytest.raises(DropRefused, match="refusing to drop schema"):
        schema_drop(name)


@pytest.mark.django_db
def test_schema_drop_drops_tenant_and_spare_schemas_only():
    sql("CREATE SCHEMA other_app; CREATE SCHEMA tenant_gone; CREATE SCHEMA spare_00ff")
    with pytest.raises(DropRefused):
        schema_drop("other_app")
    schema_drop("tenant_gone")
    schema_drop("spare_00ff")
    assert schema_exists("other_app") and not schema_exists("tenant_gone") and not schema_exists("spare_00ff")


# --- committed state: an orphan tenant schema and its backup ------------------------------


@pytest.fixture
def committed_orphan(django_db_setup, django_db_blocker):
    """A committed orphan schema `tenant_orphan_doc` holding a row; removed afterwards."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        sql("CREATE SCHEMA tenant_orphan_doc; CREATE TABLE tenant_orphan_doc.keep (id int); "
            "INSERT INTO tenant_orphan_doc.keep VALUES (7)")  # fmt: skip
        try:
            yield "tenant_orphan_doc"
        finally:
            connection.set_schema_to_public()
            sql("DROP SCHEMA IF EXISTS tenant_orphan_doc CASCADE")


def test_an_orphan_tenant_schema_is_not_dropped_when_its_backup_fails(committed_orphan, monkeypatch):
    def backup_fails(**kwargs):
        raise BackupError("pg_dump exited with 1")

    monkeypatch.setattr(doctor_module, "schema_backup", backup_fails)

    code, report = doctor_json("--fix")

    assert code == 1
    [repair] = report["repairs"]
    assert repair["outcome"] == "refused" and "backing it up" in repair["message"] and "failed" in repair["message"]
    assert sql("SELECT id FROM tenant_orphan_doc.keep") == [(7,)]


def test_an_orphan_tenant_schema_is_backed_up_then_dropped(committed_orphan, settings, tmp_path):
    settings.TENANCY_BACKUP_DIR = str(tmp_path)

    code, report = doctor_json("--fix")

    assert code == 0, report
    [repair] = report["repairs"]
    assert repair["outcome"] == "fixed"
    [dump] = list(tmp_path.glob("*.dump"))
    assert sorted(path.name for path in tmp_path.iterdir()) == [dump.name, f"{dump.name}.sha256"]
    assert dump.name.startswith("tenant_orphan_doc-") and dump.stat().st_size > 0 and str(dump) in repair["message"]
    assert not schema_exists(committed_orphan)


# --- a provisioning killed at each step -----------------------------------------------------

# From the pool, one statement claims, renames and inserts everything between these two steps.
WARM_PATH = ("claim_spare", "commit")
MIGRATIONS_PATH = ("claim_spare", "reserve", "grant_owner", "build_schema", "activate", "commit")
# After these steps of the migrations path the tenant row (provisioning), domain and membership are committed.
LEAVES_PROVISIONING = {"build_schema", "activate", "commit"}
KILL_CASES = [("warm", step) for step in WARM_PATH] + [("migrations", step) for step in MIGRATIONS_PATH]
_PARENT_CONNECTIONS: list[object] = []  # the forked child keeps the parent's connection object alive and never uses it


def test_the_kill_cases_cover_every_provisioning_step():
    assert set(WARM_PATH) | set(MIGRATIONS_PATH) == set(PROVISIONING_STEPS)


@contextlib.contextmanager
def pool_hidden():
    """Lock every spare row from another session: claims skip locked rows, so provisioning takes the
    migrations path while the pool itself stays as it is."""
    with psycopg.connect(test_database_url()) as other:
        other.execute(f"SELECT id FROM {SpareSchema._meta.db_table} FOR UPDATE")
        yield
        other.rollback()


def provision_killed_at(step, slug):
    """Fork; the child provisions `slug` and SIGKILLs itself on entering `step`. Returns once the child's
    database session is gone (its transaction rolled back, its locks released)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 3
        try:
            os.close(read_end)
            _PARENT_CONNECTIONS.append(connection.connection)  # neither closed nor garbage-collected here
            connection.connection = None
            connection.set_schema_to_public()
            os.write(write_end, str(sql("SELECT pg_backend_pid()")[0][0]).encode())
            os.close(write_end)

            def die(sender, **kwargs):
                if kwargs["step"] == step:
                    os.kill(os.getpid(), signal.SIGKILL)

            provisioning_step.connect(die, weak=False)
            tenant_create(name="Killed", slug=slug, owner_email=f"owner@{slug}.example")
            status = 0
        except BaseException:
            traceback.print_exc()
            status = 4
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        backend = pipe.read()
    _, wait_status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(wait_status) and os.WTERMSIG(wait_status) == signal.SIGKILL, (
        f"the child was not killed at step {step!r} (wait status {wait_status})"
    )
    deadline = time.monotonic() + 10
    while sql("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [int(backend)])[0][0]:
        assert time.monotonic() < deadline, "the killed child's database session did not end"
        time.sleep(0.005)


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Committed database access, starting with a full spare pool (tests before may have used spares)."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        spare_pool_fill()
        yield
        connection.set_schema_to_public()


def return_to_pool(slug):
    """Delete the tenant `slug` (domains and memberships cascade) and register its schema, a claimed spare
    that holds no data yet, as a spare again: the pool is back to its size without building a schema."""
    tenant = Tenant.objects.get(slug=slug)
    with transaction.atomic():
        tenant.delete()  # Tenant.auto_drop_schema is False: the schema stays
        spare = f"spare_{secrets.token_hex(6)}"
        sql(f'ALTER SCHEMA "{tenant.schema_name}" RENAME TO "{spare}"')
        SpareSchema.objects.create(schema_name=spare)


@pytest.mark.parametrize(("path", "step"), KILL_CASES)
def test_a_provisioning_killed_at_each_step_leaves_nothing_or_a_tenant_that_doctor_completes(committed, path, step):
    slug = f"killed-{path[0]}-{step.replace('_', '-')}"
    schema, domain, email = f"tenant_{slug.replace('-', '_')}", f"{slug}.localhost", f"owner@{slug}.example"
    pool = spares()
    assert fleet_diagnose() == [], "the fleet was damaged before this test"
    try:
        with pool_hidden() if path == "migrations" else contextlib.nullcontext():
            provision_killed_at(step, slug)

        tenant = Tenant.objects.filter(slug=slug).first()
        assert spares() == pool and all(schema_exists(name) for name in pool)
        assert not schema_exists(schema)  # a schema appears only with an active tenant
        if path == "migrations" and step in LEAVES_PROVISIONING:
            assert tenant is not None and tenant.status == Tenant.Status.PROVISIONING
            assert Domain.objects.get(domain=domain).tenant == tenant
            assert found(fleet_diagnose()) == {("stale_provisioning", schema)}
        else:
            assert tenant is None
            assert not Domain.objects.filter(domain=domain).exists()
            assert not User.objects.filter(email=email).exists()
            assert fleet_diagnose() == []

        code, output = doctor("--fix")

        assert code == 0, output
        assert fleet_diagnose() == []
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is not None:
            assert tenant.status == Tenant.Status.ACTIVE
            assert spares() == pool[1:]  # completed with the oldest spare
            assert plan_fleet([(schema, slug)]).pending == []
            assert tables(schema) == tables(pool[1])
            assert Membership.objects.get(tenant=tenant, user__email=email).role == "owner"
            return_to_pool(slug)
    finally:
        connection.set_schema_to_public()
        if Tenant.objects.filter(slug=slug).exists():
            tenant_drop(slug=slug)
        for user in User.objects.filter(email=email):
            user_delete(user=user)  # a user row is never deleted: its tombstone stays
        spare_pool_fill()
