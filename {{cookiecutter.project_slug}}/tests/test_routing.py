"""Routing by host, membership on tenant hosts, and isolation between tenants."""

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.services import membership_grant, user_get_or_create
from {{ cookiecutter.project_slug }}.products.models import Product

pytestmark = pytest.mark.django_db


def test_public_host_serves_the_landing_page():
    response = Client(HTTP_HOST="localhost").get("/")
    assert response.status_code == 200
    assert b'data-testid="public-landing"' in response.content


@pytest.mark.parametrize("host", ["nope.localhost", "acme.localhost.evil.localhost", "www.acme.localhost"])
def test_unknown_host_gets_404_not_the_public_site(host):
    response = Client(HTTP_HOST=host).get("/")
    assert response.status_code == 404
    assert b"public-landing" not in response.content
    assert host.encode() in response.content


def test_host_is_normalised_before_routing(tenant):
    for host in ("ACME.localhost", "acme.localhost.", "acme.localhost:8000"):
        response = Client(HTTP_HOST=host).get("/accounts/login/")
        assert response.status_code == 200, host
        assert b"Acme Corporation" in response.content


@pytest.mark.parametrize("host", ["10.1.2.3", "203.0.113.9:8080", "evil.example.org", "acme.localhost"])
def test_healthz_answers_on_any_host_and_checks_the_database(host):
    response = Client(HTTP_HOST=host).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"{% if cookiecutter.use_celery == "y" %}, "redis": "ok"{% endif %}}


def test_tenant_pages_require_login(client_for, tenant, login_redirect):
    response = client_for(tenant).get("/products/")
    assert response.status_code == 302
    assert response["Location"] == login_redirect("/products/")


def test_member_sees_the_tenant_dashboard(tenant_client):
    response = tenant_client.get("/")
    assert response.status_code == 200
    assert b"Acme Corporation" in response.content


def test_member_of_one_tenant_is_anonymous_on_another_tenants_host(
    client_for, tenant, other_tenant, member_user, tenant_path
):
    client = client_for(tenant, member_user)
    if settings.TENANCY_ROUTING == "path":
        # One host, one session: on globex's pages the acme member is known but refused.
        with client.verbatim():
            response = client.get(tenant_path("/products/", of=other_tenant))
        assert response.status_code == 403
        assert b"Globex Corporation" in response.content
    else:
        # The same session cookie, replayed on globex's host.
        response = client.get("/products/", HTTP_HOST="globex.localhost")
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_login_on_a_tenant_host_is_refused_for_non_members(client_for, other_tenant, member_user):
    response = client_for(other_tenant).post(
        "/accounts/login/", {"login": "member@acme.localhost", "password": "member-password"}
    )
    assert response.status_code == 200
    assert b"is not a member of Globex Corporation" in response.content


def test_login_on_a_tenant_host_works_for_members(client_for, tenant, member_user):
    client = client_for(tenant)
    response = client.post("/accounts/login/", {"login": "MEMBER@acme.localhost", "password": "member-password"})
    assert response.status_code == 302
    assert client.get("/products/").status_code == 200


def test_rows_created_in_acme_are_listed_there_and_unreachable_from_globex(
    client_for, tenant, other_tenant, member_user
):
    product = Product.objects.create(name="Isolation Probe 7f3a", sku="PROBE-7F3A", price="3.00")
    globex_member = user_get_or_create(email="member@globex.localhost", password="member-password")
    membership_grant(user=globex_member, tenant=other_tenant, role="member")

    acme = client_for(tenant, member_user)
    assert b"Isolation Probe 7f3a" in acme.get("/products/").content

    globex = client_for(other_tenant, globex_member)
    listing = globex.get("/products/")
    assert listing.status_code == 200
    assert b"Isolation Probe 7f3a" not in listing.content
    by_id = globex.get(f"/products/{product.pk}/edit/")
    assert b"Isolation Probe 7f3a" not in by_id.content
    with tenant_context(other_tenant):
        assert not Product.objects.filter(sku="PROBE-7F3A").exists()


def test_tenant_admin_is_for_owners_and_admins_only(client_for, tenant, member_user, owner_user):
    assert client_for(tenant, owner_user).get("/admin/").status_code == 200
    assert client_for(tenant, member_user).get("/admin/", follow=True).status_code == 403
    assert client_for(tenant).get("/admin/").status_code == 302


def test_platform_admin_is_on_the_public_host_only(tenant, client_for):
    from {{ cookiecutter.project_slug }}.accounts.models import User

    connection.set_schema_to_public()
    staff = User.objects.create_superuser(email="ops@example.com", password="ops-password")
    public = Client(HTTP_HOST="localhost")
    public.force_login(staff)
    assert b"Tenants" in public.get("/admin/").content
    # Platform staff have no rights inside a tenant they are not a member of: anonymous there in domain mode (the
    # login page), refused in path mode (their session is on the same host).
    expected = 403 if settings.TENANCY_ROUTING == "path" else 302
    assert client_for(tenant, staff).get("/admin/").status_code == expected
