"""Connection slots (settings.TENANCY_CONNECTION_SLOTS, tenancy.routing.ConnectionSlots): requests for one tenant
run on one warm database connection whichever server thread serves them, a busy slot hands the request on,
every request still runs in its own tenant's schema, and the thread's own connection is back afterwards.

Real threads and real PostgreSQL connections; the routing middleware is called as the WSGI handler calls it.
The demo tenants acme and globex are committed (conftest.django_db_setup), so the slot connections, which are
not the test's transaction, see them.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from {{ cookiecutter.project_slug }}.tenancy import routing
from {{ cookiecutter.project_slug }}.tenancy.middleware import TenantRoutingMiddleware, affinity_key
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant
from {{ cookiecutter.project_slug }}.tenancy.routing import connection_slots

from conftest import tenant_base_path_of, tenant_host_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def slots(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    """`slots(n)` turns connection slots on with n slots, whose connections live for CONN_MAX_AGE=600 as in
    production (the test settings' 0 closes a connection after every request); every slot connection is closed
    afterwards."""

    def turn_on(size: int) -> None:
        settings.TENANCY_CONNECTION_SLOTS = size
        monkeypatch.setitem(connections.settings[DEFAULT_DB_ALIAS], "CONN_MAX_AGE", 600)

    yield turn_on
    connection_slots.close_all()


def started(tenant: Any, view: Callable[[HttpRequest], HttpResponse]) -> tuple[threading.Thread, dict[str, Any]]:
    """Start serving one request for `tenant` (addressed the project's way, built in the calling thread)
    through the routing middleware in a new thread whose view is `view`. The returned record gets what `view`
    recorded, the status, and `own_after`: whether the thread's default connection after the request is one
    it owned (not a slot's); or `error`."""
    request = RequestFactory().get(f"{tenant_base_path_of(tenant)}/products/", HTTP_HOST=tenant_host_of(tenant))
    record: dict[str, Any] = {}

    def run() -> None:
        try:
            record["status"] = TenantRoutingMiddleware(view)(request).status_code
            default = [c for c in connections.all(initialized_only=True) if c.alias == DEFAULT_DB_ALIAS]
            record["own_after"] = all(c not in connection_slots._connections for c in default)
        except BaseException as exc:  # handed to the test thread
            record["error"] = exc
        finally:
            connections.close_all()  # the thread's own connections, if it opened any

    thread = threading.Thread(target=run)
    thread.start()
    return thread, record


def finished(thread: threading.Thread, record: dict[str, Any]) -> dict[str, Any]:
    """Wait for a request `started` served; its record, or its error raised."""
    thread.join(timeout=30)
    assert not thread.is_alive(), "the request did not finish"
    if "error" in record:
        raise record["error"]
    return record


def served(tenant: Any, view: Callable[[HttpRequest], HttpResponse]) -> dict[str, Any]:
    """Serve one request for `tenant` in a new thread (`started`) and wait for it (`finished`)."""
    return finished(*started(tenant, view))


def backend_view(record: dict[str, Any], hold: threading.Event | None = None, held: threading.Event | None = None):
    """A view that records the backend pid and current schema of `django.db.connection`; with `hold`, it
    sets `held` and waits for `hold` before answering (a request in flight)."""

    def view(request: HttpRequest) -> HttpResponse:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid(), current_schema()")
            record["pid"], record["schema"] = cursor.fetchone()
        if hold is not None and held is not None:
            held.set()
            assert hold.wait(timeout=30)
        return HttpResponse("ok")

    return view


def in_flight(tenant: Any, record: dict[str, Any]) -> tuple[Callable[[], dict[str, Any]], threading.Event]:
    """Start a request for `tenant` that stays in its view until the returned event is set; returns a function
    that waits for it to finish, and the event."""
    hold, held = threading.Event(), threading.Event()
    thread, outcome = started(tenant, backend_view(record, hold, held))
    assert held.wait(timeout=30), "the held request did not reach its view"
    return lambda: finished(thread, outcome), hold


def test_requests_for_one_tenant_run_on_one_connection_whichever_thread_serves_them(slots):
    acme = Tenant.objects.get(slug="acme")
    # Without slots, each thread's request runs on a connection of its own: the assertion below can fail.
    first: dict[str, Any] = {}
    second: dict[str, Any] = {}
    served(acme, backend_view(first))
    served(acme, backend_view(second))
    assert first["pid"] != second["pid"]

    slots(4)
    pids = []
    for _ in range(3):
        record: dict[str, Any] = {}
        assert served(acme, backend_view(record))["own_after"] is True
        assert record["schema"] == acme.schema_name
        pids.append(record["pid"])
    assert len(set(pids)) == 1, pids


def key_of(tenant: Any) -> str:
    """The affinity key of `tenant`'s requests."""
    return affinity_key(RequestFactory().get(f"{tenant_base_path_of(tenant)}/", HTTP_HOST=tenant_host_of(tenant)))


def slots_apart(first: Any, second: Any) -> int:
    """The smallest slot count >= 2 that puts the two tenants' keys on different slots."""
    keys = (zlib.crc32(key_of(first).encode()), zlib.crc32(key_of(second).encode()))
    return next(size for size in range(2, 64) if keys[0] % size != keys[1] % size)


def test_tenants_of_different_slots_each_run_in_their_own_schema_on_their_own_connection(slots):
    acme, globex = Tenant.objects.get(slug="acme"), Tenant.objects.get(slug="globex")
    slots(slots_apart(acme, globex))
    seen: dict[str, set[tuple[int, str]]] = {}
    for tenant in (acme, globex, acme, globex):
        record: dict[str, Any] = {}
        served(tenant, backend_view(record))
        seen.setdefault(tenant.slug, set()).add((record["pid"], record["schema"]))
    assert {slug: {schema for _pid, schema in pairs} for slug, pairs in seen.items()} == {
        "acme": {acme.schema_name},
        "globex": {globex.schema_name},
    }
    assert len(seen["acme"]) == len(seen["globex"]) == 1  # each on one connection
    assert seen["acme"] != seen["globex"]  # not the same one


def test_while_its_slot_stays_busy_a_request_runs_on_its_thread_s_own_connection(slots):
    acme, globex = Tenant.objects.get(slug="acme"), Tenant.objects.get(slug="globex")
    slots(slots_apart(acme, globex))
    first: dict[str, Any] = {}
    wait, hold = in_flight(acme, first)
    try:
        second: dict[str, Any] = {}
        assert served(acme, backend_view(second))["own_after"] is True
        assert second["schema"] == acme.schema_name
        assert second["pid"] != first["pid"]
        other: dict[str, Any] = {}
        served(globex, backend_view(other))  # its own slot is free: it serves
        assert other["schema"] == globex.schema_name
        assert other["pid"] not in (first["pid"], second["pid"])
    finally:
        hold.set()
        wait()
    assert first["schema"] == acme.schema_name
    third: dict[str, Any] = {}
    served(acme, backend_view(third))  # the slot is free again: it serves acme
    assert third["pid"] == first["pid"]
    again: dict[str, Any] = {}
    served(globex, backend_view(again))
    assert again["pid"] == other["pid"]


def test_a_request_waits_for_its_busy_slot_when_it_is_given_back_in_time(slots, monkeypatch):
    monkeypatch.setattr(routing, "SLOT_WAIT_SECONDS", 30.0)
    slots(1)
    acme = Tenant.objects.get(slug="acme")
    first: dict[str, Any] = {}
    wait, hold = in_flight(acme, first)
    second: dict[str, Any] = {}
    try:
        thread, outcome = started(acme, backend_view(second))
        time.sleep(0.2)  # most likely waiting by now; if not, it finds the slot free: the same either way
        assert "pid" not in second  # still waiting: the slot is held
    finally:
        hold.set()
        wait()
    finished(thread, outcome)
    assert second["pid"] == first["pid"]
    assert second["schema"] == acme.schema_name


def test_a_failing_view_gives_its_slot_back_in_the_public_schema(slots):
    slots(1)
    acme = Tenant.objects.get(slug="acme")
    record: dict[str, Any] = {}

    def failing(request: HttpRequest) -> HttpResponse:
        backend_view(record)(request)
        raise RuntimeError("the view failed")

    with pytest.raises(RuntimeError, match="the view failed"):
        served(acme, failing)
    slot = connection_slots._connections[0]
    assert connection_slots._busy == [False]
    assert slot.schema_name == "public"
    after: dict[str, Any] = {}
    served(acme, backend_view(after))
    assert after["pid"] == record["pid"]


def test_a_slot_idle_past_conn_max_age_is_opened_afresh_when_leased(slots):
    slots(1)
    acme = Tenant.objects.get(slug="acme")
    first: dict[str, Any] = {}
    served(acme, backend_view(first))
    again: dict[str, Any] = {}
    served(acme, backend_view(again))
    assert again["pid"] == first["pid"]
    slot = connection_slots._connections[0]
    slot.close_at = time.monotonic() - 1  # CONN_MAX_AGE ran out while the slot was idle
    fresh: dict[str, Any] = {}
    served(acme, backend_view(fresh))
    assert fresh["pid"] != first["pid"]
    assert fresh["schema"] == acme.schema_name


def test_the_affinity_key_is_the_host_without_its_port_and_in_path_routing_the_slug_too(settings):
    factory = RequestFactory()
    settings.TENANCY_ROUTING = "domain"
    assert affinity_key(factory.get("/x/", HTTP_HOST="ACME.localhost:8000")) == "acme.localhost"
    assert affinity_key(factory.get("/x/", HTTP_HOST="[::1]:8000")) == "[::1]"
    settings.TENANCY_ROUTING = "path"
    settings.TENANCY_PATH_PREFIX = "clinic"
    assert affinity_key(factory.get("/clinic/Acme/products/", HTTP_HOST="localhost:8000")) == "localhost/acme"
    assert affinity_key(factory.get("/about/", HTTP_HOST="localhost")) == "localhost"
    assert connection_slots.slot_of("acme.localhost") is None  # slots off in test settings
    settings.TENANCY_CONNECTION_SLOTS = 16
    assert connection_slots.slot_of("acme.localhost") == zlib.crc32(b"acme.localhost") % 16
