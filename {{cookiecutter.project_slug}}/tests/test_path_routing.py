"""Path routing (settings.TENANCY_ROUTING = "path"): tenants at `/<prefix>/<slug>/` on the public host.

Every test runs in both modes and asserts what its mode does: in path routing `/<prefix>/acme/products/` on
`localhost` is acme's products page; in domain routing the same URL is the public host's 404 and acme answers
on `acme.localhost`. Requests go through django.test.Client with explicit hosts and paths (`address`), not
the suite's client fixtures, so each test states exactly what a browser would send.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import login
from django.core.checks import run_checks
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import get_script_prefix, set_script_prefix
from django.utils import timezone

from {{ cookiecutter.project_slug }}.accounts.services import membership_grant, user_get_or_create
from {{ cookiecutter.project_slug }}.accounts.sessions import SessionStore
from {{ cookiecutter.project_slug }}.billing.models import Subscription
from {{ cookiecutter.project_slug }}.tenancy.media import TenantMediaStorage
from {{ cookiecutter.project_slug }}.tenancy.middleware import TenantRoutingMiddleware, tenant_path_split
from {{ cookiecutter.project_slug }}.tenancy.models import Domain, Tenant
from {{ cookiecutter.project_slug }}.tenancy.routing import directory

from .isolation.conftest import csrf_token_from
from .test_routing_cost import wire_statements

pytestmark = pytest.mark.django_db

PATH_MODE = settings.TENANCY_ROUTING == "path"
PREFIX = settings.TENANCY_PATH_PREFIX
PUBLIC_HOST = "localhost"


def address(tenant: Any) -> tuple[str, str]:
    """(host, base path) of `tenant`'s pages in this bake's mode: (localhost, /<prefix>/<slug>) in path routing,
    (its primary domain, "") in domain routing."""
    if PATH_MODE:
        return PUBLIC_HOST, f"/{PREFIX}/{tenant.slug}"
    return tenant.get_primary_domain().domain, ""


def client_of(tenant: Any, user: Any = None, **options: Any) -> tuple[Client, str]:
    """A client sending requests to `tenant`'s host (logged in as `user`), and the base path of its pages."""
    host, base = address(tenant)
    client = Client(HTTP_HOST=host, **options)
    if user is not None:
        client.force_login(user)
    return client, base


@pytest.fixture
def both_member(tenant: Any, other_tenant: Any) -> Any:
    """A user who is a member of acme and of globex (one session serves both in path routing)."""
    user = user_get_or_create(email="both@acme.localhost", password="both-password")
    membership_grant(user=user, tenant=tenant, role="member")
    membership_grant(user=user, tenant=other_tenant, role="member")
    return user


def test_each_tenant_answers_at_its_own_address_with_its_own_schema(
    tenant: Any, other_tenant: Any, both_member: Any
) -> None:
    for each in (tenant, other_tenant):
        client, base = client_of(each, both_member)
        response = client.get(f"{base}/products/")

        assert response.status_code == 200, (each.slug, response.status_code)
        request = response.wsgi_request
        assert request.tenant.slug == each.slug  # type: ignore[attr-defined]
        assert request.path == f"{base}/products/"
        assert request.path_info == "/products/"
        assert request.META["SCRIPT_NAME"] == base
    # In domain routing the public host has no tenant paths: the prefix is just an unknown page there.
    other = Client(HTTP_HOST=PUBLIC_HOST).get(f"/{PREFIX}/{tenant.slug}/products/")
    assert other.status_code == (302 if PATH_MODE else 404)  # path routing: acme's login page


def test_urls_in_pages_and_redirects_carry_the_tenants_base_path(tenant: Any, member_user: Any) -> None:
    anonymous, base = client_of(tenant)
    to_login = anonymous.get(f"{base}/products/")
    client, _ = client_of(tenant, member_user)
    page = client.get(f"{base}/products/")

    assert to_login.status_code == 302
    assert to_login["Location"].startswith(f"{base}/accounts/login/?next=")
    assert f"next={base}/products/" in to_login["Location"].replace("%2F", "/")
    assert page.status_code == 200
    assert f'href="{base}/products/' in page.content.decode()
    assert f'href="{base}/customers/' in page.content.decode()
    # reverse() inside a request follows the script prefix the middleware set.
    assert page.wsgi_request.build_absolute_uri("/") == f"http://{address(tenant)[0]}/"
    assert get_script_prefix() == "/"  # and it was reset after the request


def test_an_unknown_or_public_slug_answers_the_projects_404_without_a_redirect(db: None) -> None:
    public = Client(HTTP_HOST=PUBLIC_HOST)
    for path in (f"/{PREFIX}/nope/", f"/{PREFIX}/nope", f"/{PREFIX}/nope/products/", f"/{PREFIX}/public/"):
        response = public.get(path)
        assert response.status_code == 404, path
        if PATH_MODE:
            assert b"No tenant answers at" in response.content, path
            assert f"localhost/{PREFIX}/".encode() in response.content, path
    assert public.get(f"/{PREFIX}/").status_code == 404  # no slug: the public site, which has no such page
    assert public.get("/").status_code == 200  # the public site is still at /


