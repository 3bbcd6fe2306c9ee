"""Subscription state drives the tenant lifecycle: the database trigger that copies it onto the tenant row (every
write path, and the routing version with it), what each state allows through HTTP on a tenant host, the query
that finds blocked tenants (equal to tenancy.domain.access_for), BILLING_GRACE_DAYS=0, and list_tenants."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from {{ cookiecutter.project_slug }}.billing.models import Plan, Subscription
from {{ cookiecutter.project_slug }}.billing.services import subscription_start
from {{ cookiecutter.project_slug }}.customers.models import Customer
from {{ cookiecutter.project_slug }}.tenancy.checks import billing_grace_check
from {{ cookiecutter.project_slug }}.tenancy.domain import Access, BillingSnapshot, access_for
from {{ cookiecutter.project_slug }}.tenancy.models import RoutingVersion, Tenant, billing_grace
from {{ cookiecutter.project_slug }}.tenancy.selectors import billing_blocked_q

from .test_routing_cost import wire_statements
from conftest import test_database_url

PROJECT_DIR = Path(__file__).resolve().parent.parent
DAY = dt.timedelta(days=1)
GRACE = dt.timedelta(days=7)  # settings.BILLING_GRACE_DAYS's default


def billing_columns(slug: str) -> tuple[object, ...]:
    return tuple(
        Tenant.objects.filter(slug=slug)
        .values_list("billing_status", "billing_past_due_since", "billing_period_end", "billing_trial_end")
        .get()
    )


def routing_version() -> int:
    return RoutingVersion.objects.get(id=1).version


def subscription_set(tenant: Tenant, **fields: object) -> None:
    """Write `tenant`'s subscription with QuerySet.update (no signal, no save()): only the trigger tells the tenant."""
    assert Subscription.objects.filter(tenant_id=tenant.pk).update(**fields) == 1


def bare_tenant(slug: str) -> Tenant:
    """An active tenant row without schema or subscription (nothing routes to it)."""
    with schema_context("public"):
        return Tenant.objects.create(
            name=slug, slug=slug, schema_name=f"tenant_{slug.replace('-', '_')}", status="active"
        )


# --- the trigger: every write path of billing_subscription moves the tenant row and the routing version ----------


def _orm_save(tenant, when):
    subscription = Subscription.objects.get(tenant_id=tenant.pk)
    subscription.status, subscription.past_due_since, subscription.current_period_end = "past_due", when, when + DAY
    subscription.save()
    return ("past_due", when, when + DAY, None)


def _queryset_update(tenant, when):
    subscription_set(tenant, status="canceled", current_period_end=when, trial_end=when - DAY)
    return ("canceled", None, when, when - DAY)


def _raw_sql(tenant, when):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE public.billing_subscription SET status = 'trialing', trial_end = %s, current_period_end = %s "
            "WHERE tenant_id = %s",
            [when, when, tenant.pk],
        )
    return ("trialing", None, when, when)


def _delete(tenant, when):
    subscription_set(tenant, status="past_due", past_due_since=when)
    assert billing_columns(tenant.slug)[0] == "past_due"
    Subscription.objects.filter(tenant_id=tenant.pk).delete()
    return ("active", None, None, None)


@pytest.mark.parametrize("write", [_orm_save, _queryset_update, _raw_sql, _delete])
def test_the_tenant_row_and_the_routing_version_follow_every_write_of_the_subscription(tenant, write):
    when = timezone.now().replace(microsecond=0) - 3 * DAY
    version = routing_version()

    expected = write(tenant, when)

    assert billing_columns("acme") == expected
    assert routing_version() > version
    assert billing_columns("globex") == ("active", None, None, None)  # the other tenant is untouched


def test_a_write_that_keeps_the_access_state_leaves_the_tenant_row_and_the_routing_version_alone(tenant):
    """A plan change or a Stripe id (any column but the four copied ones) must not empty every process's routing
    directory: the trigger writes the tenant row only when a copied value differs."""
    version, columns = routing_version(), billing_columns("acme")

    subscription_set(tenant, plan=Plan.objects.get(code="starter"), stripe_customer_id="cus_same", stripe_state_at=7)
    Subscription.objects.get(tenant_id=tenant.pk).save()

    assert (routing_version(), billing_columns("acme")) == (version, columns)
    subscription_set(tenant, status="past_due", past_due_since=timezone.now())
    assert routing_version() > version


