"""Per-tenant Celery work on a real worker and Redis: the right schema, or a loud refusal."""

import base64
import datetime as dt
import json
import re
import time
import uuid

import pytest
import redis
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from {{ cookiecutter.project_slug }}.lifecycle.provisioning import spare_pool_fill
from {{ cookiecutter.project_slug }}.lifecycle.services import tenant_create, tenant_drop, tenant_status_set
from {{ cookiecutter.project_slug }}.lifecycle.tasks import provision_tenant, spare_pool_refill, tenant_ping
from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.products.tasks import flag_low_stock
from {{ cookiecutter.project_slug }}.tenancy.celery_tenancy import (
    FAN_OUT_TASK,
    FAN_OUT_TASK_ACKS_LATE,
    SCHEMA_HEADER,
    ActiveTenantScheduler,
    TenantCache,
    TenantTaskRejected,
    tenants_fan_out,
)
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant
from {{ cookiecutter.project_slug }}.tenancy.tasks import run_for_tenants

app = tenant_ping.app  # config.celery_app's


@pytest.fixture
def queue(celery_worker):
    return celery_worker[0]


@pytest.fixture
def worker_log(celery_worker):
    path = celery_worker[1]

    def lines_since(offset):
        return path.read_text()[offset:].splitlines()

    return path, lines_since


def queued_schemas(queue_name):
    """Schemas in the headers of the messages waiting in `queue_name` (a queue no worker consumes)."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    messages = [json.loads(raw) for raw in client.lrange(queue_name, 0, -1)]
    client.delete(queue_name)
    return sorted(message["headers"][SCHEMA_HEADER] for message in messages)


def queued_batches(queue_name):
    """(batch task name, target task name, schemas) of each fan-out message waiting in `queue_name` (a queue no
    worker consumes), in queue order; the queue is deleted."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    batches = []
    for raw in reversed(client.lrange(queue_name, 0, -1)):  # kombu pushes on the left: oldest last
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))  # [args, kwargs, embed]
        task_name, schemas, _args, _kwargs = body[0]
        batches.append((message["headers"]["task"], task_name, schemas))
    client.delete(queue_name)
    return batches


def fanned_out_schemas(queue_name):
    """The schemas the fan-out messages waiting in `queue_name` name, sorted (each once per message naming it)."""
    return sorted(schema for _, _, schemas in queued_batches(queue_name) for schema in schemas)


