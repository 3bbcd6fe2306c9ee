"""Instant provisioning from the spare-schema pool, the lifecycle of a tenant, and the create race."""

import io
import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_exists

from {{ cookiecutter.project_slug }}.accounts.models import Membership, User
from {{ cookiecutter.project_slug }}.audit.models import AuditEvent
from {{ cookiecutter.project_slug }}.errors import Conflict, InvalidValue, NotFound
from {{ cookiecutter.project_slug }}.fleet.plan import plan_fleet
from {{ cookiecutter.project_slug }}.fleet.verification import catalog_diff, catalog_read, fleet_verify, reference_catalogs
from {{ cookiecutter.project_slug }}.lifecycle.provisioning import provisioning_lock, provisioning_step, spare_pool_fill
from {{ cookiecutter.project_slug }}.lifecycle.schema_script import (
    schema_script_check,
    schema_script_current,
    schema_script_ensure,
    schema_script_replay,
    script_key,
)
from {{ cookiecutter.project_slug }}.lifecycle.services import (
    _migration_set,
    _provision_from_spare,
    tenant_create,
    tenant_drop,
    tenant_request_validate,
    tenant_status_set,
)
from {{ cookiecutter.project_slug }}.tenancy.domain import InvalidSlug
from {{ cookiecutter.project_slug }}.tenancy.models import Domain, SchemaScript, SpareSchema, Tenant


