"""A running server process routes by the committed state of tenants and domains, whatever wrote it.

The server (`server_url`, its own process and connections) is warmed up on a host, then the tenant or domain is
changed through a write path that announces nothing (QuerySet.update, raw SQL on another connection); the very
next request must see the change. The routing version that database triggers bump (tenancy/routing.py) is
the only thing that can tell the server.
"""

import http.client
import io
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from {{ cookiecutter.project_slug }}.accounts.models import User
from {{ cookiecutter.project_slug }}.accounts.services import user_delete
from {{ cookiecutter.project_slug }}.tenancy.models import Domain, Tenant

from conftest import test_database_url

SLUG = "routing-live"


def status_of(server_url: str, host: str) -> int:
    """The status code of GET / on `host` from the server, without following redirects."""
    address = urlsplit(server_url)
    client = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        client.request("GET", "/", headers={"Host": host})
        return client.getresponse().status
    finally:
        client.close()


def raw_sql(statement: str, params: list[object]) -> None:
    """Run `statement` on a connection of its own and commit: no Django signal, no announcement."""
    with psycopg.connect(test_database_url(), autocommit=True) as other:
        other.execute(statement, params)  # type: ignore[arg-type]


@pytest.fixture
def live_tenant(django_db_blocker) -> Iterator[Tenant]:  # type: ignore[no-untyped-def]
    """A committed active tenant `routing-live` (host routing-live.localhost), dropped afterwards."""
    from {{ cookiecutter.project_slug }}.lifecycle.services import tenant_create, tenant_drop

    with django_db_blocker.unblock():
        tenant = tenant_create(name="Routing Live", slug=SLUG)
    try:
        yield tenant
    finally:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            tenant_drop(slug=SLUG)


WritePath = Callable[[Tenant], None]


def suspend_by_model_save(tenant: Tenant) -> None:
    tenant.status = Tenant.Status.SUSPENDED
    tenant.save(update_fields=["status"])


def suspend_by_platform_admin_bulk_action(tenant: Tenant) -> None:
    staff = User.objects.create_superuser(email=f"ops-{uuid.uuid4().hex[:8]}@example.com", password="ops-password")
    try:
        admin = Client(HTTP_HOST="localhost")
        admin.force_login(staff)
        response = admin.post("/admin/tenancy/tenant/", {"action": "suspend", "_selected_action": [str(tenant.pk)]})
        assert response.status_code == 302, response
    finally:
        user_delete(user=staff)  # a user row is never deleted: its tombstone stays


def suspend_by_queryset_update(tenant: Tenant) -> None:
    Tenant.objects.filter(id=tenant.id).update(status=Tenant.Status.SUSPENDED)


def suspend_by_raw_sql(tenant: Tenant) -> None:
    raw_sql("UPDATE public.tenancy_tenant SET status = 'suspended' WHERE id = %s", [tenant.id])


def archive_by_raw_sql(tenant: Tenant) -> None:
    raw_sql("UPDATE public.tenancy_tenant SET status = 'archived' WHERE id = %s", [tenant.id])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (suspend_by_model_save, 403),
        (suspend_by_platform_admin_bulk_action, 403),
        (suspend_by_queryset_update, 403),
        (suspend_by_raw_sql, 403),
        (archive_by_raw_sql, 404),
    ],
    ids=["model-save", "admin-bulk-action", "queryset-update", "raw-sql", "raw-sql-archives"],
)
def test_the_next_request_after_a_status_change_sees_it(
    server_url: str,
    live_tenant: Tenant,
    django_db_blocker,
    change: WritePath,
    expected: int,  # type: ignore[no-untyped-def]
) -> None:
    host = f"{SLUG}.localhost"
    active = status_of(server_url, host)
    assert active in (200, 302), active  # the server has the host in its directory now

    with django_db_blocker.unblock():
        change(live_tenant)
    assert status_of(server_url, host) == expected

    with django_db_blocker.unblock():
        Tenant.objects.filter(id=live_tenant.id).update(status=Tenant.Status.ACTIVE)
    assert status_of(server_url, host) == active


def test_a_domain_added_and_removed_by_raw_sql_routes_at_the_next_request(
    server_url: str,
    live_tenant: Tenant,
    django_db_blocker,  # type: ignore[no-untyped-def]
) -> None:
    host = f"{SLUG}-alias.localhost"
    assert status_of(server_url, host) == 404  # remembered as unknown

    raw_sql("INSERT INTO public.tenancy_domain (domain, tenant_id, is_primary) VALUES (%s, %s, false)",
            [host, live_tenant.id])  # fmt: skip
    assert status_of(server_url, host) in (200, 302)

    raw_sql("DELETE FROM public.tenancy_domain WHERE domain = %s", [host])
    assert status_of(server_url, host) == 404
    with django_db_blocker.unblock():
        assert not Domain.objects.filter(domain=host).exists()


def test_a_domain_added_and_removed_by_django_tenants_own_commands_routes_at_the_next_request(
    server_url: str,
    live_tenant: Tenant,
    django_db_blocker,  # type: ignore[no-untyped-def]
) -> None:
    host = f"{SLUG}-cmd.localhost"
    assert status_of(server_url, host) == 404
    with django_db_blocker.unblock():
        call_command("create_domain", "--schema_name", live_tenant.schema_name, "--domain-domain", host,
                     "--domain-is_primary", "False", "--noinput", stdout=io.StringIO())  # fmt: skip
    assert status_of(server_url, host) in (200, 302)
    with django_db_blocker.unblock():
        call_command("delete_domain", "--schema_name", live_tenant.schema_name, "--domain-domain", host,
                     "--noinput", stdout=io.StringIO())  # fmt: skip
    assert status_of(server_url, host) == 404


def test_a_tenant_dropped_then_restored_under_its_old_slug_answers_at_once(
    server_url: str,
    live_tenant: Tenant,
    django_db_blocker,
    settings,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    settings.TENANCY_BACKUP_DIR = str(tmp_path)
    host = f"{SLUG}.localhost"
    assert status_of(server_url, host) in (200, 302)
    with django_db_blocker.unblock():
        call_command("drop_schema", "--tenant", SLUG, "--force", stdout=io.StringIO())
    assert status_of(server_url, host) == 404
    [dump] = tmp_path.glob("*.dump")

    with django_db_blocker.unblock():
        call_command("restore_tenant", "--input", str(dump), "--slug", SLUG, "--domain", host, stdout=io.StringIO())
    assert status_of(server_url, host) in (200, 302)