def test_an_inserted_subscription_and_one_moved_to_another_tenant_carry_their_state(tenant):
    when = timezone.now().replace(microsecond=0) - DAY
    subscription_set(tenant, status="past_due", past_due_since=when)
    newcomer = bare_tenant("billing-newcomer")
    version = routing_version()

    subscription_start(tenant=newcomer, plan_code="starter", now=when)  # ORM insert: trialing for 14 days
    assert billing_columns("billing-newcomer") == ("trialing", None, when + 14 * DAY, when + 14 * DAY)
    assert routing_version() > version

    Subscription.objects.filter(tenant_id=newcomer.pk).delete()
    version = routing_version()
    Subscription.objects.filter(tenant_id=tenant.pk).update(tenant_id=newcomer.pk)  # moved to another tenant
    assert billing_columns("acme") == ("active", None, None, None)  # the old tenant is reset
    assert billing_columns("billing-newcomer") == ("past_due", when, None, None)
    assert routing_version() > version


def test_without_the_trigger_the_tenant_row_would_stay_stale(tenant):
    with connection.cursor() as cursor:  # dropped inside the test's transaction: rolled back with it
        cursor.execute("DROP TRIGGER billing_subscription_to_tenant ON public.billing_subscription")
    version = routing_version()

    subscription_set(tenant, status="canceled", current_period_end=timezone.now() - DAY)

    assert billing_columns("acme") == ("active", None, None, None)
    assert routing_version() == version
    assert Tenant.objects.get(slug="acme").access() is Access.FULL  # a canceled tenant would keep working


# --- what each state allows, through HTTP on the tenant's host ------------------------------------------------


def customer_post(client, name="Billing Probe"):
    return client.post("/customers/new/", {"name": name, "email": f"{uuid.uuid4().hex[:8]}@example.com"})


def customer_exists(tenant, name):
    with tenant_context(tenant):
        return Customer.objects.filter(name=name).exists()


def test_past_due_within_the_grace_period_works_with_a_banner_naming_the_read_only_date(tenant, tenant_client):
    since = timezone.now() - 2 * DAY
    subscription_set(tenant, status="past_due", past_due_since=since)

    page = tenant_client.get("/customers/")
    assert page.status_code == 200
    banner = f"becomes read-only on {since + GRACE:%Y-%m-%d %H:%M} UTC"
    assert 'data-testid="billing-banner"' in page.content.decode() and banner in page.content.decode()
    assert customer_post(tenant_client, "Within Grace").status_code == 302
    assert customer_exists(tenant, "Within Grace")


def test_past_the_grace_period_reads_work_and_writes_are_refused(
    tenant, tenant_client, client_for, owner_user, tenant_path
):
    subscription_set(tenant, status="past_due", past_due_since=timezone.now() - GRACE - DAY)

    page = tenant_client.get("/customers/")
    assert page.status_code == 200
    assert "read-only until the subscription is paid" in page.content.decode()
    assert "An owner can pay on the Billing page." in page.content.decode()
    assert 'data-testid="billing-banner-link"' not in page.content.decode()  # a member gets no link
    assert tenant_client.head("/customers/").status_code == 200

    refused = customer_post(tenant_client, "Past Grace")
    assert refused.status_code == 403
    assert "read-only because payment is overdue" in refused.content.decode()
    assert f'href="{tenant_path("/billing/")}"' in refused.content.decode()
    assert not customer_exists(tenant, "Past Grace")

    owner = client_for(tenant, owner_user)
    billing_page = owner.get("/billing/")
    assert billing_page.status_code == 200 and 'data-testid="billing-banner"' in billing_page.content.decode()
    assert 'data-testid="billing-banner-link"' in owner.get("/").content.decode()  # the owner's banner links there
    # Exempt paths take unsafe methods too: the Billing page's forms, logging out.
    assert owner.post("/billing/checkout/", {"plan": "nope"}).status_code == 302  # back to the page, an error
    assert owner.post("/accounts/logout/").status_code == 302
{%- if cookiecutter.use_drf == "y" %}


def test_the_api_of_a_read_only_tenant_answers_json_with_the_reason_code(tenant, tenant_client):
    subscription_set(tenant, status="past_due", past_due_since=timezone.now() - GRACE - DAY)

    assert tenant_client.get("/api/customers/").status_code == 200
    response = tenant_client.post("/api/customers/", {"name": "Api", "email": "api-ro@example.com"},
                                  content_type="application/json")  # fmt: skip
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "tenant_read_only" and "read-only because its payment is overdue" in body["detail"]
    assert tenant_client.delete("/api/customers/1/").json()["code"] == "tenant_read_only"
{%- endif %}