def wait_for_lines(lines_since, offset, pattern, count):
    """The worker log lines after `offset` matching regular expression `pattern`, once there are `count` of them
    (or after 60 s, whatever there are then)."""
    deadline = time.monotonic() + 60
    while True:
        found = [line for line in lines_since(offset) if re.search(pattern, line)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


# --- on the worker -----------------------------------------------------------------------------


def test_a_task_sent_from_a_tenant_writes_only_into_that_tenants_schema(queue, django_db_blocker):
    with django_db_blocker.unblock():
        saved = {}
        for slug in ("acme", "globex"):
            with tenant_context(Tenant.objects.get(slug=slug)):
                saved[slug] = list(Product.objects.values_list("pk", "stock", "low_stock"))
                Product.objects.update(low_stock=False)
                Product.objects.filter(pk=saved[slug][0][0]).update(stock=0)
        try:
            with tenant_context(Tenant.objects.get(slug="acme")):
                result = flag_low_stock.apply_async(queue=queue).get(timeout=60)
                assert result["flagged"] >= 1
                assert Product.objects.filter(low_stock=True).exists()
            with tenant_context(Tenant.objects.get(slug="globex")):
                assert not Product.objects.filter(low_stock=True).exists()
        finally:
            for slug in ("acme", "globex"):
                with tenant_context(Tenant.objects.get(slug=slug)):
                    for pk, stock, low_stock in saved[slug]:
                        Product.objects.filter(pk=pk).update(stock=stock, low_stock=low_stock)
            connection.set_schema_to_public()


@pytest.mark.django_db
def test_the_schema_survives_retries_and_every_log_line_carries_it(tenant, queue, worker_log):
    path, lines_since = worker_log
    offset = len(path.read_text())

    assert tenant_ping.apply_async(kwargs={"retries": 2}, queue=queue).get(timeout=60) == "tenant_acme"

    attempts = [line for line in lines_since(offset) if "tenant_ping attempt" in line]
    assert len(attempts) == 3
    assert all("[tenant_acme:" in line and "in schema tenant_acme" in line for line in attempts), attempts


@pytest.mark.django_db
def test_a_tenant_task_sent_from_the_public_schema_is_rejected_not_run_in_public(queue, worker_log):
    path, lines_since = worker_log
    offset = len(path.read_text())
    with schema_context("public"):
        result = tenant_ping.apply_async(queue=queue)
    with pytest.raises(Exception, match="needs a tenant"):
        result.get(timeout=60)
    assert result.state == "FAILURE"
    assert any("rejected task tenancy.tenant_ping" in line for line in lines_since(offset))
    assert not any("tenant_ping attempt" in line for line in lines_since(offset))


def test_tasks_for_a_suspended_then_deleted_tenant_fail_closed(queue, django_db_blocker):
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        tenant = tenant_create(name="Gone", slug="gone-soon")
        try:
            with tenant_context(tenant):
                assert tenant_ping.apply_async(queue=queue).get(timeout=60) == "tenant_gone_soon"  # now cached
            tenant_status_set(slug="gone-soon", status="suspended")
            with tenant_context(tenant), pytest.raises(Exception, match="is suspended, not active"):
                tenant_ping.apply_async(queue=queue).get(timeout=60)
        finally:
            connection.set_schema_to_public()
            tenant_drop(slug="gone-soon")
        headers = {SCHEMA_HEADER: "tenant_gone_soon"}
        result = tenant_ping.apply_async(queue=queue, headers=headers)
        with pytest.raises(Exception, match="does not exist"):
            result.get(timeout=60)
        assert result.state == "FAILURE"
        time.sleep(0.5)
        assert app.AsyncResult(result.id).state == "FAILURE"  # failed once, not retried in a loop


@pytest.mark.django_db
def test_fanned_out_tasks_run_on_the_worker_each_in_its_own_tenant(queue, worker_log):
    path, lines_since = worker_log
    offset = len(path.read_text())

    assert tenants_fan_out(tenant_ping, slugs=["acme", "globex"], queue=queue) == 2

    deadline = time.monotonic() + 60
    while True:
        runs = [line for line in lines_since(offset) if "tenant_ping attempt 1" in line]
        if len(runs) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sorted(line.split("in schema ")[1].strip() for line in runs) == ["tenant_acme", "tenant_globex"]
    assert all(f"[{line.split('in schema ')[1].strip()}:" in line for line in runs)


# Tenant rows a batch must refuse: not active, or active but suspended by its subscription (no schemas needed).
BLOCKED = {
    "fan-suspended": {"status": "suspended"},
    "fan-unpaid": {
        "status": "active",
        "billing_status": "canceled",
        "billing_period_end": dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    },
}


def test_a_batch_runs_each_tenant_in_its_own_schema_and_refuses_blocked_ones_alone(
    queue, worker_log, django_db_blocker
):
    path, lines_since = worker_log
    offset = len(path.read_text())
    schemas = ["tenant_acme", "tenant_fan_suspended", "public", "tenant_fan_unpaid", "tenant_globex"]
    with django_db_blocker.unblock():  # committed: the worker reads them on its own connection
        for slug, columns in BLOCKED.items():
            Tenant.objects.create(name=slug, slug=slug, schema_name=f"tenant_{slug.replace('-', '_')}", **columns)
        try:
            counts = run_for_tenants.apply_async(("tenancy.tenant_ping", schemas, [], {}), queue=queue).get(timeout=60)
        finally:
            Tenant.objects.filter(slug__in=list(BLOCKED)).delete()

    assert {key: counts[key] for key in ("ok", "refused", "retried", "failed")} == {
        "ok": 2, "refused": 3, "retried": 0, "failed": 0}  # fmt: skip
    lines = lines_since(offset)
    runs = [line for line in lines if "tenant_ping attempt" in line]
    assert [line.split("in schema ")[1].strip() for line in runs] == ["tenant_acme", "tenant_globex"], runs
    assert all(f"[{line.split('in schema ')[1].strip()}:" in line for line in runs), runs
    outcomes = {schema: [line for line in lines if f"in schema {schema}: " in line] for schema in schemas}
    assert all(len(found) == 1 for found in outcomes.values()), outcomes  # one outcome line per tenant
    assert "is suspended, not active" in outcomes["tenant_fan_suspended"][0]
    assert "is suspended by its subscription" in outcomes["tenant_fan_unpaid"][0]
    assert "needs a tenant, but was sent from the public schema" in outcomes["public"][0]
    assert outcomes["tenant_acme"][0].endswith(": ok") and outcomes["tenant_globex"][0].endswith(": ok")


def test_a_failure_the_task_retries_is_retried_for_that_tenant_alone(queue, worker_log):
    path, lines_since = worker_log
    offset = len(path.read_text())
    kwargs = {"fail_first_in": ["tenant_globex"]}

    counts = run_for_tenants.apply_async(
        ("tenancy.tenant_ping", ["tenant_acme", "tenant_globex"], [], kwargs), queue=queue).get(timeout=60)  # fmt: skip

    assert {key: counts[key] for key in ("ok", "retried", "failed")} == {"ok": 1, "retried": 1, "failed": 0}
    [retried] = [line for line in lines_since(offset) if "in schema tenant_globex: retried alone" in line]
    assert "TenantPingFailure" in retried
    task_id = re.search(r"tenant_ping\[([0-9a-f-]+)\] in schema", retried).group(1)
    # The retry is a single-tenant message of tenant_ping with the same task id: it runs in globex and succeeds.
    assert wait_for_lines(lines_since, offset, rf"tenant_ping\[{task_id}\] succeeded .*'tenant_globex'", 1)
    runs = [line.split("tenant_ping ")[1] for line in lines_since(offset) if "tenant_ping attempt" in line]
    assert sorted(runs) == ["attempt 1 in schema tenant_acme", "attempt 1 in schema tenant_globex",
                            "attempt 2 in schema tenant_globex"]  # fmt: skip


def test_a_batch_finds_its_tenants_without_a_query_once_they_are_cached(queue):
    def ping_acme_and_globex():
        return run_for_tenants.apply_async(
            ("tenancy.tenant_ping", ["tenant_acme", "tenant_globex"], [], {}), queue=queue).get(timeout=60)  # fmt: skip

    ping_acme_and_globex()  # the worker caches acme and globex

    counts = ping_acme_and_globex()

    assert counts["ok"] == 2 and counts["tenant_lookups"] == 0


def test_a_worker_provisions_a_tenant_and_refuses_a_taken_slug(queue, django_db_blocker):
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        try:
            schema = provision_tenant.apply_async(("By Worker", "by-worker"), queue=queue).get(timeout=60)
            assert schema == "tenant_by_worker"
            assert Tenant.objects.get(slug="by-worker").status == "active"
            with pytest.raises(Exception, match="'acme' is taken"):
                provision_tenant.apply_async(("Acme again", "acme"), queue=queue).get(timeout=60)
        finally:
            if Tenant.objects.filter(slug="by-worker").exists():
                tenant_drop(slug="by-worker")
            spare_pool_fill()  # the provisioning claimed a spare; later tests expect a full pool


# --- sending -----------------------------------------------------------------------------------


def make_fleet():
    """Tenant rows in every status (their schemas need not exist: nothing consumes the queue)."""
    statuses = {"fan-active-1": "active", "fan-active-2": "active", "fan-new": "provisioning",
                "fan-paused": "suspended", "fan-old": "archived"}  # fmt: skip
    for slug, status in statuses.items():
        Tenant.objects.create(name=slug, slug=slug, schema_name=f"tenant_{slug.replace('-', '_')}", status=status)


@pytest.mark.django_db
def test_fan_out_reaches_every_active_tenant_exactly_once_and_no_other():
    make_fleet()
    queue_name = f"fanout-{uuid.uuid4().hex[:8]}"

    sent = tenants_fan_out(tenant_ping, queue=queue_name, batch_size=2)

    active = sorted(Tenant.objects.filter(status="active").exclude(schema_name="public").values_list(
        "schema_name", flat=True))  # fmt: skip
    batches = queued_batches(queue_name)
    assert sent == len(active)
    assert sorted(schema for _, _, schemas in batches for schema in schemas) == active  # each exactly once
    assert [len(schemas) for _, _, schemas in batches] == [2] * (len(active) // 2) + [1] * (len(active) % 2)
    assert {(batch_task, task) for batch_task, task, _ in batches} == {(FAN_OUT_TASK, "tenancy.tenant_ping")}
    assert "tenant_fan_new" not in active and "tenant_fan_active_1" in active


@pytest.mark.django_db
def test_fan_out_to_named_tenants_skips_the_inactive_ones():
    make_fleet()
    queue_name = f"fanout-{uuid.uuid4().hex[:8]}"
    sent = tenants_fan_out(tenant_ping, slugs=["fan-active-1", "fan-paused", "globex"], queue=queue_name)
    assert sent == 2
    assert fanned_out_schemas(queue_name) == ["tenant_fan_active_1", "tenant_globex"]


@pytest.mark.django_db
def test_fan_out_of_a_task_acknowledged_late_sends_batches_acknowledged_late():
    queue_name = f"fanout-{uuid.uuid4().hex[:8]}"
    assert tenants_fan_out(flag_low_stock, slugs=["acme"], queue=queue_name) == 1
    assert queued_batches(queue_name) == [(FAN_OUT_TASK_ACKS_LATE, "products.flag_low_stock", ["tenant_acme"])]
    assert app.tasks[FAN_OUT_TASK_ACKS_LATE].acks_late and app.tasks[FAN_OUT_TASK_ACKS_LATE].reject_on_worker_lost
    assert not app.tasks[FAN_OUT_TASK].acks_late


def test_fan_out_refuses_a_platform_task_and_a_batch_size_below_one():
    with pytest.raises(ValueError, match=r"tenancy\.spare_pool_refill runs in the public schema"):
        tenants_fan_out(spare_pool_refill)
    with pytest.raises(ValueError, match="batch_size 0 is not a number of tenants per message"):
        tenants_fan_out(tenant_ping, batch_size=0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tenant_schemas", "expected"),
    [
        (None, "every active tenant"),
        (["tenant_fan_active_2", "tenant_fan_new", "tenant_fan_paused"], ["tenant_fan_active_2"]),
        (["public"], ["public"]),
    ],
)
def test_beat_sends_periodic_tasks_to_active_tenants_only(tmp_path, tenant_schemas, expected):
    make_fleet()

    queued = beat_queued(tmp_path, tenant_schemas)

    if expected == "every active tenant":
        expected = sorted(Tenant.objects.filter(status="active").exclude(schema_name="public").values_list(
            "schema_name", flat=True))  # fmt: skip
    assert queued == expected


def beat_queued(tmp_path, tenant_schemas: list[str] | None) -> list[str]:
    """Let ActiveTenantScheduler send one beat entry of tenancy.tenant_ping (to the tenants of `tenant_schemas`;
    None: every tenant) to a fresh queue; return the schemas of the messages queued, sorted."""
    queue_name = f"beat-{uuid.uuid4().hex[:8]}"
    entry = {"task": "tenancy.tenant_ping", "schedule": 60.0, "options": {"queue": queue_name}}
    if tenant_schemas is not None:
        entry["tenant_schemas"] = tenant_schemas
    scheduler = ActiveTenantScheduler(app=app, schedule_filename=str(tmp_path / "beat"), lazy=True)
    entries = scheduler._tenant_aware_beat_schedule_to_dict({"probe": entry})
    with app.producer_or_acquire() as producer:
        for options in entries.values():
            scheduler.apply_entry(scheduler.Entry(name="probe", app=app, **options), producer=producer)
    return queued_schemas(queue_name)


# --- the worker's tenant cache -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_tenant_cache_queries_once_and_follows_any_tenant_change_without_an_announcement():
    cache = TenantCache(size=1)
    acme = cache.route("tenant_acme", connection)
    assert cache.route("tenant_acme", connection) is acme  # the routing statement only, no lookup
    assert cache.lookups == 1 and connection.schema_name == "tenant_acme"

    cache.route("tenant_globex", connection)  # size 1: acme is evicted
    assert cache.lookups == 2
    cache.route("tenant_acme", connection)
    assert cache.lookups == 3

    Tenant.objects.filter(slug="globex").update(name="Globex 2")  # QuerySet.update: no signal, no Redis
    cache.route("tenant_acme", connection)
    assert cache.lookups == 4
    with connection.cursor() as cursor:  # raw SQL suspends acme: the next task for it is refused
        cursor.execute("UPDATE public.tenancy_tenant SET status = 'suspended' WHERE slug = 'acme'")
    with pytest.raises(TenantTaskRejected, match="is suspended"):
        cache.route("tenant_acme", connection)
