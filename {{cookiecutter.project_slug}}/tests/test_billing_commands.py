"""`manage.py plans` and `manage.py subscription`: output, changes (audited), and errors that exit 2 naming the
bad value and what is accepted."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from {{ cookiecutter.project_slug }}.audit.models import AuditEvent
from {{ cookiecutter.project_slug }}.billing.models import Subscription
from {{ cookiecutter.project_slug }}.billing.services import plan_change, subscription_of
from {{ cookiecutter.project_slug }}.tenancy.domain import Access
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

from conftest import manage_process

pytestmark = pytest.mark.django_db
PROJECT_DIR = Path(__file__).resolve().parent.parent


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def refused(*args: str) -> str:
    """The message of a command that must exit 2."""
    with pytest.raises(CommandError) as error:
        run(*args)
    assert error.value.returncode == 2
    return str(error.value)


@pytest.fixture
def acme(db: None) -> Tenant:
    tenant = Tenant.objects.get(slug="acme")
    plan_change(tenant=tenant, plan_code="free")
    AuditEvent.objects.all().delete()
    return tenant


def test_plans_lists_prices_trial_limits_and_the_default_as_a_table_and_as_json() -> None:
    table = run("plans")
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if line.count("│") > 5}

    assert "3 plan(s); * the default plan" in table
    assert set(rows) == {"free *", "starter", "pro"}
    assert "bookings/month" in table and "storage MB" in table
    assert "19.00 USD" in rows["starter"] and "190.00 USD" in rows["starter"] and "│ 14 " in rows["starter"]
    assert rows["pro"].count("unlimited") == 3  # products, customers, bookings

    plans = {plan["code"]: plan for plan in json.loads(run("plans", "--format", "json"))}
    assert list(plans) == ["free", "starter", "pro"]
    assert plans["free"]["default"] is True and plans["starter"]["default"] is False
    assert plans["starter"]["price_monthly"] == "19.00" and plans["starter"]["trial_days"] == 14
    assert plans["pro"]["limits"] == {
        "members": 50, "products": None, "customers": None, "bookings_per_month": None, "storage_mb": 10000,
    }  # fmt: skip


def test_subscription_shows_the_plan_status_dates_and_access(acme: Tenant) -> None:
    shown = run("subscription", "--tenant", "acme")

    assert "tenant          acme (Acme Corporation)" in shown
    assert "plan            free (Free), billed every month" in shown
    assert "status          active (Active)" in shown
    assert "access          full" in shown
    data = json.loads(run("subscription", "--tenant", "acme", "--format", "json"))
    assert (data["tenant"], data["plan"], data["status"], data["access"]) == ("acme", "free", "active", "full")


def test_subscription_plan_changes_at_once_and_is_audited_from_the_cli(acme: Tenant) -> None:
    out = run("subscription", "--tenant", "acme", "--plan", "pro", "--interval", "year")

    assert "acme: plan free -> pro, interval month -> year" in out
    subscription = subscription_of(acme)
    assert (subscription.plan.code, subscription.interval) == ("pro", "year")
    [event] = AuditEvent.objects.filter(action="billing.plan_change")
    assert event.origin == "cli:subscription"
    assert event.detail == {"from": "free", "to": "pro", "status": "active", "source": "cli"}
    assert "->" not in run("subscription", "--tenant", "acme", "--plan", "pro")  # the same plan again: nothing changes
    assert AuditEvent.objects.filter(action="billing.plan_change").count() == 1


def test_subscription_status_and_dates_drive_the_grace_period(acme: Tenant) -> None:
    since = "2020-01-01T00:00:00+00:00"
    out = run("subscription", "--tenant", "acme", "--status", "past_due", "--past-due-since", since)

    assert "acme: status active -> past_due" in out
    assert "past due since  2020-01-01T00:00:00+00:00" in out
    assert "access          read_only" in out
    acme.refresh_from_db()
    assert acme.billing_status == "past_due" and acme.access() is Access.READ_ONLY  # the trigger's copy
    [event] = AuditEvent.objects.filter(action="billing.status_change")
    assert event.detail["status"] == ["active", "past_due"] and event.detail["source"] == "cli"

    recent = run("subscription", "--tenant", "acme", "--past-due-since", "2020-01-01 00:00")
    assert "access          read_only" in recent  # a time without offset is UTC; same date: no change
    paid = run("subscription", "--tenant", "acme", "--status", "active", "--period-end", "2031-02-01")
    assert "past due since  -" in paid and "period end      2031-02-01T00:00:00+00:00" in paid
    assert "access          full" in paid
    canceled = run("subscription", "--tenant", "acme", "--status", "canceled", "--period-end", "2020-02-01T00:00:00Z")
    assert "access          suspended" in canceled
    cleared = run("subscription", "--tenant", "acme", "--period-end", "none", "--status", "active")
    assert "period end      -" in cleared and "access          full" in cleared


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuch"], "no tenant with slug 'nosuch'; see `manage.py list_tenants`"),
        (["public"], "tenant 'public' is the public site: it has no subscription"),
        (["acme", "--plan", "gold"], "plan 'gold' does not exist; expected one of: free, starter, pro"),
        (["acme", "--status", "paid"], "status 'paid' is not accepted; expected one of: trialing, active, past_due, "
                                       "canceled"),
        (["acme", "--interval", "week"], "interval 'week' is not accepted; expected one of: month, year"),
        (["acme", "--period-end", "next tuesday"], "--period-end 'next tuesday' is not an ISO 8601 date and time; "
                                                   "expected e.g. 2025-03-01T12:00:00+00:00"),
        (["acme", "--status", "active", "--past-due-since", "2020-01-01"], "past_due_since '2020-01-01T00:00:00+00:00' "
                                                                           "applies to status past_due only"),
    ],
)  # fmt: skip
def test_subscription_refuses_bad_values_with_exit_2_and_changes_nothing(
    acme: Tenant, args: list[str], message: str
) -> None:
    before = Subscription.objects.filter(tenant=acme).values().get()

    tenant, *rest = args
    assert message in refused("subscription", "--tenant", tenant, *rest)
    assert Subscription.objects.filter(tenant=acme).values().get() == before
    assert not AuditEvent.objects.filter(action__startswith="billing.").exists()


def test_a_bad_value_after_a_good_one_changes_nothing(acme: Tenant) -> None:
    assert "status 'late'" in refused("subscription", "--tenant", "acme", "--plan", "pro", "--status", "late")
    assert subscription_of(acme).plan.code == "free"


def test_the_commands_exit_2_in_their_own_process_and_document_their_arguments() -> None:
    manage = manage_process  # its own process, stdin closed
    result = manage("subscription", "--tenant", "acme", "--past-due-since", "31/12/2020")
    assert result.returncode == 2
    assert "--past-due-since '31/12/2020' is not an ISO 8601 date and time" in result.stderr
    helped = manage("subscription", "--help")
    assert helped.returncode == 0
    for shape in ("--tenant S", "--plan CODE", "--status STATUS", "--past-due-since ISO-DATETIME", "trialing, active"):
        assert shape in " ".join(helped.stdout.split())


def test_past_due_without_a_date_counts_from_now(acme: Tenant) -> None:
    started = dt.datetime.now(dt.UTC)

    run("subscription", "--tenant", "acme", "--status", "past_due")

    since = subscription_of(acme).past_due_since
    assert since is not None and started <= since <= dt.datetime.now(dt.UTC)
    acme.refresh_from_db()
    assert acme.access() is Access.FULL  # within the grace period