@pytest.fixture(scope="module", autouse=True)
def full_pool(django_db_setup, django_db_blocker):
    """Tests here start from a full pool, whatever earlier modules claimed (test settings refill nothing)."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        spare_pool_fill()


def sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def namespace_oid(schema):
    rows = sql("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema])
    return rows[0][0] if rows else None


def spares():
    return list(SpareSchema.objects.order_by("id").values_list("schema_name", flat=True))


def make_stale(schema):
    """What a deploy that adds a migration leaves: a spare one migration behind the code."""
    call_command("migrate_schemas", "--schema", schema, "bookings", "zero", verbosity=0)


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def steps_of(create):
    seen = []

    def record(sender, step, **kwargs):
        seen.append(step)

    provisioning_step.connect(record)
    try:
        create()
    finally:
        provisioning_step.disconnect(record)
    return seen


# --- the pool ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_provisioning_claims_the_oldest_spare_and_renames_it_without_migrating():
    pool = spares()
    assert len(pool) == 3
    oid = namespace_oid(pool[0])

    seen = steps_of(lambda: tenant_create(name="Initech", slug="initech", owner_email="boss@initech.example"))

    tenant = Tenant.objects.get(slug="initech")
    assert tenant.status == Tenant.Status.ACTIVE
    assert namespace_oid("tenant_initech") == oid  # the very schema, renamed
    assert not schema_exists(pool[0])
    assert spares() == pool[1:]
    assert seen == ["claim_spare", "commit"]  # one statement in between
    assert Domain.objects.get(tenant=tenant).domain == "initech.localhost"
    assert Membership.objects.get(tenant=tenant, user__email="boss@initech.example").role == "owner"


def written_by(slug):
    """What provisioning wrote for `slug`, without ids, names and times: tenant, domain, subscription,
    memberships and audit events."""
    tenant = Tenant.objects.get(slug=slug)
    subscription = tenant.subscription
    trial = round((subscription.trial_end - subscription.created).total_seconds()) if subscription.trial_end else None
    events = AuditEvent.objects.filter(tenant_id=tenant.pk).order_by("id")
    return {
        "tenant": (tenant.status, tenant.billing_status, tenant.billing_trial_end == subscription.trial_end),
        "domains": [(d.domain.replace(slug, "S"), d.is_primary) for d in tenant.domains.all()],
        "subscription": (subscription.plan.code, subscription.status, subscription.interval, subscription.provider,
                         subscription.cancel_at_period_end, subscription.stripe_state_at, trial,
                         subscription.current_period_end == subscription.trial_end),
        "members": [(m.user.email, m.role, m.user.has_usable_password()) for m in tenant.memberships.all()],
        "audit": [(e.action, e.origin, e.actor_email, e.schema_name.replace(slug, "S"), e.target.replace(slug, "S"),
                   {k: v.replace(slug, "S") if isinstance(v, str) else v for k, v in e.detail.items()})
                  for e in events],
    }  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("plan", [None, "starter"])
def test_the_one_statement_path_writes_what_the_orm_path_writes(plan):
    # The ORM path is what provisioning takes when something is unusual; both claim a spare from the pool.
    User.objects.create_user(email="boss@owner.example")  # an existing owner
    fast = steps_of(lambda: tenant_create(name="Initech", slug="initech", owner_email="boss@owner.example",
                                          plan=plan))  # fmt: skip
    request = tenant_request_validate(name="Initech", slug="umbrella", owner_email="boss@owner.example", plan=plan)
    with provisioning_lock(request.schema_name):
        assert _provision_from_spare(request) is not None

    assert fast == ["claim_spare", "commit"]
    ours, orm = written_by("initech"), written_by("umbrella")
    ours["audit"] = [(*event[:5], {**event[5], "spare_schema": None}) for event in ours["audit"]]
    orm["audit"] = [(*event[:5], {**event[5], "spare_schema": None}) for event in orm["audit"]]
    assert ours == orm
    assert [event[0] for event in ours["audit"]] == ["membership.grant", "tenant.create"]
    assert ours["members"] == [("boss@owner.example", "owner", False)]
    assert User.objects.filter(email="boss@owner.example").count() == 1
    created = AuditEvent.objects.get(action="tenant.create", tenant_id=Tenant.objects.get(slug="initech").pk)
    assert created.detail["spare_schema"]


@pytest.mark.django_db
def test_a_new_owner_gets_an_unusable_password_and_the_routing_version_moves():
    version = sql("SELECT version FROM tenancy_routingversion WHERE id = 1")

    tenant = tenant_create(name="Initech", slug="initech", owner_email="new@initech.example")

    owner = User.objects.get(email="new@initech.example")
    assert not owner.has_usable_password() and owner.is_active and not owner.is_staff
    assert sql("SELECT version FROM tenancy_routingversion WHERE id = 1") > version
    assert tenant.pk == Tenant.objects.get(slug="initech").pk and not tenant._state.adding


@pytest.mark.django_db
def test_provisioning_from_the_pool_is_one_statement_without_a_search_path():
    with connection.cursor() as cursor:
        cursor.execute("SET search_path = pg_catalog")  # whatever the session had; django-tenants does not know it
    connection.set_schema_to_public()  # django-tenants would send its SET search_path before the next query
    with CaptureQueriesContext(connection) as queries:
        tenant_create(name="Initech", slug="initech", owner_email="boss@initech.example")

    sent = [query["sql"] for query in queries]
    calls = [n for n, statement in enumerate(sent) if "lifecycle_tenant_provision(" in statement]
    # Before it only the savepoint of the test's own transaction: the function runs with a search path of its own.
    assert len(calls) == 1 and sent[calls[0]].startswith('SELECT "public".lifecycle_tenant_provision('), sent
    assert all(statement.startswith("SAVEPOINT") for statement in sent[: calls[0]]), sent
    assert all(statement.startswith(("SET search_path", "RELEASE")) for statement in sent[calls[0] + 1 :]), sent
    # What runs next on the connection is in the public schema again.
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        assert cursor.fetchone()[0] == "public"
    assert Tenant.objects.get(slug="initech").status == Tenant.Status.ACTIVE


@pytest.mark.django_db
def test_a_spare_made_stale_after_its_migration_summary_was_found_current_is_not_claimed():
    pool = spares()
    tenant_create(name="Initech", slug="initech")
    # This process now knows the summary (fleet/state.py) of a current spare: equal ones are not read again.
    assert _migration_set().known_current
    make_stale(pool[1])

    tenant_create(name="Umbrella", slug="umbrella")

    assert spares() == [pool[1]]  # the stale one stays; the next current one was claimed
    assert not schema_exists(pool[2])
    assert sql("SELECT count(*) FROM tenant_umbrella.django_migrations WHERE app = 'bookings'") == [(4,)]


@pytest.mark.django_db
def test_a_registered_spare_without_its_schema_is_skipped_not_claimed():
    pool = spares()
    sql(f'DROP SCHEMA "{pool[0]}" CASCADE')

    tenant_create(name="Initech", slug="initech")

    assert spares() == [pool[0], pool[2]]
    assert not schema_exists(pool[1]) and schema_exists("tenant_initech")


# --- the schema script (an empty pool) ------------------------------------------------------------


@pytest.mark.django_db
def test_a_schema_built_from_the_script_has_the_catalog_stock_migrations_build():
    assert schema_script_ensure()

    schema_script_replay(schema_script_current(), "tenant_scripted")

    catalog = catalog_read(["tenant_scripted"], data=True)["tenant_scripted"]
    assert catalog_diff("tenant_scripted", reference_catalogs(data=True)["tenant"], catalog) == []
    assert any(key.startswith("index ") for key in catalog) and any(
        key.startswith("row django_migrations") for key in catalog
    )


@pytest.mark.django_db
def test_a_script_missing_an_index_is_caught_and_never_stored():
    assert schema_script_ensure()
    script = schema_script_current()
    [index] = [line for line in script.splitlines() if line.startswith("CREATE INDEX")][:1]
    sabotaged = script.replace(index + "\n", "")
    spare = spares()[0]

    differences = schema_script_check(sabotaged, spare)

    assert [(d.change, d.object.split()[0]) for d in differences] == [("missing", "index")]
    assert schema_script_check(script, spare) == []
    schema_script_replay(sabotaged, "tenant_sabotaged")
    assert fleet_verify(["tenant_sabotaged"]) != {}  # stock's catalog catches it too


@pytest.mark.django_db
def test_the_script_follows_the_migrations_on_disk():
    assert schema_script_ensure()
    SchemaScript.objects.update(key="0" * 64)  # what a deploy that changes migrations leaves
    stored = SchemaScript.objects.get().pk

    assert schema_script_current() is None  # schemas are built by migrations until the next capture
    assert schema_script_ensure() and schema_script_current() is not None
    assert list(SchemaScript.objects.values_list("pk", "key")) == [(stored, script_key())]  # replaced in place


@pytest.mark.django_db
def test_with_an_empty_pool_the_schema_comes_from_the_script_in_one_statement():
    assert schema_script_ensure()
    SpareSchema.objects.all().delete()

    with CaptureQueriesContext(connection) as queries:
        tenant_create(name="Initech", slug="initech")

    replays = [query["sql"] for query in queries if query["sql"].startswith('CREATE SCHEMA "tenant_initech";')]
    assert len(replays) == 1
    assert fleet_verify(["tenant_initech"]) == {}
    fleet = plan_fleet([("tenant_initech", "initech")])
    # The script's rows come before its trigger: the summary is computed after the replay (fleet/state.py).
    assert fleet.pending == [] and fleet.read_directly == ()


@pytest.mark.django_db
def test_a_stale_spare_is_never_claimed():
    pool = spares()
    make_stale(pool[0])

    tenant_create(name="Initech", slug="initech")

    assert spares() == [pool[0], pool[2]]  # the stale one stays; the next current one was claimed
    assert not schema_exists(pool[1])
    assert sql("SELECT count(*) FROM tenant_initech.django_migrations WHERE app = 'bookings'") == [(4,)]


@pytest.mark.django_db
def test_with_only_stale_spares_provisioning_runs_the_migrations():
    pool = spares()
    for schema in pool:
        make_stale(schema)

    seen = steps_of(lambda: tenant_create(name="Initech", slug="initech"))

    assert seen == ["claim_spare", "reserve", "build_schema", "activate", "commit"]
    assert spares() == pool
    assert Tenant.objects.get(slug="initech").status == Tenant.Status.ACTIVE
    assert sql("SELECT to_regclass('tenant_initech.bookings_booking') IS NOT NULL") == [(True,)]
    assert fleet_verify(["tenant_initech"]) == {}  # the catalog stock django-tenants builds


@pytest.mark.django_db
def test_with_an_empty_pool_provisioning_runs_the_migrations():
    SpareSchema.objects.all().delete()

    tenant = tenant_create(name="Initech", slug="initech")

    assert tenant.status == Tenant.Status.ACTIVE
    assert sql("SELECT count(*) > 0 FROM tenant_initech.django_migrations") == [(True,)]
    assert fleet_verify(["tenant_initech"]) == {}  # the catalog stock django-tenants builds
    assert plan_fleet([("tenant_initech", "initech")]).read_directly == ()  # summarised from its first row


@pytest.mark.django_db
def test_a_failure_while_migrating_removes_the_reserved_tenant(monkeypatch):
    SpareSchema.objects.all().delete()

    def fail(*args, **kwargs):
        raise RuntimeError("migration exploded")

    monkeypatch.setattr("{{ cookiecutter.project_slug }}.lifecycle.services.schema_build", fail)
    with pytest.raises(RuntimeError, match="exploded"):
        tenant_create(name="Initech", slug="initech", owner_email="boss@initech.example")
    assert not Tenant.objects.filter(slug="initech").exists()
    assert not Domain.objects.filter(domain="initech.localhost").exists()
    assert not schema_exists("tenant_initech")


@pytest.mark.django_db
def test_refill_tops_the_pool_up_to_the_setting(settings):
    tenant_create(name="Initech", slug="initech")
    assert len(spares()) == 2

    assert spare_pool_fill() == 1
    assert spare_pool_fill() == 0
    settings.TENANCY_SPARE_SCHEMAS = 4
    assert spare_pool_fill() == 1
    created = spares()[-1]
    assert created.startswith("spare_")
    assert sql(f'SELECT count(*) > 0 FROM "{created}".django_migrations') == [(True,)]
    assert fleet_verify([created]) == {}  # the catalog stock django-tenants builds


def test_refill_runs_in_a_background_thread_after_the_commit(settings, django_db_blocker, monkeypatch):
    settings.TENANCY_SPARE_REFILL = "thread"
    monkeypatch.setattr("{{ cookiecutter.project_slug }}.lifecycle.provisioning.REFILL_DELAY_SECONDS", 0.1)
    with django_db_blocker.unblock():
        before = spares()
        try:
            tenant_create(name="Refill", slug="refill")
            refills = [thread for thread in threading.enumerate() if thread.name == "spare-pool-refill"]
            assert len(refills) == 1
            refills[0].join(timeout=60)
            after = spares()
            assert before[0] not in after  # claimed
            assert len(after) == settings.TENANCY_SPARE_SCHEMAS
            assert set(before[1:]) <= set(after)
        finally:
            connection.set_schema_to_public()
            if Tenant.objects.filter(slug="refill").exists():
                tenant_drop(slug="refill")


@pytest.mark.django_db
def test_migrate_schemas_migrates_a_stale_spare_and_lists_it():
    stale = spares()[0]
    make_stale(stale)
    listed = run("list_tenants", "--spares", "--format", "json")
    assert f'"schema": "{stale}"' in listed and '"state": "stale"' in listed

    output = run("migrate_schemas", "--tenant")

    assert "1 to migrate" in output
    assert '"state": "stale"' not in run("list_tenants", "--spares", "--format", "json")


@pytest.mark.django_db
def test_spares_are_never_routable(client):
    for schema in spares():
        assert client.get("/", HTTP_HOST=f"{schema}.localhost").status_code == 404
        assert client.get("/", HTTP_HOST=schema).status_code == 404


# --- create_tenant --dry-run -------------------------------------------------------------------


@pytest.mark.django_db
def test_dry_run_prints_what_it_would_create_and_changes_nothing():
    before = (spares(), list(Tenant.objects.values_list("slug", flat=True)), User.objects.count())

    output = run("create_tenant", "--name", "Initech", "--slug", "initech", "--owner-email", "Boss@Initech.example",
                 "--dry-run")  # fmt: skip

    assert "Would create tenant 'initech' (Initech)" in output
    assert f"claim spare schema {spares()[0]}" in output
    assert "tenant_initech" in output and "initech.localhost" in output
    assert "boss@initech.example (new user" in output
    assert (spares(), list(Tenant.objects.values_list("slug", flat=True)), User.objects.count()) == before
    assert not schema_exists("tenant_initech")


@pytest.mark.django_db
def test_dry_run_rejects_a_taken_slug_with_exit_2():
    with pytest.raises(CommandError, match="'acme' is taken") as excinfo:
        run("create_tenant", "--name", "Acme", "--slug", "acme", "--dry-run")
    assert excinfo.value.returncode == 2


# --- lifecycle ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "code", "text"),
    [
        ("provisioning", 503, "Setting up {name}"),
        ("suspended", 403, "{name} is suspended"),
        ("archived", 404, "Not found"),
    ],
)
def test_a_tenant_that_is_not_active_does_not_serve_its_apps(client_for, tenant, owner_user, status, code, text):
    Tenant.objects.filter(pk=tenant.pk).update(status=status)
    client = client_for(tenant, owner_user)

    for path in ("/", "/products/", "/accounts/login/", "/admin/"):
        response = client.get(path)
        assert response.status_code == code, path
        assert text.format(name=tenant.name) in response.content.decode()
    if status == "provisioning":
        assert response["Retry-After"] == "5"


@pytest.mark.django_db
def test_an_active_tenant_serves_its_apps(client_for, tenant, owner_user):
    response = client_for(tenant, owner_user).get("/products/")
    assert response.status_code == 200


@pytest.mark.django_db
def test_status_changes_follow_the_lifecycle(client_for, tenant, owner_user):
    assert tenant_status_set(slug="acme", status="suspended")[1] == "active"
    assert client_for(tenant, owner_user).get("/").status_code == 403
    assert tenant_status_set(slug="acme", status="archived")[1] == "suspended"
    with pytest.raises(Conflict, match="archived; it can become active"):
        tenant_status_set(slug="acme", status="suspended")
    tenant_status_set(slug="acme", status="active")
    assert client_for(tenant, owner_user).get("/").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("slug", "status", "error", "match"),
    [
        ("acme", "deleted", InvalidValue, "'deleted' is not accepted; accepted: active, suspended, archived"),
        ("acme", "provisioning", InvalidValue, "'provisioning' is not accepted"),
        ("nope", "active", NotFound, "'nope'"),
        ("public", "suspended", InvalidSlug, "public schema"),
    ],
)
def test_bad_status_changes_are_refused(slug, status, error, match):
    with pytest.raises(error, match=match):
        tenant_status_set(slug=slug, status=status)
    assert set(Tenant.objects.values_list("status", flat=True)) == {"active"}


@pytest.mark.django_db
def test_a_provisioning_tenant_is_completed_by_the_doctor_not_by_status_changes():
    Tenant.objects.filter(slug="acme").update(status="provisioning")
    with pytest.raises(Conflict, match="tenants_doctor --fix"):
        tenant_status_set(slug="acme", status="active")


@pytest.mark.django_db
def test_tenant_status_command_shows_and_changes_status_with_exit_codes():
    assert run("tenant_status", "--tenant", "acme") == "acme: active\n"
    assert "acme: active -> suspended" in run("tenant_status", "--tenant", "acme", "--set", "suspended")
    assert "already suspended" in run("tenant_status", "--tenant", "acme", "--set", "suspended")
    for args, match in [
        (["--tenant", "acme", "--set", "gone"], "'gone' is not accepted"),
        (["--tenant", "nope"], "no tenant with slug 'nope'"),
        (["--tenant", "public", "--set", "archived"], "public schema"),
    ]:
        with pytest.raises(CommandError, match=match) as excinfo:
            run("tenant_status", *args)
        assert excinfo.value.returncode == 2
    assert Tenant.objects.get(slug="acme").status == "suspended"


# --- platform admin ----------------------------------------------------------------------------


@pytest.fixture
def platform_admin(db):
    staff = User.objects.create_superuser(email="ops@example.com", password="ops-password")
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    return client


@pytest.mark.django_db
def test_platform_admin_creates_a_tenant_through_the_provisioning_service(platform_admin):
    pool = spares()
    response = platform_admin.post(
        "/admin/tenancy/tenant/add/",
        {"name": "Initech", "slug": "initech", "domain": "", "owner_email": "boss@initech.example"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant = Tenant.objects.get(slug="initech")
    assert tenant.status == "active" and tenant.schema_name == "tenant_initech"
    assert spares() == pool[1:]  # claimed from the pool, like create_tenant
    assert Membership.objects.get(tenant=tenant).user.email == "boss@initech.example"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"slug": "acme"}, "slug &#x27;acme&#x27; is taken"),
        ({"slug": "admin"}, "reserved"),
        ({"domain": "globex.localhost"}, "already routes to tenant &#x27;globex&#x27;"),
    ],
)
def test_platform_admin_shows_the_services_errors_and_creates_nothing(platform_admin, data, message):
    before = Tenant.objects.count()
    response = platform_admin.post(
        "/admin/tenancy/tenant/add/", {"name": "Initech", "slug": "initech", "domain": "", "owner_email": "", **data}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Tenant.objects.count() == before


@pytest.mark.django_db
def test_platform_admin_suspends_and_activates_through_the_service(platform_admin, tenant):
    for action, status in (("suspend", "suspended"), ("activate", "active")):
        response = platform_admin.post(
            "/admin/tenancy/tenant/", {"action": action, "_selected_action": [str(tenant.pk)]}
        )
        assert response.status_code == 302
        assert Tenant.objects.get(pk=tenant.pk).status == status


# --- the race ----------------------------------------------------------------------------------


def _recycle(slug):
    """Turn a committed race winner back into a spare: the test then needs no new migrated schema."""
    schema = Tenant.objects.get(slug=slug).schema_name
    spare = f"spare_race{slug[-2:]}"
    sql(f'ALTER SCHEMA "{schema}" RENAME TO "{spare}"')
    Tenant.objects.filter(slug=slug).delete()
    SpareSchema.objects.create(schema_name=spare)


def test_two_concurrent_creates_of_one_slug_one_wins_the_other_exits_2(django_db_blocker):
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        pool_before = len(spares())
        for round_number in range(20):
            slug = f"race-{round_number:02d}"
            barrier = threading.Barrier(2)
            outcomes: list[Any] = []

            def create(slug=slug, barrier=barrier, outcomes=outcomes):
                try:
                    barrier.wait(timeout=30)
                    call_command("create_tenant", "--name", "Race", "--slug", slug, "--noinput",
                                 stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
                    outcomes.append("created")
                except CommandError as exc:
                    outcomes.append((exc.returncode, str(exc)))
                finally:
                    connections.close_all()

            threads = [threading.Thread(target=create) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)

            assert sorted(outcomes, key=str).count("created") == 1, outcomes
            (code, message) = next(outcome for outcome in outcomes if outcome != "created")
            assert code == 2 and f"'{slug}'" in message
            tenant = Tenant.objects.get(slug=slug)
            assert tenant.status == "active" and Domain.objects.filter(tenant=tenant).count() == 1
            schema = tenant.schema_name
            assert sql("SELECT count(*) FROM pg_namespace WHERE nspname LIKE %s", [schema]) == [(1,)]
            assert len(spares()) == pool_before - 1  # the loser's spare went back to the pool
            registered = set(spares())
            leftovers = sql("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'spare%%'")
            assert {row[0] for row in leftovers} == registered  # no unregistered spare schema
            _recycle(slug)
        assert len(spares()) == pool_before
