"""Sessions, CSRF tokens, login redirects, Host headers and tenant paths: what one tenant gave must not open another.

Domain routing: a cookie replayed on another tenant's host, Host header variants. Path routing: one session on every
tenant's paths (refused by membership), path variants (`/<prefix>/GLOBEX/`, `/<prefix>/acme/../globex/`, encoded
slashes), `next` leading to another tenant's paths, a CSRF token of one tenant's page posted to another's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.login_tokens import login_family_new, login_token_issue
from {{ cookiecutter.project_slug }}.accounts.services import membership_grant
from {{ cookiecutter.project_slug }}.products.models import Product

from .conftest import GlobexRows, csrf_token_from, path_routing, same_browser
from conftest import PUBLIC_HOST, assert_stranger_refused, client_on

TENANT_PAGES = ["/", "/products/", "/products/catalogue/", "/customers/", "/bookings/", "/members/"]


def assert_login_page(response: Any, case: object, login_path: str = "/accounts/login/") -> None:
    """The response sends the browser to the login page `login_path` (the tenant's full path), as for an anonymous
    visitor."""
    assert response.status_code == 302, (case, response.status_code, response.content[:300])
    assert response["Location"].startswith(login_path), (case, response["Location"])


@pytest.mark.guards_authorization
def test_a_session_of_one_tenant_is_refused_on_another_tenant(
    client_for: Callable[..., Client],
    tenant: Any,
    other_tenant: Any,
    member_user: Any,
    login_redirect: Callable[..., str],
) -> None:
    acme = client_for(tenant, member_user)
    globex = same_browser(acme, other_tenant)
    for path in TENANT_PAGES:
        # The session works on its own tenant (the members page is for owners and admins: 403 for a member).
        assert acme.get(path).status_code == (403 if path == "/members/" else 200), path

        # The same cookie jar on globex: sessions live in the shared public schema. Domain routing: anonymous
        # there (the login page); path routing: refused (403), the session being the browser's own.
        assert_stranger_refused(globex.get(path), path)
        # An anonymous visitor of globex still gets globex's login page.
        assert client_on(other_tenant).get(path)["Location"] == login_redirect(path, of=other_tenant), path


# Requests for globex's products with acme's member's session that must not reach globex as that member.
DOMAIN_VARIANTS: list[tuple[str, dict[str, str]]] = [
    ("/products/", {"HTTP_HOST": "GLOBEX.localhost"}),
    ("/products/", {"HTTP_HOST": "globex.localhost."}),
    ("/products/", {"HTTP_HOST": "Globex.LocalHost.:8000"}),
    # A proxy header naming acme does not move the request to acme (USE_X_FORWARDED_HOST is off).
    ("/products/", {"HTTP_HOST": "globex.localhost", "HTTP_X_FORWARDED_HOST": "acme.localhost"}),
]
PATH_VARIANTS: list[tuple[str, dict[str, str]]] = [
    ("/{prefix}/globex/products/", {}),
    ("/{prefix}/GLOBEX/products/", {}),
    ("/{prefix}/Globex/products/", {"HTTP_HOST": "LOCALHOST.:8000"}),
    ("/{prefix}/acme/../globex/products/", {}),
    ("/{prefix}/acme/%2e%2e/globex/products/", {}),
    ("/{prefix}/acme%2F..%2Fglobex/products/", {}),
    ("/{prefix}/acme/..%2fglobex/products/", {}),
    ("/{prefix}//globex/products/", {}),
    ("/{prefix}/globex//products/", {}),
    ("/{prefix}/globex/./products/", {}),
    # A proxy header naming acme's path does not move the request to acme.
    ("/{prefix}/globex/products/", {"HTTP_X_FORWARDED_HOST": "acme.localhost", "HTTP_X_SCRIPT_NAME": "/x/acme"}),
]


@pytest.mark.guards_authorization
def test_a_session_stays_refused_under_host_and_path_variants(
    client_for: Callable[..., Client], tenant: Any, member_user: Any, globex_rows: GlobexRows
) -> None:
    acme = client_for(tenant, member_user)
    with acme.verbatim():  # type: ignore[attr-defined]  # a TenantClient: the variants are full paths
        for template, headers in PATH_VARIANTS if path_routing() else DOMAIN_VARIANTS:
            path = template.format(prefix=settings.TENANCY_PATH_PREFIX)

            response = acme.get(path, **headers)

            if path_routing():
                # Refused as a stranger (403), or no such page (404): never globex's products.
                assert response.status_code in (403, 404), (path, headers, response.status_code)
                assert b"Hammock" not in response.content, (path, headers)  # globex's demo product
                assert globex_rows.leaked_into(response.content) == [], (path, headers)
            else:
                assert_login_page(response, headers)


def test_host_and_path_variants_of_a_tenant_route_to_that_tenant_only(
    host_client: Callable[..., Client], tenant: Any, member_user: Any, globex_rows: GlobexRows
) -> None:
    if path_routing():
        prefix = settings.TENANCY_PATH_PREFIX
        hosts = ["LOCALHOST", "localhost.", "localhost:8000", "LocalHost.:443"]
        clients = [host_client(host, member_user, base_path=f"/{prefix}/acme") for host in hosts]
    else:
        hosts = ["ACME.LOCALHOST", "acme.localhost.", "acme.localhost:8000", "AcMe.LocalHost.:443"]
        clients = [host_client(host, member_user) for host in hosts]
    for host, client in zip(hosts, clients, strict=True):
        response = client.get("/products/")

        assert response.status_code == 200, host
        assert b"Acme Corporation" in response.content, host
        assert b"Globex Corporation" not in response.content, host
        assert globex_rows.leaked_into(response.content) == [], host


def test_unknown_hosts_and_tenant_paths_get_404_never_a_tenant_or_the_public_site(
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
    requests = [(host_client(host, member_user), "/products/") for host in hosts]
    if path_routing():
        on_public = host_client(PUBLIC_HOST, member_user)
        prefix = settings.TENANCY_PATH_PREFIX
        slugs = ["nope", "acme.globex", "acme-", "acme%00", "acme.", "xn--acme-", "public", "%61cme-"]
        requests += [(on_public, f"/{prefix}/{slug}/products/") for slug in slugs]
    for client, path in requests:
        response = client.get(path)

        case = (client.defaults["HTTP_HOST"], path)
        assert response.status_code in (400, 404), (case, response.status_code)
        assert b"Acme Corporation" not in response.content, case
        assert b"public-landing" not in response.content, case


@pytest.mark.guards_csrf
def test_a_csrf_token_from_one_tenant_is_refused_on_another(
    client_for: Callable[..., Client], tenant: Any, other_tenant: Any, member_user: Any, request: pytest.FixtureRequest
) -> None:
    acme = client_for(tenant, member_user, enforce_csrf_checks=True)
    acme_token = csrf_token_from(acme.get("/products/new/").content)
    globex: Client
    if path_routing():
        # One host, one session: the member of both tenants posts acme's token to globex's form. The origin is
        # the same; the per-tenant CSRF secret (tenancy.csrf) is what refuses it.
        membership_grant(user=member_user, tenant=other_tenant, role="member")
        globex = same_browser(acme, other_tenant, enforce_csrf_checks=True)
    else:
        globex = client_for(other_tenant, request.getfixturevalue("globex_member"), enforce_csrf_checks=True)
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
# Path routing: targets on the same host that lead to another tenant's paths.
OFF_TENANT_TARGETS = [
    "/{prefix}/globex/products/",
    "http://localhost/{prefix}/globex/products/",
    "//localhost/{prefix}/globex/",
    "/{prefix}/acme/../globex/products/",
    "/{prefix}/acme/%2e%2e/globex/products/",
    "/{prefix}/acme/..%2fglobex/",
    "/{prefix}/acme/products/../../globex/",
    "../../../../../{prefix}/globex/products/",  # relative: from any page of acme, up to `/`, then globex
]
CREDENTIALS = {"login": "member@acme.localhost", "password": "member-password"}


def off_targets() -> list[str]:
    """`next` targets that must not be followed from acme: other hosts, and in path routing other tenants' paths."""
    if not path_routing():
        return list(OFF_HOST_TARGETS)
    prefix = settings.TENANCY_PATH_PREFIX
    return [*OFF_HOST_TARGETS, *(target.format(prefix=prefix) for target in OFF_TENANT_TARGETS)]


@pytest.mark.guards_next_redirect
def test_login_next_never_redirects_off_the_tenant(
    client_for: Callable[..., Client], tenant: Any, member_user: Any, tenant_path: Callable[..., str]
) -> None:
    client = client_for(tenant)
    for target in off_targets():
        cache.clear()  # django-allauth allows 30 logins a minute per client IP (the test client's is fixed)
        by_query = client.post(f"/accounts/login/?next={target}", CREDENTIALS)
        client.logout()
        by_form = client.post("/accounts/login/", {**CREDENTIALS, "next": target})
        client.logout()

        for response in (by_query, by_form):
            assert response.status_code == 302, target
            assert response["Location"] == tenant_path("/"), (target, response["Location"])
    # A `next` on the same tenant is followed.
    followed = client.post(f"/accounts/login/?next={tenant_path('/customers/')}", CREDENTIALS)
    assert followed["Location"] == tenant_path("/customers/")


@pytest.mark.guards_next_redirect
def test_public_login_next_never_redirects_to_another_host_or_tenant(
    db: None, member_user: Any, tenant_url: Callable[..., str], tenant_path: Callable[..., str]
) -> None:
    client = Client(HTTP_HOST=PUBLIC_HOST)
    for target in off_targets():
        cache.clear()  # django-allauth's login rate limit per client IP
        response = client.post("/accounts/login/", {**CREDENTIALS, "next": target})
        client.logout()

        assert response.status_code == 302, target
        location = response["Location"]
        # The member's only tenant (domain routing: through a one-time login token on its own host; path routing:
        # its path, the session being the same); never the `next` target.
        if path_routing():
            assert location in (tenant_path("/"), tenant_url("/")), (target, location)
        else:
            assert location.startswith(tenant_url("/accounts/token/")), (target, location)
        assert "evil" not in location and "globex" not in location, (target, location)


@pytest.mark.guards_next_redirect
def test_login_token_next_never_redirects_off_the_tenant(
    client_for: Callable[..., Client], tenant: Any, member_user: Any, tenant_path: Callable[..., str]
) -> None:
    for target in [*off_targets(), tenant_path("/customers/")]:
        token = login_token_issue(user=member_user, tenant=tenant, family=login_family_new())

        response = client_for(tenant).get(f"/accounts/token/{token}/", {"next": target})

        assert response.status_code == 302, target
        expected = target if target == tenant_path("/customers/") else tenant_path("/")
        assert response["Location"] == expected, (target, response["Location"])


def test_a_login_token_of_one_tenant_does_not_log_in_on_another(
    client_for: Callable[..., Client], tenant: Any, other_tenant: Any, member_user: Any, tenant_path: Callable[..., str]
) -> None:
    token = login_token_issue(user=member_user, tenant=tenant, family=login_family_new())
    globex = client_for(other_tenant)

    response = globex.get(f"/accounts/token/{token}/")

    assert response.status_code == 403
    assert_login_page(
        globex.get("/products/"), "after the refused token", tenant_path("/accounts/login/", other_tenant)
    )