def test_the_tenant_root_without_its_slash_is_redirected_to_it(tenant: Any, member_user: Any) -> None:
    client = Client(HTTP_HOST=PUBLIC_HOST)
    client.force_login(member_user)
    response = client.get(f"/{PREFIX}/{tenant.slug}", {"tab": "1"})

    if PATH_MODE:
        assert response.status_code == 301
        assert response["Location"] == f"/{PREFIX}/{tenant.slug}/?tab=1"
        assert client.get(response["Location"]).status_code == 200
    else:
        assert response.status_code == 404


def test_tenant_path_split_takes_the_slug_and_keeps_the_rest() -> None:
    assert tenant_path_split(f"/{PREFIX}/acme/products/7/") == ("acme", "/products/7/")
    assert tenant_path_split(f"/{PREFIX}/acme/") == ("acme", "/")
    assert tenant_path_split(f"/{PREFIX}/acme") == ("acme", "")
    assert tenant_path_split(f"/{PREFIX}/") is None
    assert tenant_path_split(f"/{PREFIX}//products/") is None
    assert tenant_path_split(f"/{PREFIX}x/acme/") is None
    assert tenant_path_split("/products/") is None


@pytest.mark.parametrize(
    ("status", "code"),
    [(Tenant.Status.SUSPENDED, 403), (Tenant.Status.PROVISIONING, 503), (Tenant.Status.ARCHIVED, 404)],
)
def test_the_lifecycle_statuses_answer_as_in_domain_routing(
    tenant: Any, member_user: Any, status: str, code: int
) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(status=status)
    client, base = client_of(tenant, member_user)
    response = client.get(f"{base}/products/")

    assert response.status_code == code
    if status == Tenant.Status.PROVISIONING:
        assert response["Retry-After"].isdigit()
    if status == Tenant.Status.ARCHIVED:
        assert tenant.name.encode() not in response.content


def test_billing_refusals_match_the_path_after_the_prefix_and_link_to_the_tenants_billing_page(
    tenant: Any, owner_user: Any
) -> None:
    overdue = timezone.now() - dt.timedelta(days=30)
    Subscription.objects.filter(tenant=tenant).update(status="canceled", current_period_end=overdue)
    client, base = client_of(tenant, owner_user)

    suspended = client.get(f"{base}/products/")
    billing = client.get(f"{base}/billing/")

    assert suspended.status_code == 403
    assert f'href="{base}/billing/"' in suspended.content.decode()
    assert billing.status_code == 200  # exempt: `/billing/` is matched after the tenant's base path
{%- if cookiecutter.use_drf == "y" %}
    api = client.get(f"{base}/api/products/")
    assert api.status_code == 403 and api.json()["code"] == "tenant_suspended"  # JSON under the base path's /api/
{%- endif %}


def test_a_custom_domain_routes_by_host_in_either_mode(tenant: Any, member_user: Any) -> None:
    Domain.objects.create(domain="acme-shop.localhost", tenant=tenant, is_primary=False)
    client = Client(HTTP_HOST="acme-shop.localhost")
    client.force_login(member_user)

    response = client.get("/products/")
    prefixed = client.get(f"/{PREFIX}/{tenant.slug}/products/")

    assert response.status_code == 200
    assert response.wsgi_request.tenant.slug == tenant.slug  # type: ignore[attr-defined]
    assert 'href="/products/' in response.content.decode()  # no base path on the tenant's own host
    assert prefixed.status_code == 404  # tenant paths belong to the public host only


def test_a_csrf_token_from_one_tenants_page_is_refused_on_another_tenants_form(
    tenant: Any, other_tenant: Any, both_member: Any
) -> None:
    acme, acme_base = client_of(tenant, both_member, enforce_csrf_checks=True)
    globex, globex_base = client_of(other_tenant, enforce_csrf_checks=True)
    if PATH_MODE:
        globex = acme  # one host, one browser, one session
    else:
        globex.force_login(both_member)
    form = {"name": "Forged", "sku": "FORGED-PATH-CSRF", "price": "1.00", "stock": "0", "active": "on"}

    acme_token = csrf_token_from(acme.get(f"{acme_base}/products/new/").content)
    forged = globex.post(f"{globex_base}/products/new/", {**form, "csrfmiddlewaretoken": acme_token})
    globex_token = csrf_token_from(globex.get(f"{globex_base}/products/new/").content)
    honest = globex.post(
        f"{globex_base}/products/new/", {**form, "sku": "HONEST-PATH", "csrfmiddlewaretoken": globex_token}
    )
    acme_again = acme.post(
        f"{acme_base}/products/new/", {**form, "sku": "ACME-PATH", "csrfmiddlewaretoken": acme_token}
    )

    assert forged.status_code == 403
    assert honest.status_code == 302  # globex's own token goes through
    assert acme_again.status_code == 302  # and acme's token still works on acme: one secret per tenant
    session = acme.session if PATH_MODE else globex.session
    assert f"_csrftoken:{other_tenant.schema_name}" in session
    assert "_csrftoken" not in session  # Django's own key holds a secret only during a request


