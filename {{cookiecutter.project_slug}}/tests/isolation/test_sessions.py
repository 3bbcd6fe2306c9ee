"""Sessions, CSRF tokens, login redirects and Host headers: what one host gave must not open another."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.login_tokens import login_family_new, login_token_issue
from {{ cookiecutter.project_slug }}.products.models import Product

from .conftest import GlobexRows, csrf_token_from

TENANT_PAGES = ["/", "/products/", "/products/catalogue/", "/customers/", "/bookings/", "/members/"]


def assert_login_page(response: Any, case: object) -> None:
    """The response sends the browser to the login page, as for an anonymous visitor."""
    assert response.status_code == 302, (case, response.status_code, response.content[:300])
    assert response["Location"].startswith("/accounts/login/"), (case, response["Location"])


@pytest.mark.guards_authorization
def test_a_session_cookie_replayed_on_another_tenants_host_gets_the_login_page(
    client_for: Callable[..., Client], tenant: Any, member_user: Any
) -> None:
    acme = client_for(tenant, member_user)
    for path in TENANT_PAGES:
        # The session works on its own host (the members page is for owners and admins: 403 for a member).
        assert acme.get(path).status_code == (403 if path == "/members/" else 200), path

        # The same cookie jar, sent to globex's host: sessions live in the shared public schema.
        assert_login_page(acme.get(path, HTTP_HOST="globex.localhost"), path)


@pytest.mark.guards_authorization
def test_a_replayed_cookie_stays_anonymous_under_host_header_variants(
    client_for: Callable[..., Client], tenant: Any, member_user: Any
) -> None:
    acme = client_for(tenant, member_user)
    variants = [
        {"HTTP_HOST": "GLOBEX.localhost"},
        {"HTTP_HOST": "globex.localhost."},
        {"HTTP_HOST": "Globex.LocalHost.:8000"},
        # A proxy header naming acme does not move the request to acme (USE_X_FORWARDED_HOST is off).
        {"HTTP_HOST": "globex.localhost", "HTTP_X_FORWARDED_HOST": "acme.localhost"},
    ]
    for headers in variants:
        assert_login_page(acme.get("/products/", **headers), headers)


def test_host_header_variants_of_a_tenant_route_to_that_tenant_only(
    host_client: Callable[..., Client], tenant: Any, member_user: Any, globex_rows: GlobexRows
) -> None:
    for host in ["ACME.LOCALHOST", "acme.localhost.", "acme.localhost:8000", "AcMe.LocalHost.:443"]:
        response = host_client(host, member_user).get("/products/")

        assert response.status_code == 200, host
        assert b"Acme Corporation" in response.content, host
        assert b"Globex Corporation" not in response.content, host
        assert globex_rows.leaked_into(response.content) == [], host


def test_unknown_hosts_get_404_never_a_tenant_or_the_public_site(
    host_client: Callable[..., Client], member_user: Any
) -> None:
    hosts = [
        "nope.localhost",
        "acme.localhost.globex.localhost",
        "globex.acme.localhost",
        "acme.localhost..",
        "acme-.localhost",
        "xn--acme-.localhost",
    ]
    for host in hosts:
        response = host_client(host, member_user).get("/products/")

        assert response.status_code in (400, 404), (host, response.status_code)
        assert b"Acme Corporation" not in response.content, host
        assert b"public-landing" not in response.content, host


@pytest.mark.guards_csrf
def test_a_csrf_token_from_one_tenants_host_is_refused_on_another(
    client_for: Callable[..., Client], tenant: Any, other_tenant: Any, member_user: Any, globex_member: Any
) -> None:
    acme = client_for(tenant, member_user)
    acme_token = csrf_token_from(acme.get("/products/new/").content)
    globex = Client(HTTP_HOST="globex.localhost", enforce_csrf_checks=True)
    globex.force_login(globex_member)
    # The attacker also plants the token as a cookie for the parent domain ("cookie tossing").
    globex.cookies["csrftoken"] = acme_token
    form = {"name": "Forged", "sku": "FORGED-CSRF", "price": "1.00", "stock": "0", "active": "on"}

    forged = globex.post("/products/new/", {**form, "csrfmiddlewaretoken": acme_token}, HTTP_X_CSRFTOKEN=acme_token)
    own_token = csrf_token_from(globex.get("/products/new/").content)
    honest = globex.post("/products/new/", {**form, "sku": "HONEST-CSRF", "csrfmiddlewaretoken": own_token})

    assert forged.status_code == 403
    assert honest.status_code == 302  # the same form with globex's own token goes through
    with tenant_context(other_tenant):
        assert not Product.objects.filter(sku="FORGED-CSRF").exists()
        assert Product.objects.filter(sku="HONEST-CSRF").exists()


OFF_HOST_TARGETS = [
    "http://globex.localhost/products/",
    "//globex.localhost/products/",
    "https://evil.example/",
    "/\\evil.example/",
    "http:/\\evil.example",
    "\\\\evil.example",
    "http://acme.localhost.evil.example/",
    "javascript:alert(1)",
]
CREDENTIALS = {"login": "member@acme.localhost", "password": "member-password"}


@pytest.mark.guards_next_redirect
def test_login_next_never_redirects_off_the_tenants_host(
    client_for: Callable[..., Client], tenant: Any, member_user: Any
) -> None:
    client = client_for(tenant)
    for target in OFF_HOST_TARGETS:
        by_query = client.post(f"/accounts/login/?next={target}", CREDENTIALS)
        client.logout()
        by_form = client.post("/accounts/login/", {**CREDENTIALS, "next": target})
        client.logout()

        for response in (by_query, by_form):
            assert response.status_code == 302, target
            assert response["Location"] == "/", (target, response["Location"])
    # A `next` on the same host is followed.
    assert client.post("/accounts/login/?next=/customers/", CREDENTIALS)["Location"] == "/customers/"


@pytest.mark.guards_next_redirect
def test_public_login_next_never_redirects_to_another_host(db: None, member_user: Any) -> None:
    client = Client(HTTP_HOST="localhost")
    for target in OFF_HOST_TARGETS:
        response = client.post("/accounts/login/", {**CREDENTIALS, "next": target})
        client.logout()

        assert response.status_code == 302, target
        location = response["Location"]
        # The member's only tenant, through a one-time login token on its own host; never the `next` target.
        assert location.startswith("http://acme.localhost/accounts/token/"), (target, location)
        assert "evil" not in location and "globex" not in location, (target, location)


@pytest.mark.guards_next_redirect
def test_login_token_next_never_redirects_off_the_tenants_host(
    client_for: Callable[..., Client], tenant: Any, member_user: Any
) -> None:
    for target in [*OFF_HOST_TARGETS, "/customers/"]:
        token = login_token_issue(user=member_user, tenant=tenant, family=login_family_new())

        response = client_for(tenant).get(f"/accounts/token/{token}/", {"next": target})

        assert response.status_code == 302, target
        assert response["Location"] == (target if target == "/customers/" else "/"), (target, response["Location"])


def test_a_login_token_of_one_tenant_does_not_log_in_on_another(
    client_for: Callable[..., Client], tenant: Any, other_tenant: Any, member_user: Any
) -> None:
    token = login_token_issue(user=member_user, tenant=tenant, family=login_family_new())
    globex = client_for(other_tenant)

    response = globex.get(f"/accounts/token/{token}/")

    assert response.status_code == 403
    assert_login_page(globex.get("/products/"), "after the refused token")
