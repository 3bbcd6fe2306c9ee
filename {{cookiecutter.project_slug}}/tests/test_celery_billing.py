"""Per-tenant Celery work skips tenants their subscription makes read-only or suspended: fan-out, beat, and the
worker-side check of each task (tenancy/celery_tenancy.py)."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from {{ cookiecutter.project_slug }}.billing.models import Subscription
from {{ cookiecutter.project_slug }}.lifecycle.tasks import tenant_ping
from {{ cookiecutter.project_slug }}.tenancy.celery_tenancy import (
    TenantCache,
    TenantTaskRejected,
    tenants_fan_out,
)
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

from .test_celery_tenancy import beat_queued, fanned_out_schemas

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def make_billing_fleet():
    """Active tenant rows in each billing state (no schemas: nothing consumes the queues). Returns the schemas
    that may get work."""
    now = timezone.now()
    states = {
        "bill-paid": {"billing_status": "active"},
        "bill-grace": {"billing_status": "past_due", "billing_past_due_since": now - DAY},
        "bill-overdue": {"billing_status": "past_due", "billing_past_due_since": now - 30 * DAY},
        "bill-trial-over": {"billing_status": "trialing", "billing_trial_end": now - 30 * DAY},
        "bill-ending": {"billing_status": "canceled", "billing_period_end": now + DAY},
        "bill-ended": {"billing_status": "canceled", "billing_period_end": now - DAY},
    }
    for slug, columns in states.items():
        schema = f"tenant_{slug.replace('-', '_')}"
        Tenant.objects.create(name=slug, slug=slug, schema_name=schema, status="active", **columns)
    return ["tenant_bill_ending", "tenant_bill_grace", "tenant_bill_paid"]


def full_access_schemas():
    """Schemas of the active tenants outside the billing fleet (acme, globex, ...): all fully paid."""
    return list(
        Tenant.objects.filter(status="active").exclude(schema_name="public").exclude(slug__startswith="bill-")
        .values_list("schema_name", flat=True)
    )  # fmt: skip


def test_fan_out_skips_tenants_read_only_or_suspended_by_billing():
    allowed = make_billing_fleet()
    queue_name = f"fanout-{uuid.uuid4().hex[:8]}"

    sent = tenants_fan_out(tenant_ping, queue=queue_name)

    expected = sorted(allowed + full_access_schemas())
    assert sent == len(expected)
    assert fanned_out_schemas(queue_name) == expected


def test_fan_out_to_named_tenants_skips_the_blocked_ones():
    make_billing_fleet()
    queue_name = f"fanout-{uuid.uuid4().hex[:8]}"
    slugs = ["bill-overdue", "bill-ended", "bill-grace", "bill-trial-over"]
    assert tenants_fan_out(tenant_ping, slugs=slugs, queue=queue_name) == 1
    assert fanned_out_schemas(queue_name) == ["tenant_bill_grace"]


@pytest.mark.parametrize(
    ("tenant_schemas", "expected"),
    [(None, "every tenant with full access"), (["tenant_bill_overdue", "tenant_bill_paid"], ["tenant_bill_paid"])],
)
def test_beat_skips_tenants_read_only_or_suspended_by_billing(tmp_path, tenant_schemas, expected):
    allowed = make_billing_fleet()

    queued = beat_queued(tmp_path, tenant_schemas)

    if expected == "every tenant with full access":
        expected = sorted(allowed + full_access_schemas())
    assert queued == expected


def test_a_task_for_a_tenant_blocked_by_billing_is_rejected_and_runs_again_once_paid(tenant):
    cache = TenantCache()
    assert cache.route("tenant_acme", connection).slug == "acme"

    Subscription.objects.filter(tenant_id=tenant.pk).update(status="past_due", past_due_since=timezone.now() - 30 * DAY)
    with pytest.raises(TenantTaskRejected, match=r"'acme' .* is read-only by its subscription"):
        cache.route("tenant_acme", connection)
    assert connection.schema_name == "public"  # a refused task leaves nothing set

    Subscription.objects.filter(tenant_id=tenant.pk).update(status="canceled", current_period_end=None)
    with pytest.raises(TenantTaskRejected, match="is suspended by its subscription"):
        cache.route("tenant_acme", connection)

    Subscription.objects.filter(tenant_id=tenant.pk).update(status="active", past_due_since=None)
    assert cache.route("tenant_acme", connection).slug == "acme"
    assert connection.schema_name == "tenant_acme"


def test_the_task_side_check_follows_the_clock_without_a_routing_change(tenant):
    """Time alone moves a tenant past its grace period: the cached row is checked again for every task."""
    Subscription.objects.filter(tenant_id=tenant.pk).update(status="past_due", past_due_since=timezone.now() - DAY)
    cache = TenantCache()
    assert cache.route("tenant_acme", connection).slug == "acme"  # within the 7 days of grace
    lookups = cache.lookups

    with override_settings(BILLING_GRACE_DAYS=0.5), pytest.raises(TenantTaskRejected, match="read-only"):
        cache.route("tenant_acme", connection)
    assert cache.lookups == lookups  # the cached row, no new lookup