def test_a_login_drops_every_tenants_csrf_secret_from_the_session(tenant: Any, member_user: Any) -> None:
    request = RequestFactory().get("/accounts/login/", HTTP_HOST=PUBLIC_HOST)
    request.session = SessionStore()
    request.session["_csrftoken:tenant_acme"] = "a" * 32
    request.session["_csrftoken:tenant_globex"] = "b" * 32
    request.session["kept"] = "yes"

    login(request, member_user, backend="django.contrib.auth.backends.ModelBackend")

    assert not [key for key in request.session.keys() if key.startswith("_csrftoken:")]  # noqa: SIM118  # no __iter__
    assert request.session["kept"] == "yes"


def routing_statements(client: Client, path: str) -> list[str]:
    with wire_statements() as sent:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return [sql for sql in sent if sql.startswith("SET search_path") or "tenancy_routingversion" in sql]


def test_a_tenant_request_costs_one_routing_statement_cold_and_warm(tenant: Any, member_user: Any) -> None:
    client, base = client_of(tenant, member_user)
    directory.clear()
    lookups = directory.queries

    cold = routing_statements(client, f"{base}/products/")
    warm = routing_statements(client, f"{base}/products/")

    assert len(cold) == 1 and "set_config('search_path'" in cold[0], cold
    assert len(warm) == 1 and "set_config('search_path'" in warm[0], warm
    assert "tenancy_domain" not in warm[0]  # the warm one only reads the routing version
    assert directory.queries == lookups + 1


def test_a_new_slug_routes_after_a_change_in_another_process(tenant: Any) -> None:
    assert directory.route_path(PUBLIC_HOST, "acme-renamed", connection) == (None, True)
    Tenant.objects.filter(pk=tenant.pk).update(slug="acme-renamed")  # no signal: the routing version tells
    routed, by_path = directory.route_path(PUBLIC_HOST, "acme-renamed", connection)
    assert by_path and routed is not None and routed.pk == tenant.pk
    assert connection.schema_name == tenant.schema_name
    assert directory.route_path(PUBLIC_HOST, "acme", connection) == (None, True)
    assert directory.route_path("nobody.localhost", "acme-renamed", connection) == (None, False)


def test_the_script_prefix_is_restored_after_a_request_that_raised(tenant: Any) -> None:
    seen: list[str] = []

    def failing_view(request: HttpRequest) -> HttpResponse:
        seen.append(get_script_prefix())
        raise RuntimeError("the view failed")

    host, base = address(tenant)
    request = RequestFactory().get(f"{base}/products/", HTTP_HOST=host)
    with pytest.raises(RuntimeError):
        TenantRoutingMiddleware(failing_view)(request)

    assert seen == [f"{base}/"]
    assert get_script_prefix() == "/"
    assert connection.schema_name == "public"


def test_media_urls_carry_the_script_prefix_in_path_routing() -> None:
    storage = TenantMediaStorage()
    set_script_prefix("/t-base/acme/")
    try:
        url = storage.url("products/a.png")
    finally:
        set_script_prefix("/")

    assert url == ("/t-base/acme/media/products/a.png" if PATH_MODE else "/media/products/a.png")
    assert storage.url("products/a.png") == "/media/products/a.png"


@pytest.mark.parametrize(
    ("routing", "prefix", "ids"),
    [
        (settings.TENANCY_ROUTING, PREFIX, set()),
        ("subfolder", PREFIX, {"tenancy.E005"}),
        (settings.TENANCY_ROUTING, "Clinic", {"tenancy.E006"}),
        (settings.TENANCY_ROUTING, "a/b", {"tenancy.E006"}),
        (settings.TENANCY_ROUTING, "products", {"tenancy.E006"}),
        (settings.TENANCY_ROUTING, "accounts", {"tenancy.E006"}),
        (settings.TENANCY_ROUTING, "media", {"tenancy.E006"}),
    ],
)
def test_the_routing_check_refuses_unknown_modes_and_prefixes_the_project_uses(
    settings: Any, routing: str, prefix: str, ids: set[str]
) -> None:
    settings.TENANCY_ROUTING = routing
    settings.TENANCY_PATH_PREFIX = prefix
    errors = [e for e in run_checks() if e.id in ("tenancy.E005", "tenancy.E006")]
    assert {e.id for e in errors} == ids
    assert all(repr(routing if e.id == "tenancy.E005" else prefix) in e.msg for e in errors)
