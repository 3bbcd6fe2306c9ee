"""The audit log: each destructive or privileged operation writes one AuditEvent, in its own transaction.

Operations run through their real edges: management commands (origin `cli:<command>` and the OS user),
the platform admin on the public host (origin `web`, the client's IP, the logged-in staff user),
{%- if cookiecutter.use_celery == "y" %}
a Celery task run by Celery's own machinery (origin `task:<name>`),
{%- endif %}
and the services with an `actor`. Tenant restore and drop with a backup are checked in test_backup.py,
adoption in adoption/test_adopt_single_tenant.py (they need committed schemas or another database).
"""

from __future__ import annotations

import getpass
import io

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.db import IntegrityError, connection
from django.test import Client
from django_tenants.utils import schema_exists

from {{ cookiecutter.project_slug }}.accounts.invitations import invitation_accept, invitation_create, invitation_withdraw
from {{ cookiecutter.project_slug }}.accounts.models import Membership, User
from {{ cookiecutter.project_slug }}.accounts.services import (
    LastOwner,
    membership_grant,
    membership_remove,
    membership_role_change,
    user_delete,
    user_get_or_create,
)
from {{ cookiecutter.project_slug }}.audit.admin import AuditedModelAdmin
from {{ cookiecutter.project_slug }}.audit.models import AuditEvent
from {{ cookiecutter.project_slug }}.audit.services import ACTIONS, audit_record
from {{ cookiecutter.project_slug }}.errors import InvalidValue
from {{ cookiecutter.project_slug }}.lifecycle.services import tenant_create, tenant_drop
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

pytestmark = pytest.mark.django_db
OS_USER = getpass.getuser()
PASSWORD = "a-long-test-password"


def events(action: str, **filters: object) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("id"))


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    connection.set_schema_to_public()
    return out.getvalue()


@pytest.fixture(autouse=True)
def _no_events_before() -> None:
    """Each test sees only its own events (setting up the test database recorded the demo tenants'; the test's
    transaction rolls this deletion back)."""
    AuditEvent.objects.all().delete()


@pytest.fixture
def staff() -> User:
    return User.objects.create_superuser(email="ops@platform.example", password=PASSWORD)


@pytest.fixture
def platform_client(staff: User) -> Client:
    """A client on the public host (the platform admin), logged in as platform staff, from a documentation IP."""
    client = Client(HTTP_HOST="localhost", REMOTE_ADDR="203.0.113.7")
    client.force_login(staff)
    return client


# --- tenants, through their commands -------------------------------------------------------------------------


def test_create_tenant_command_records_one_tenant_create_from_the_cli() -> None:
    run("create_tenant", "--name", "Initech", "--slug", "initech", "--owner-email", "boss@initech.example")

    [event] = events("tenant.create")
    assert event.schema_name == "tenant_initech" and event.tenant_id == Tenant.objects.get(slug="initech").pk
    assert (event.origin, event.os_user, event.ip_address) == ("cli:create_tenant", OS_USER, None)
    assert event.actor is None and event.actor_email == ""
    assert event.detail["owner_email"] == "boss@initech.example" and event.detail["domain"] == "initech.localhost"
    # The owner membership is a grant of its own, in the same transaction.
    [grant] = events("membership.grant")
    assert grant.schema_name == "tenant_initech" and grant.detail == {
        "email": "boss@initech.example", "from": None, "to": "owner"
    }  # fmt: skip


def test_tenant_status_command_records_suspend_archive_and_activate() -> None:
    run("tenant_status", "--tenant", "globex", "--set", "suspended")
    run("tenant_status", "--tenant", "globex", "--set", "suspended")  # no change, no event
    run("tenant_status", "--tenant", "globex", "--set", "archived")
    run("tenant_status", "--tenant", "globex", "--set", "active")

    recorded = [(e.action, e.detail["from"], e.detail["to"]) for e in AuditEvent.objects.order_by("id")]
    assert recorded == [
        ("tenant.suspend", "active", "suspended"),
        ("tenant.archive", "suspended", "archived"),
        ("tenant.activate", "archived", "active"),
    ]
    assert {(e.origin, e.os_user, e.schema_name) for e in AuditEvent.objects.all()} == {
        ("cli:tenant_status", OS_USER, "tenant_globex")
    }


