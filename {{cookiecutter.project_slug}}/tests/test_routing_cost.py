"""What routing costs and what it leaves behind: statements per request, the per-process directory and its
invalidation, the connection state after a request, connection recycling, and the pooler system check.

Statements are counted on the wire, as psycopg sends them (the template's `make benchmark-routing` counts
them at the server, side by side with stock django-tenants). Timing belongs to the template's benchmarks, not here.
"""

import contextlib

import psycopg
import pytest
from django.core.checks import run_checks
from django.db import connection, connections
from django.test import Client

from {{ cookiecutter.project_slug }}.tenancy.models import Tenant
from {{ cookiecutter.project_slug }}.tenancy.routing import TenantDirectory, connection_schema_visited, directory

pytestmark = pytest.mark.django_db


@contextlib.contextmanager
def wire_statements():
    """The text of every statement psycopg sends while the block runs, through Django's cursors or not."""
    sent: list[str] = []
    original = psycopg.Cursor.execute

    def counting(self, query, params=None, **kwargs):
        sent.append(str(query))
        return original(self, query, params, **kwargs)

    setattr(psycopg.Cursor, "execute", counting)  # noqa: B010 - a method, patched for the block
    try:
        yield sent
    finally:
        setattr(psycopg.Cursor, "execute", original)  # noqa: B010


def routing_statements(client, path="/products/"):
    """The routing statements one request sends: `SET search_path`, the routing version read that sets the search
    path, the domain lookup (which does both too), as opposed to the view's own queries."""
    with wire_statements() as sent:
        response = client.get(path)
    assert response.status_code == 200, response
    return [sql for sql in sent if sql.startswith("SET search_path") or "tenancy_routingversion" in sql]


def test_a_warm_request_costs_one_routing_statement_that_reads_the_version_and_sets_the_search_path(
    client_for, tenant, member_user
):
    client = client_for(tenant, member_user)
    routing_statements(client)  # fills the directory
    statements = routing_statements(client)
    assert len(statements) == 1, statements
    assert "set_config('search_path'" in statements[0] and "tenancy_domain" not in statements[0]


def test_a_cold_request_costs_one_statement_too_the_lookup_that_sets_the_search_path(client_for, tenant, member_user):
    client = client_for(tenant, member_user)
    directory.clear()
    statements = routing_statements(client)
    assert len(statements) == 1 and "set_config('search_path'" in statements[0], statements
    lookups = directory.queries
    assert len(routing_statements(client)) == 1
    assert directory.queries == lookups


def test_the_lookup_leaves_the_connection_in_the_tenants_schema(client_for, tenant, member_user):
    directory.clear()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")  # the connection is open, in public
    assert directory.route("acme.localhost", connection).slug == "acme"
    with wire_statements() as sent, connection.cursor() as cursor:
        cursor.execute("SELECT current_schemas(false)")
        assert cursor.fetchone()[0] == ["tenant_acme", "public"]
    assert not any(sql.startswith("SET search_path") for sql in sent)  # django-tenants knows it is set
    assert directory.route("nobody.localhost", connection) is None
    assert connection.schema_name == "public"


def test_unknown_hosts_are_remembered_too(db):
    directory.clear()
    before = directory.queries
    for _ in range(3):
        assert Client(HTTP_HOST="nobody.localhost").get("/").status_code == 404
    assert directory.queries == before + 1


def test_a_change_without_any_announcement_reaches_another_processs_directory_at_its_next_route(tenant):
    elsewhere = TenantDirectory()  # another process's directory: it hears of nothing but the routing version
    assert elsewhere.route("acme-shop.localhost", connection) is None
    assert elsewhere.route("acme-shop.localhost", connection) is None  # cached as unknown
    lookups = elsewhere.queries
    with connection.cursor() as cursor:  # raw SQL: no signal, no tenants_changed()
        cursor.execute(
            "INSERT INTO public.tenancy_domain (domain, tenant_id, is_primary) "
            "VALUES ('acme-shop.localhost', %s, false)",
            [tenant.id],
        )
    assert elsewhere.route("acme-shop.localhost", connection).slug == "acme"
    assert elsewhere.queries == lookups + 1
    Tenant.objects.filter(id=tenant.id).update(status=Tenant.Status.SUSPENDED)  # QuerySet.update: no signal
    assert elsewhere.route("acme-shop.localhost", connection).status == Tenant.Status.SUSPENDED