def test_a_paid_invoice_restores_writes_at_once_in_the_same_process(tenant, tenant_client):
    subscription_set(tenant, status="past_due", past_due_since=timezone.now() - GRACE - DAY)
    assert customer_post(tenant_client).status_code == 403  # the directory now holds the read-only row

    subscription_set(tenant, status="active", past_due_since=None)  # what invoice.paid writes

    assert customer_post(tenant_client, "Paid Again").status_code == 302
    assert customer_exists(tenant, "Paid Again")
    assert 'data-testid="billing-banner"' not in tenant_client.get("/customers/").content.decode()


def test_canceled_works_until_the_period_ends_then_is_suspended_but_can_pay(tenant, tenant_client, client_for,
                                                                            owner_user, tenant_path):  # fmt: skip
    period_end = timezone.now() + 3 * DAY
    subscription_set(tenant, status="canceled", current_period_end=period_end)
    page = tenant_client.get("/")
    assert page.status_code == 200
    assert f"is suspended on {period_end:%Y-%m-%d %H:%M} UTC" in page.content.decode()
    assert customer_post(tenant_client, "Before The End").status_code == 302

    subscription_set(tenant, current_period_end=timezone.now() - DAY)
    owner = client_for(tenant, owner_user)
    for client, path in ((tenant_client, "/"), (tenant_client, "/customers/"), (owner, "/admin/")):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "is suspended because its subscription has ended" in response.content.decode()
        assert f'href="{tenant_path("/billing/")}"' in response.content.decode()
    assert customer_post(tenant_client, "After The End").status_code == 403
    assert not customer_exists(tenant, "After The End")
    assert owner.get("/billing/").status_code == 200
    assert client_for(tenant).get("/accounts/login/").status_code == 200
    with owner.verbatim():  # static files are on the host, outside tenants' base paths
        assert owner.get("/static/css/app.css").status_code == 200
{%- if cookiecutter.use_drf == "y" %}
    assert tenant_client.get("/api/customers/").json()["code"] == "tenant_suspended"
{%- endif %}


def test_an_operator_suspension_has_no_billing_exemption(tenant, client_for, owner_user):
    subscription_set(tenant, status="canceled", current_period_end=timezone.now() - DAY)
    Tenant.objects.filter(pk=tenant.pk).update(status="suspended")
    owner = client_for(tenant, owner_user)

    for path in ("/billing/", "/accounts/login/", "/"):
        response = owner.get(path)
        assert response.status_code == 403, path
        assert "Contact support" in response.content.decode() and "/billing/" not in response.content.decode()


def test_a_refused_write_costs_only_the_routing_statement(tenant, tenant_client):
    subscription_set(tenant, status="past_due", past_due_since=timezone.now() - GRACE - DAY)
    tenant_client.get("/customers/")  # fills the routing directory

    with wire_statements() as sent:
        assert customer_post(tenant_client).status_code == 403

    assert len(sent) == 1 and "tenancy_routingversion" in sent[0], sent


def test_non_members_see_no_banner(tenant, client_for):
    subscription_set(tenant, status="past_due", past_due_since=timezone.now() - DAY)
    assert 'data-testid="billing-banner"' not in client_for(tenant).get("/accounts/login/").content.decode()


# --- BILLING_GRACE_DAYS ---------------------------------------------------------------------------------------


@override_settings(BILLING_GRACE_DAYS=0)
def test_a_grace_of_zero_days_makes_an_overdue_tenant_read_only_at_once(tenant, tenant_client):
    subscription_set(tenant, status="past_due", past_due_since=timezone.now())

    assert billing_grace() == dt.timedelta(0)
    assert "read-only until the subscription is paid" in tenant_client.get("/customers/").content.decode()
    assert customer_post(tenant_client).status_code == 403


@pytest.mark.parametrize("value", [-1, "seven", float("nan"), 36501])
def test_a_grace_period_that_is_not_a_number_of_days_fails_the_system_check(value):
    with override_settings(BILLING_GRACE_DAYS=value):
        [error] = billing_grace_check()
    assert error.id == "tenancy.E004" and repr(value) in error.msg