def test_drop_schema_command_records_the_drop_and_keeps_the_schema_name_after_the_row_is_gone() -> None:
    tenant = tenant_create(name="Doomed", slug="doomed")
    AuditEvent.objects.all().delete()

    run("drop_schema", "--tenant", "doomed", "--force", "--no-backup")

    assert not Tenant.objects.filter(slug="doomed").exists() and not schema_exists("tenant_doomed")
    [event] = events("tenant.drop")
    assert (event.schema_name, event.tenant_id, event.target) == ("tenant_doomed", tenant.pk, "tenant 'doomed'")
    assert (event.origin, event.os_user) == ("cli:drop_schema", OS_USER)
    assert event.detail == {"slug": "doomed", "name": "Doomed", "backup": None}


def test_createsuperuser_with_tenant_records_the_owner_grant_from_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)

    run("createsuperuser", "--tenant", "globex", "--email", "chief@globex.example", "--noinput")

    [event] = events("membership.grant")
    assert (event.origin, event.os_user, event.schema_name) == ("cli:createsuperuser", OS_USER, "tenant_globex")
    assert event.detail == {"email": "chief@globex.example", "from": None, "to": "owner"}


# --- the same transaction ------------------------------------------------------------------------------------


def test_a_drop_that_fails_after_its_audit_write_leaves_no_event() -> None:
    tenant = tenant_create(name="Held", slug="held")
    AuditEvent.objects.all().delete()
    # A row the ORM does not know refers to the tenant: deleting the tenant row violates this foreign key,
    # after tenant_drop wrote its event inside the same transaction.
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE audit_test_hold (tenant_id bigint NOT NULL REFERENCES tenancy_tenant (id))")
        cursor.execute("INSERT INTO audit_test_hold VALUES (%s)", [tenant.pk])

    with pytest.raises(IntegrityError, match="audit_test_hold"):
        tenant_drop(slug="held")

    assert Tenant.objects.filter(slug="held").exists() and schema_exists("tenant_held")
    assert not AuditEvent.objects.exists()


def test_a_role_change_refused_by_the_last_owner_rule_leaves_no_event(tenant: Tenant, owner_user: User) -> None:
    with pytest.raises(LastOwner):
        membership_role_change(tenant=tenant, user=owner_user, role="member")
    assert not AuditEvent.objects.exists()


# --- memberships and invitations -----------------------------------------------------------------------------


def test_membership_changes_record_actor_target_and_roles(tenant: Tenant, owner_user: User) -> None:
    colleague = user_get_or_create(email="colleague@acme.example", password=PASSWORD)

    membership_grant(user=colleague, tenant=tenant, role="member", actor=owner_user)
    membership_grant(user=colleague, tenant=tenant, role="member", actor=owner_user)  # unchanged: no event
    membership_role_change(tenant=tenant, user=colleague, role="admin", actor=owner_user)
    membership_remove(tenant=tenant, user=colleague, actor=owner_user)

    recorded = [(e.action, e.actor_id, e.actor_email, e.schema_name) for e in AuditEvent.objects.order_by("id")]
    assert recorded == [
        ("membership.grant", owner_user.pk, owner_user.email, "tenant_acme"),
        ("membership.role_change", owner_user.pk, owner_user.email, "tenant_acme"),
        ("membership.remove", owner_user.pk, owner_user.email, "tenant_acme"),
    ]
    assert [e.detail for e in AuditEvent.objects.order_by("id")] == [
        {"email": "colleague@acme.example", "from": None, "to": "member"},
        {"email": "colleague@acme.example", "from": "member", "to": "admin"},
        {"email": "colleague@acme.example", "role": "admin"},
    ]