def test_the_directory_hands_out_copies(tenant):
    first = directory.lookup("acme.localhost")
    first.domain_url = "changed.example"
    assert directory.lookup("acme.localhost").domain_url != "changed.example"


def test_after_a_request_the_connection_is_back_in_the_public_schema(client_for, tenant, member_user):
    client_for(tenant, member_user).get("/products/")
    assert connection.schema_name == "public"
    with connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        assert cursor.fetchone()[0].split(",")[0].strip().strip('"') == "public"


def test_a_connection_that_served_too_many_schemas_is_closed(settings, db):
    settings.TENANCY_CONNECTION_MAX_SCHEMAS = 2
    other = connections.create_connection("default")  # a connection of its own, outside the test transaction
    try:
        closed = []
        for schema in ("tenant_acme", "tenant_globex", "tenant_acme", "public", "tenant_x"):
            other.set_schema(schema)
            with other.cursor() as cursor:
                cursor.execute("SELECT 1")
            closed.append(connection_schema_visited(other, schema))
        # acme, globex, acme again and public (never counted) keep it; a third tenant schema closes it.
        assert closed == [False, False, False, False, True]
        assert other.connection is None
        with other.cursor() as cursor:  # and the next query opens a fresh one
            cursor.execute("SELECT 1")
        assert connection_schema_visited(other, "tenant_globex") is False
    finally:
        other.close()


def test_a_new_connection_starts_in_utc_and_sends_no_statement_of_its_own(db):
    """Django sends `set_config('TimeZone', 'UTC', false)` on a new connection whose server default differs (this
    machine's is Etc/UTC); the settings put the time zone in the start-up packet (database_settings), so a
    connection opened again after TENANCY_CONNECTION_MAX_SCHEMAS costs no statement before the routing one."""
    other = connections.create_connection("default")
    # Connected as Django connects, without the state Django sets up afterwards (init_connection_state).
    raw = other.get_new_connection(other.get_connection_params())
    try:
        assert other.timezone_name == "UTC"  # what ensure_timezone compares the session's time zone with
        assert raw.info.parameter_status("TimeZone") == "UTC"
    finally:
        raw.close()


@pytest.mark.parametrize(
    ("overrides", "ids"),
    [
        ({"TENANCY_POOLER_MODE": ""}, set()),
        ({"TENANCY_POOLER_MODE": "session"}, set()),
        ({"TENANCY_POOLER_MODE": "transaction"}, {"tenancy.E002", "tenancy.E003"}),
        ({"TENANCY_POOLER_MODE": "transaction", "TENANCY_POOLER_TRACKS_SEARCH_PATH": True}, {"tenancy.E003"}),
        ({"TENANCY_POOLER_MODE": "statement"}, {"tenancy.E001"}),
    ],
)
def test_the_pooler_check_refuses_transaction_mode_without_search_path_tracking(settings, overrides, ids):
    for name, value in overrides.items():
        setattr(settings, name, value)
    errors = {e.id for e in run_checks() if e.id.startswith("tenancy.")}
    assert errors == ids


def test_a_transaction_mode_pooler_with_tracking_and_no_server_side_cursors_passes(settings, monkeypatch):
    settings.TENANCY_POOLER_MODE = "transaction"
    settings.TENANCY_POOLER_TRACKS_SEARCH_PATH = True
    monkeypatch.setitem(settings.DATABASES["default"], "DISABLE_SERVER_SIDE_CURSORS", True)
    assert not [e for e in run_checks() if e.id.startswith("tenancy.")]