def test_billing_grace_days_zero_from_the_environment_reaches_a_separate_process(django_db_blocker):
    """The acceptance path: BILLING_GRACE_DAYS=0 in the environment, a subscription just past due."""
    with django_db_blocker.unblock():
        tenant = bare_tenant("billing-grace-zero")
        try:
            subscription_start(tenant=tenant)
            subscription_set(tenant, status="past_due", past_due_since=timezone.now())
            env = {**os.environ, "DATABASE_URL": test_database_url(), "DJANGO_SETTINGS_MODULE": "config.settings.test",
                   "BILLING_GRACE_DAYS": "0"}  # fmt: skip
            result = subprocess.run(
                [sys.executable, "manage.py", "list_tenants", "--format", "json"], cwd=PROJECT_DIR, env=env,
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            rows = {row["slug"]: row for row in json.loads(result.stdout)}
            assert rows["billing-grace-zero"]["access"] == "read_only"
            assert Tenant.objects.get(slug="billing-grace-zero").access() is Access.FULL  # 7 days here
        finally:
            Tenant.objects.filter(slug="billing-grace-zero").delete()


# --- list_tenants -------------------------------------------------------------------------------------------------


def test_list_tenants_shows_each_tenants_plan_billing_status_and_access(tenant):
    subscription_set(tenant, status="past_due", past_due_since=timezone.now() - GRACE - DAY)
    Subscription.objects.filter(tenant__slug="globex").update(status="canceled", current_period_end=None)
    out = io.StringIO()
    call_command("list_tenants", "--format", "json", "--include-public", stdout=out)
    rows = {row["slug"]: row for row in json.loads(out.getvalue())}

    plan = Subscription.objects.get(tenant_id=tenant.pk).plan.code
    assert {key: rows["acme"][key] for key in ("plan", "billing", "access")} == {
        "plan": plan, "billing": "past_due", "access": "read_only"}  # fmt: skip
    assert rows["globex"]["access"] == "suspended"
    assert rows["public"]["plan"] is None and rows["public"]["access"] == "full"
    table = io.StringIO()
    call_command("list_tenants", stdout=table)
    assert "read_only" in table.getvalue() and "past_due" in table.getvalue()


# --- billing_blocked_q: exactly the tenants access_for blocks -----------------------------------------------------


@pytest.mark.django_db
def test_billing_blocked_q_matches_access_for_over_a_grid_of_states_and_times():
    now = timezone.now()
    graces = [dt.timedelta(0), GRACE, dt.timedelta(minutes=90)]
    tick = dt.timedelta(microseconds=1)
    offsets = sorted({-10 * DAY, -tick, dt.timedelta(0), tick, 10 * DAY}
                     | {edge - g for g in graces for edge in (-tick, dt.timedelta(0), tick)})  # fmt: skip
    moments = [None, *(now + offset for offset in offsets)]
    statuses = ["trialing", "active", "past_due", "canceled", "paused"]
    grid = list(itertools.product(statuses, moments, moments, moments))
    Tenant.objects.bulk_create(
        Tenant(name="grid", slug=f"grid-{i}", schema_name=f"tenant_grid_{i}", status="active", billing_status=status,
               billing_past_due_since=since, billing_period_end=period_end, billing_trial_end=trial_end)
        for i, (status, since, period_end, trial_end) in enumerate(grid)
    )  # fmt: skip
    rows = list(Tenant.objects.filter(slug__startswith="grid-"))
    assert len(rows) == len(grid)

    for grace in graces:
        blocked = {t.slug for t in rows if access_for(t.billing_snapshot, now=now, grace=grace) is not Access.FULL}
        assert 0 < len(blocked) < len(rows)
        grid_rows = Tenant.objects.filter(slug__startswith="grid-")
        assert set(grid_rows.filter(billing_blocked_q(now, grace)).values_list("slug", flat=True)) == blocked, grace
        kept = set(grid_rows.exclude(billing_blocked_q(now, grace)).values_list("slug", flat=True))
        assert kept == {t.slug for t in rows} - blocked, grace


def test_access_for_reads_the_snapshot_the_tenant_row_carries(tenant):
    since = timezone.now() - GRACE - DAY
    subscription_set(tenant, status="past_due", past_due_since=since)
    row = Tenant.objects.get(slug="acme")
    assert row.billing_snapshot == BillingSnapshot(status="past_due", past_due_since=since)
    assert row.access() is Access.READ_ONLY
    assert row.access(now=since + dt.timedelta(days=1)) is Access.FULL