def test_invitations_record_create_withdraw_and_accept(tenant: Tenant, owner_user: User) -> None:
    withdrawn, _ = invitation_create(tenant=tenant, email="gone@acme.example", role="admin", invited_by=owner_user)
    invitation_withdraw(tenant=tenant, invitation_id=withdrawn.pk, actor=owner_user)
    _, token = invitation_create(tenant=tenant, email="new@acme.example", role="member", invited_by=owner_user)
    member = invitation_accept(token=token, tenant=tenant, password=PASSWORD)

    recorded = [(e.action, e.actor_email, e.detail["email"]) for e in AuditEvent.objects.order_by("id")]
    assert recorded == [
        ("invitation.create", owner_user.email, "gone@acme.example"),
        ("invitation.withdraw", owner_user.email, "gone@acme.example"),
        ("invitation.create", owner_user.email, "new@acme.example"),
        ("invitation.accept", "new@acme.example", "new@acme.example"),
    ]
    accepted = events("invitation.accept")[0]
    assert accepted.actor_id == member.pk and accepted.detail["role"] == "member"
    assert accepted.detail["invited_by"] == owner_user.email and accepted.schema_name == "tenant_acme"


def test_the_actors_email_stays_when_the_actor_is_deleted(tenant: Tenant, owner_user: User) -> None:
    colleague = user_get_or_create(email="leaver@acme.example", password=PASSWORD)
    membership_grant(user=colleague, tenant=tenant, role="owner", actor=owner_user)
    membership_role_change(tenant=tenant, user=owner_user, role="admin", actor=colleague)
    membership_role_change(tenant=tenant, user=owner_user, role="owner")

    user_delete(user=colleague)

    [change] = events("membership.role_change", detail__to="admin")
    assert change.actor is None and change.actor_email == "leaver@acme.example"
    [deleted] = events("user.delete")
    assert deleted.detail["email"] == "leaver@acme.example"


# --- the platform admin --------------------------------------------------------------------------------------


def test_platform_admin_status_action_records_staff_user_and_client_ip(platform_client: Client, staff: User) -> None:
    globex = Tenant.objects.get(slug="globex")

    response = platform_client.post("/admin/tenancy/tenant/", {"action": "suspend", "_selected_action": [globex.pk]})

    assert response.status_code == 302
    [event] = events("tenant.suspend")
    assert (event.actor_id, event.actor_email) == (staff.pk, "ops@platform.example")
    assert (event.origin, event.ip_address, event.os_user) == ("web", "203.0.113.7", "")
    assert event.schema_name == "tenant_globex"


def test_platform_admin_change_and_deletes_are_recorded(platform_client: Client, staff: User, tenant: Tenant) -> None:
    people = [user_get_or_create(email=f"p{n}@acme.example") for n in range(3)]
    memberships = [membership_grant(user=person, tenant=tenant, role="member") for person in people]
    AuditEvent.objects.all().delete()

    changed = platform_client.post(
        f"/admin/accounts/membership/{memberships[0].pk}/change/",
        {"user": people[0].pk, "tenant": tenant.pk, "role": "admin"},
    )
    deleted = platform_client.post(f"/admin/accounts/membership/{memberships[0].pk}/delete/", {"post": "yes"})
    bulk = platform_client.post(
        "/admin/accounts/membership/",
        {"action": "delete_selected", "post": "yes", "_selected_action": [m.pk for m in memberships[1:]]},
    )

    assert [changed.status_code, deleted.status_code, bulk.status_code] == [302, 302, 302]
    assert not Membership.objects.filter(pk__in=[m.pk for m in memberships]).exists()
    recorded = [(e.action, e.detail["pk"]) for e in AuditEvent.objects.order_by("id")]
    pks = [str(m.pk) for m in memberships]
    assert recorded[:2] == [("admin.change", pks[0]), ("admin.delete", pks[0])]
    assert sorted(recorded[2:]) == sorted([("admin.delete", pks[1]), ("admin.delete", pks[2])])
    assert {(e.actor_id, e.origin, e.ip_address, e.schema_name) for e in AuditEvent.objects.all()} == {
        (staff.pk, "web", "203.0.113.7", "tenant_acme")
    }
    assert events("admin.change")[0].detail["model"] == "accounts.Membership"


