"""API keys: created on the tenant host's page (shown once, stored hashed), used as `Authorization: Bearer`
against the REST API as the member with their current role, and refused once revoked, on another tenant's
host, or after the member was removed."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from {{ cookiecutter.project_slug }}.accounts.api_keys import (
    ApiKeyRefused,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
)
from {{ cookiecutter.project_slug }}.accounts.models import ApiKey, User
from {{ cookiecutter.project_slug }}.accounts.services import (
    NotAMember,
    membership_grant,
    membership_remove,
    membership_role_change,
    user_get_or_create,
)
from {{ cookiecutter.project_slug }}.customers.services import customer_create
from {{ cookiecutter.project_slug }}.products.services import product_create

from conftest import assert_stranger_refused, client_on

KEY_RE = re.compile(r"ak_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def person(tenant: Any, role: str = "member") -> User:
    user = user_get_or_create(email=f"keys-{role}-{uuid.uuid4().hex[:6]}@acme.localhost", password="key-password")
    membership_grant(user=user, tenant=tenant, role=role)
    return user


def api(tenant: Any, key: str, scheme: str = "Bearer") -> Client:
    """A client on `tenant` sending the key, with no session and CSRF checks on (as a script would)."""
    return client_on(tenant, HTTP_AUTHORIZATION=f"{scheme} {key}", enforce_csrf_checks=True)


def create_on_page(client: Client, name: str) -> tuple[Any, str]:
    response = client.post("/accounts/api-keys/", {"name": name})
    found = KEY_RE.findall(response.content.decode())
    return response, found[0] if found else ""


# --- the page -------------------------------------------------------------------------------------------


def test_a_member_creates_a_key_on_the_page_and_sees_it_once(
    tenant: Any, client_for: Callable[..., Client], member_user: User
) -> None:
    client = client_for(tenant, member_user)

    response, key = create_on_page(client, "nightly export")
    again = client.get("/accounts/api-keys/").content.decode()

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert key, response.content.decode()
    stored = ApiKey.objects.get(membership__user=member_user, name="nightly export")
    assert key not in again
    assert f"ak_{stored.prefix}_" in again
    assert "nightly export" in again
    assert "never" in again  # not used yet


def test_the_key_is_stored_only_as_a_hash(tenant: Any, member_user: User) -> None:
    api_key, key = api_key_create(user=member_user, tenant=tenant, name="hashed")

    row = ApiKey.objects.filter(pk=api_key.pk).values().get()
    secret = key.rsplit("_", 1)[1]
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert not any(secret in str(value) for value in row.values())
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM public.accounts_apikey WHERE key_hash = %s OR prefix = %s", [key, key])
        assert cursor.fetchone()[0] == 0


def test_the_page_refuses_a_bad_name_and_creates_nothing(
    tenant: Any, client_for: Callable[..., Client], member_user: User
) -> None:
    response, key = create_on_page(client_for(tenant, member_user), "   ")

    assert response.status_code == 400
    assert key == ""
    assert not ApiKey.objects.filter(membership__user=member_user).exists()


def test_the_page_is_for_members_of_the_host_tenant_only(
    tenant: Any,
    other_tenant: Any,
    client_for: Callable[..., Client],
    member_user: User,
    login_redirect: Callable[..., str],
) -> None:
    anonymous = client_for(tenant).get("/accounts/api-keys/")
    stranger = client_for(other_tenant, member_user).get("/accounts/api-keys/")

    assert anonymous.status_code == 302 and anonymous["Location"] == login_redirect("/accounts/api-keys/")
    assert_stranger_refused(stranger, "/accounts/api-keys/")
    if stranger.status_code == 302:  # domain routing: what an anonymous visitor of that host gets
        assert stranger["Location"] == login_redirect("/accounts/api-keys/", other_tenant)


def test_the_nav_links_to_the_page(
    tenant: Any, client_for: Callable[..., Client], member_user: User, tenant_path: Callable[..., str]
) -> None:
    link = f'href="{tenant_path("/accounts/api-keys/")}"'
    assert link in client_for(tenant, member_user).get("/").content.decode()


def test_a_member_revokes_a_key_on_the_page_and_it_stops_working(
    tenant: Any, client_for: Callable[..., Client], member_user: User
) -> None:
    api_key, key = api_key_create(user=member_user, tenant=tenant, name="to revoke")
    assert api(tenant, key).get("/api/products/").status_code == 200

    response = client_for(tenant, member_user).post(f"/accounts/api-keys/{api_key.pk}/revoke/")
    refused = api(tenant, key).get("/api/products/")

    assert response.status_code == 302
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    assert "revoked" in client_for(tenant, member_user).get("/accounts/api-keys/").content.decode()


def test_another_member_cannot_revoke_my_key(tenant: Any, client_for: Callable[..., Client], member_user: User) -> None:
    api_key, key = api_key_create(user=member_user, tenant=tenant, name="mine")

    response = client_for(tenant, person(tenant, "owner")).post(f"/accounts/api-keys/{api_key.pk}/revoke/")

    assert response.status_code == 404
    assert api(tenant, key).get("/api/products/").status_code == 200


# --- using a key ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "Api-Key", "bearer"])
def test_a_key_authenticates_api_requests_as_its_member(tenant: Any, member_user: User, scheme: str) -> None:
    _api_key, key = api_key_create(user=member_user, tenant=tenant, name="script")
    client = api(tenant, key, scheme)

    listed = client.get("/api/products/")
    created = client.post(
        "/api/customers/", {"name": "From a script", "email": f"script-{uuid.uuid4().hex[:6]}@example.com"},
        content_type="application/json",
    )  # fmt: skip

    assert listed.status_code == 200
    assert created.status_code == 201  # no CSRF token needed: the key is not a cookie


def test_a_key_reads_the_openapi_schema(tenant: Any, member_user: User) -> None:
    _api_key, key = api_key_create(user=member_user, tenant=tenant, name="codegen")

    assert api(tenant, key).get("/api/schema/").status_code == 200
    assert client_on(tenant).get("/api/schema/").status_code == 401


def test_a_booking_made_with_a_key_records_its_member(tenant: Any, member_user: User) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    product = product_create(name=f"Key room {tag}", sku=f"KEY-{tag}", price="1.00")
    customer = customer_create(name="Key customer", email=f"key-{tag}@example.com")
    _api_key, key = api_key_create(user=member_user, tenant=tenant, name="bookings")

    slot = {"start": "2036-01-01T09:00Z", "end": "2036-01-01T10:00Z"}
    body = {"product_id": product.pk, "customer_id": customer.pk, **slot}

    response = api(tenant, key).post("/api/bookings/", body, content_type="application/json")

    assert response.status_code == 201, response.content
    assert response.json()["created_by"] == member_user.email


def test_a_key_honours_the_members_current_role(tenant: Any, owner_user: User) -> None:
    user = person(tenant, "member")
    product = product_create(name="Role check", sku=f"ROLE-{uuid.uuid4().hex[:6].upper()}", price="1.00")
    _api_key, key = api_key_create(user=user, tenant=tenant, name="role")
    patch = {"path": f"/api/products/{product.pk}/", "data": {"stock": 3}, "content_type": "application/json"}

    as_member = api(tenant, key).patch(**patch)
    membership_role_change(tenant=tenant, user=user, role="admin", actor=owner_user)
    as_admin = api(tenant, key).patch(**patch)

    assert as_member.status_code == 403
    assert as_admin.status_code == 200


def test_a_key_is_refused_on_another_tenants_host(tenant: Any, other_tenant: Any, member_user: User) -> None:
    membership_grant(user=member_user, tenant=other_tenant, role="owner")  # a member there too: still refused
    _api_key, key = api_key_create(user=member_user, tenant=tenant, name="acme only")

    response = api(other_tenant, key).get("/api/products/")

    assert response.status_code == 401
    assert "another workspace" in response.json()["detail"]


def test_a_key_stops_working_when_the_member_is_removed(tenant: Any, owner_user: User) -> None:
    user = person(tenant)
    _api_key, key = api_key_create(user=user, tenant=tenant, name="leaver")
    assert api(tenant, key).get("/api/products/").status_code == 200

    membership_remove(tenant=tenant, user=user, actor=owner_user)
    response = api(tenant, key).get("/api/products/")

    assert response.status_code == 401
    membership_grant(user=user, tenant=tenant, role="member")  # coming back does not revive old keys
    assert api(tenant, key).get("/api/products/").status_code == 401


def test_a_key_of_a_deactivated_user_is_refused(tenant: Any, member_user: User) -> None:
    _api_key, key = api_key_create(user=member_user, tenant=tenant, name="inactive")
    User.objects.filter(pk=member_user.pk).update(is_active=False)

    assert api(tenant, key).get("/api/products/").status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer ak_000000000000_" + "A" * 43,  # well formed, unknown
        "Bearer not-a-key",
        "Bearer",
        "Bearer two parts",
        "Api-Key ak_\u00e9",
    ],
)
def test_a_bad_key_is_a_401_asking_for_a_bearer_token(tenant: Any, header: str) -> None:
    client = client_on(tenant, HTTP_AUTHORIZATION=header.encode().decode("latin-1"))

    response = client.get("/api/products/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_secret_with_a_real_prefix_is_refused(tenant: Any, member_user: User) -> None:
    _api_key, key = api_key_create(user=member_user, tenant=tenant, name="guessed")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")

    assert api(tenant, forged).get("/api/products/").status_code == 401


def test_last_used_is_written_at_most_once_a_minute(tenant: Any, member_user: User) -> None:
    api_key, key = api_key_create(user=member_user, tenant=tenant, name="busy")
    assert api_key.last_used_at is None

    api(tenant, key).get("/api/products/")
    first = ApiKey.objects.get(pk=api_key.pk).last_used_at
    api(tenant, key).get("/api/products/")
    second = ApiKey.objects.get(pk=api_key.pk).last_used_at
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now() - timedelta(seconds=61))
    api(tenant, key).get("/api/products/")
    third = ApiKey.objects.get(pk=api_key.pk).last_used_at

    assert first is not None
    assert second == first
    assert third is not None and third > first


# --- services --------------------------------------------------------------------------------------------


def test_api_key_create_refuses_a_non_member(tenant: Any, other_tenant: Any, member_user: User) -> None:
    with pytest.raises(NotAMember, match="not a member"):
        api_key_create(user=member_user, tenant=other_tenant, name="nope")


def test_api_key_authenticate_returns_the_key_with_its_membership(tenant: Any, member_user: User) -> None:
    api_key, key = api_key_create(user=member_user, tenant=tenant, name="service")

    found = api_key_authenticate(key=key, tenant=tenant)

    assert (found.pk, found.membership.user, found.membership.role) == (api_key.pk, member_user, "member")


def test_api_key_revoke_makes_authenticate_refuse(tenant: Any, member_user: User) -> None:
    api_key, key = api_key_create(user=member_user, tenant=tenant, name="service")

    api_key_revoke(user=member_user, tenant=tenant, key_id=api_key.pk)

    with pytest.raises(ApiKeyRefused, match="revoked"):
        api_key_authenticate(key=key, tenant=tenant)


def test_keys_live_in_the_public_schema(tenant: Any, member_user: User) -> None:
    api_key, _key = api_key_create(user=member_user, tenant=tenant, name="public")

    with schema_context("public"):
        assert ApiKey.objects.filter(pk=api_key.pk).exists()