def test_platform_admin_lists_audit_events_and_refuses_to_change_them(platform_client: Client) -> None:
    globex = Tenant.objects.get(slug="globex")
    event = audit_record("tenant.drop", tenant=globex, target="tenant 'listed'", detail={"slug": "listed"})

    listing = platform_client.get("/admin/audit/auditevent/", {"action__exact": "tenant.drop"})
    found = platform_client.get("/admin/audit/auditevent/", {"q": "tenant_globex"})
    missed = platform_client.get("/admin/audit/auditevent/", {"q": "tenant_nomatch"})
    add = platform_client.get("/admin/audit/auditevent/add/")
    change = platform_client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"action": "tenant.create"})
    delete = platform_client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"})

    assert listing.status_code == 200 and "tenant &#x27;listed&#x27;" in listing.text
    assert found.status_code == 200 and "tenant &#x27;listed&#x27;" in found.text
    assert missed.status_code == 200 and "tenant &#x27;listed&#x27;" not in missed.text
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert AuditEvent.objects.get(pk=event.pk).action == "tenant.drop"


def test_every_project_model_admin_on_the_platform_admin_is_audited() -> None:
    project = [
        model_admin for model_admin in admin.site._registry.values()
        if type(model_admin).__module__.startswith("{{ cookiecutter.project_slug }}.")
    ]  # fmt: skip
    assert project
    unaudited = [
        type(m).__name__ for m in project if not isinstance(m, AuditedModelAdmin) and m.model is not AuditEvent
    ]
    assert not unaudited


# --- the record itself ---------------------------------------------------------------------------------------


def test_an_unknown_action_is_refused_naming_the_accepted_ones() -> None:
    with pytest.raises(InvalidValue, match=r"'tenant\.explode' is not known; accepted: admin\.add"):
        audit_record("tenant.explode")
    assert "tenant.drop" in ACTIONS


def test_an_event_cannot_be_rewritten() -> None:
    event = audit_record("tenant.drop", target="x")
    event.action = "tenant.create"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
{%- if cookiecutter.use_drf == "y" %}


def test_api_key_creation_and_revocation_are_recorded_with_their_owner(tenant: Tenant, owner_user: User) -> None:
    from {{ cookiecutter.project_slug }}.accounts.api_keys import api_key_create, api_key_revoke

    api_key, _ = api_key_create(user=owner_user, tenant=tenant, name="CI deploys")
    api_key_revoke(user=owner_user, tenant=tenant, key_id=api_key.pk)
    api_key_revoke(user=owner_user, tenant=tenant, key_id=api_key.pk)  # revoked already: no event

    recorded = [(e.action, e.actor_id, e.schema_name, e.detail["prefix"]) for e in AuditEvent.objects.order_by("id")]
    assert recorded == [
        ("api_key.create", owner_user.pk, "tenant_acme", api_key.prefix),
        ("api_key.revoke", owner_user.pk, "tenant_acme", api_key.prefix),
    ]
    assert events("api_key.create")[0].detail["name"] == "CI deploys"
{%- endif %}
{%- if cookiecutter.use_celery == "y" %}


def test_a_celery_task_records_its_task_name_as_origin() -> None:
    from {{ cookiecutter.project_slug }}.lifecycle.tasks import provision_tenant

    result = provision_tenant.apply(kwargs={"name": "Queued", "slug": "queued"})

    assert result.get() == "tenant_queued"
    [event] = events("tenant.create")
    assert (event.origin, event.os_user, event.schema_name) == ("task:tenancy.provision_tenant", "", "tenant_queued")
{%- endif %}
