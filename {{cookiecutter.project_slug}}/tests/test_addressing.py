"""Tenant addresses (tenancy.addressing) and every producer of an absolute tenant URL, in both routing modes.

Pure URL building runs in both modes in every bake (override_settings(TENANCY_ROUTING=...)); producers answering
a request through the routing middleware follow the bake's own mode (conftest's client_for and tenant_path).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from io import StringIO
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.urls import set_script_prefix
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.adapter import AccountAdapter
from {{ cookiecutter.project_slug }}.accounts.context_processors import billing
from {{ cookiecutter.project_slug }}.accounts.crossing import tenant_crossing_url
from {{ cookiecutter.project_slug }}.accounts.domain import Role
from {{ cookiecutter.project_slug }}.accounts.models import LoginToken, Membership
from {{ cookiecutter.project_slug }}.accounts.selectors import user_tenants
from {{ cookiecutter.project_slug }}.accounts.services import membership_grant
from {{ cookiecutter.project_slug }}.bookings.services import reminders_send
from {{ cookiecutter.project_slug }}.tenancy.addressing import (
    TenantUnaddressable,
    public_reverse_url,
    public_url,
    tenant_base_path,
    tenant_base_url,
    tenant_base_urls,
    tenant_reverse_url,
    tenant_url,
)
from {{ cookiecutter.project_slug }}.tenancy.models import Domain, Tenant

from .test_reminders import book, local

DOMAIN = override_settings(TENANCY_ROUTING="domain", TENANCY_PUBLIC_PORT=0, ACCOUNT_DEFAULT_HTTP_PROTOCOL="http")
PATH = override_settings(
    TENANCY_ROUTING="path", TENANCY_PATH_PREFIX="clinic", TENANCY_PUBLIC_PORT=0, ACCOUNT_DEFAULT_HTTP_PROTOCOL="http"
)
MODES = pytest.mark.parametrize("mode", [DOMAIN, PATH], ids=["domain", "path"])
# Where acme's home is in each mode (the test settings: public host `localhost`, no port).
ACME_HOME = {"domain": "http://acme.localhost", "path": "http://localhost/clinic/acme"}


def mode_name(mode: override_settings) -> str:
    return str(mode.options["TENANCY_ROUTING"])


# --- tenancy.addressing -----------------------------------------------------------------------------------


def test_domain_mode_addresses_a_tenant_by_its_primary_domain(tenant: Tenant) -> None:
    with DOMAIN:
        assert tenant_base_path(tenant) == ""
        assert tenant_base_url(tenant) == "http://acme.localhost"
        assert tenant_url(tenant, "/products/?page=2") == "http://acme.localhost/products/?page=2"
        assert public_url("/accounts/login/") == "http://localhost/accounts/login/"


def test_path_mode_addresses_a_tenant_under_the_prefix_on_the_public_host(tenant: Tenant) -> None:
    with PATH:
        assert tenant_base_path(tenant) == "/clinic/acme"
        assert tenant_base_url(tenant) == "http://localhost/clinic/acme"
        assert tenant_url(tenant, "/products/?page=2") == "http://localhost/clinic/acme/products/?page=2"
        assert public_url("/accounts/login/") == "http://localhost/accounts/login/"


@MODES
@pytest.mark.parametrize(
    ("scheme", "port", "origin"),
    [("http", 8000, "{host}:8000"), ("https", 443, "{host}"), ("http", 80, "{host}"), ("https", 8443, "{host}:8443")],
)
def test_scheme_and_port_come_from_the_settings_the_default_port_left_out(
    tenant: Tenant, mode: override_settings, scheme: str, port: int, origin: str
) -> None:
    host = "acme.localhost" if mode_name(mode) == "domain" else "localhost"
    with mode, override_settings(ACCOUNT_DEFAULT_HTTP_PROTOCOL=scheme, TENANCY_PUBLIC_PORT=port):
        expected = f"{scheme}://{origin.format(host=host)}{tenant_base_path(tenant)}"
        assert tenant_base_url(tenant) == expected
        assert tenant_base_url(tenant, port=9000) == f"{scheme}://{host}:9000{tenant_base_path(tenant)}"


@MODES
def test_a_redirect_takes_scheme_and_port_of_the_request_never_its_host(
    tenant: Tenant, mode: override_settings
) -> None:
    request = RequestFactory().get("/", HTTP_HOST="127.0.0.1:8123")
    with mode:
        base = ACME_HOME[mode_name(mode)].replace("localhost", "localhost:8123", 1)
        assert tenant_base_url(tenant, request=request) == base
        assert tenant_url(tenant, "/x/", request=request) == f"{base}/x/"


@pytest.mark.parametrize("path", ["products/", "//evil.example/", "", "http://evil.example/"])
def test_a_path_not_starting_with_one_slash_is_refused_naming_it(tenant: Tenant, path: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(path))):
        tenant_url(tenant, path)
    with pytest.raises(ValueError, match=re.escape(repr(path))):
        public_url(path)


def test_an_unknown_routing_mode_is_a_configuration_error_naming_it(tenant: Tenant) -> None:
    with override_settings(TENANCY_ROUTING="subdomain"), pytest.raises(ImproperlyConfigured, match="'subdomain'"):
        tenant_base_url(tenant)


def test_a_tenant_without_a_domain_has_no_url_in_domain_mode_only(tenant: Tenant) -> None:
    nowhere = Tenant(name="Nowhere", slug="nowhere", schema_name="tenant_nowhere")
    with DOMAIN, pytest.raises(TenantUnaddressable, match="'nowhere'"):
        tenant_base_url(nowhere)
    with PATH:
        assert tenant_base_url(nowhere) == "http://localhost/clinic/nowhere"


@MODES
def test_reverse_url_names_another_tenant_even_inside_a_request_under_a_script_prefix(
    tenant: Tenant, other_tenant: Tenant, mode: override_settings
) -> None:
    with mode:
        # As the path routing middleware leaves it during a request on acme.
        set_script_prefix(f"{tenant_base_path(tenant)}/")
        try:
            url = tenant_reverse_url(other_tenant, "billing", query="checkout=success")
        finally:
            set_script_prefix("/")
    globex = "http://globex.localhost" if mode_name(mode) == "domain" else "http://localhost/clinic/globex"
    assert url == f"{globex}/billing/?checkout=success"


@MODES
def test_public_links_made_during_a_tenants_request_carry_no_tenant_prefix(
    tenant: Tenant, mode: override_settings
) -> None:
    with mode:
        set_script_prefix(f"{tenant_base_path(tenant)}/")  # as during a request on acme
        try:
            back = public_reverse_url("billing_done", kwargs={"slug": "acme"}, query="result=success")
            reset = AccountAdapter().get_reset_password_from_key_url("1-abc")
        finally:
            set_script_prefix("/")
    assert back == "http://localhost/billing/done/acme/?result=success"
    assert reset == "http://localhost/accounts/password/reset/key/1-abc/"


# --- producers --------------------------------------------------------------------------------------------


@MODES
def test_the_billing_link_of_tenant_pages_is_under_the_tenants_base_path(
    tenant: Tenant, mode: override_settings
) -> None:
    request = RequestFactory().get("/")
    request.tenant = tenant  # type: ignore[attr-defined]
    request.membership_role = Role.OWNER  # type: ignore[attr-defined]
    with mode:
        set_script_prefix(f"{tenant_base_path(tenant)}/")  # as the routing middleware leaves it
        try:
            billing_url = billing(request)["billing_url"]
        finally:
            set_script_prefix("/")
    assert billing_url == ("/billing/" if mode_name(mode) == "domain" else "/clinic/acme/billing/")


@MODES
def test_switcher_crosses_with_a_token_in_domain_mode_and_links_straight_in_path_mode(
    tenant: Tenant, other_tenant: Tenant, owner_user: Any, mode: override_settings
) -> None:
    membership_grant(tenant=other_tenant, user=owner_user, role="member")
    request = RequestFactory().post("/accounts/switch/", HTTP_HOST="localhost")
    request.user = owner_user
    request.session = {}  # type: ignore[assignment]
    tokens = LoginToken.objects.count()
    with mode:
        choice = next(c for c in user_tenants(user=owner_user) if c.tenant == other_tenant)
        url = tenant_crossing_url(request, choice)
    if mode_name(mode) == "path":
        assert (choice.path, url) == ("/clinic/globex/", "/clinic/globex/")
        assert LoginToken.objects.count() == tokens  # no handoff: one session on the one host
    else:
        assert choice.path == ""
        assert url.startswith("http://globex.localhost/accounts/token/")
        assert LoginToken.objects.count() == tokens + 1


@MODES
def test_the_picker_offers_a_tenant_without_a_domain_in_path_mode_only(
    tenant: Tenant, owner_user: Any, mode: override_settings
) -> None:
    connection.set_schema_to_public()
    bare = Tenant.objects.create(name="Bare", slug="bare", schema_name="tenant_bare", status=Tenant.Status.ACTIVE)
    Membership.objects.create(user=owner_user, tenant=bare, role="member")
    with mode:
        offered = {choice.tenant.slug: choice for choice in user_tenants(user=owner_user)}
    if mode_name(mode) == "path":
        assert (offered["bare"].domain, offered["bare"].path) == ("", "/clinic/bare/")
    else:
        assert "bare" not in offered  # nothing routes to it
    assert offered["acme"].domain == "acme.localhost"


@MODES
def test_reminders_sent_outside_a_request_link_to_the_tenant(tenant: Tenant, mode: override_settings) -> None:
    day = dt.date(2031, 7, 9)
    customer = book("Anvil", start=local(day, 9))
    with mode:
        assert reminders_send(day=day) == 1
    [reminder] = [message for message in mail.outbox if message.to == [customer]]
    assert f"{ACME_HOME[mode_name(mode)]}/" in reminder.body.splitlines()


@MODES
def test_base_urls_of_many_tenants_are_each_tenants_base_url_in_two_queries(
    tenant: Tenant, mode: override_settings, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    connection.set_schema_to_public()
    bare = Tenant.objects.create(name="Bare", slug="bare", schema_name="tenant_bare", status=Tenant.Status.ACTIVE)
    # An older domain that is not primary: the primary one still wins, as in tenant_base_url.
    older = Tenant.objects.create(name="Older", slug="older", schema_name="tenant_older", status=Tenant.Status.ACTIVE)
    Domain.objects.create(domain="first.example.com", tenant=older, is_primary=False)
    Domain.objects.create(domain="older.example.com", tenant=older, is_primary=True)
    tenants = list(Tenant.objects.order_by("pk"))
    assert {"public", "acme", "bare", "older"} <= {t.slug for t in tenants}
    with mode:
        one_by_one: dict[int, str | None] = {}
        for each in tenants:
            try:
                one_by_one[each.pk] = public_url("/")[:-1] if each.schema_name == "public" else tenant_base_url(each)
            except TenantUnaddressable:
                one_by_one[each.pk] = None
        with django_assert_max_num_queries(2):
            together = tenant_base_urls(tenants)
    assert together == one_by_one
    expected_older = "http://localhost/clinic/older" if mode_name(mode) == "path" else "http://older.example.com"
    assert together[older.pk] == expected_older
    assert together[bare.pk] == ("http://localhost/clinic/bare" if mode_name(mode) == "path" else None)


@MODES
def test_list_tenants_prints_each_tenants_url(tenant: Tenant, mode: override_settings) -> None:
    connection.set_schema_to_public()
    with mode:
        out = StringIO()
        call_command("list_tenants", "--format", "json", "--include-public", stdout=out)
        table = StringIO()
        call_command("list_tenants", stdout=table)
    rows = {row["slug"]: row for row in json.loads(out.getvalue())}
    assert rows["acme"]["url"] == f"{ACME_HOME[mode_name(mode)]}/"
    assert rows["public"]["url"] == "http://localhost/"
    assert f"{ACME_HOME[mode_name(mode)]}/" in table.getvalue()


@MODES
def test_seed_demo_prints_each_tenants_url_on_the_given_port(tenant: Tenant, mode: override_settings) -> None:
    connection.set_schema_to_public()
    out = StringIO()
    with mode:
        call_command("seed_demo", "--port", "8000", stdout=out)
    home = ACME_HOME[mode_name(mode)].replace("localhost", "localhost:8000", 1)
    assert re.search(rf"^Tenant acme +{re.escape(home)}/ ", out.getvalue(), re.M), out.getvalue()
    assert "Log in:       http://localhost:8000/accounts/login/" in out.getvalue()


@MODES
def test_billing_return_redirects_to_the_tenants_billing_page(tenant: Tenant, mode: override_settings) -> None:
    connection.set_schema_to_public()
    with mode:
        response = Client(HTTP_HOST="localhost").get("/billing/done/acme/", {"result": "cancel"})
    assert response.status_code == 302
    assert response["Location"] == f"{ACME_HOME[mode_name(mode)]}/billing/?checkout=cancel"


def test_invitation_email_links_to_the_tenant_in_the_projects_mode(
    client_for: Callable[..., Client], tenant: Tenant, owner_user: Any, tenant_base_path: str
) -> None:
    response = client_for(tenant, owner_user).post("/members/", {"email": "path.person@example.com", "role": "member"})
    assert response.status_code == 302
    host = "localhost" if tenant_base_path else "acme.localhost"
    assert re.search(rf"http://{host}{re.escape(tenant_base_path)}/invitations/[\w-]+/", mail.outbox[-1].body), (
        mail.outbox[-1].body
    )


def test_account_pages_of_a_tenant_redirect_to_the_same_page_on_the_public_host(
    client_for: Callable[..., Client], tenant: Tenant, owner_user: Any
) -> None:
    response = client_for(tenant, owner_user).get("/accounts/email/?x=1")
    assert response.status_code == 302
    assert response["Location"] == "http://localhost/accounts/email/?x=1"


def test_one_login_on_the_public_host_opens_every_tenant_of_the_member_from_the_picker(
    tenant: Tenant, other_tenant: Tenant, owner_user: Any, tenant_path: Callable[..., str]
) -> None:
    membership_grant(tenant=other_tenant, user=owner_user, role="member")
    public = Client(HTTP_HOST="localhost")
    login = public.post("/accounts/login/", {"login": "owner@acme.localhost", "password": "acme-demo-password"})
    assert (login.status_code, login["Location"]) == (302, "/accounts/tenants/")
    picker = public.get("/accounts/tenants/").content.decode()
    acme_home, globex_home = tenant_path("/"), tenant_path("/", of=other_tenant)
    if acme_home == "/":  # domain mode: each tenant's host is reached by crossing (tests/test_team.py)
        assert 'name="tenant" value="acme"' in picker and 'name="tenant" value="globex"' in picker
        return
    # Path mode: plain links, the one session opens both tenants, the switcher links across, logout ends it.
    assert f'href="{acme_home}"' in picker and f'href="{globex_home}"' in picker
    acme_page = public.get(acme_home)
    assert acme_page.status_code == 200 and b"Acme Corporation" in acme_page.content
    assert f'href="{globex_home}" data-testid="switch-globex"' in acme_page.content.decode()
    globex_page = public.get(globex_home)
    assert globex_page.status_code == 200 and b"Globex" in globex_page.content
    assert public.post(tenant_path("/accounts/logout/", of=other_tenant)).status_code == 302
    assert public.get(acme_home).status_code == 302
    assert public.get("/accounts/tenants/").status_code == 302


def test_signup_leads_to_the_new_tenant_logged_in(db: None) -> None:
    data = {"company_name": "Pathco", "slug": "pathco", "email": "boss@pathco.example", "password": "violet-harbour-42"}
    response = Client(HTTP_HOST="localhost").post("/signup/", data)
    assert response.status_code == 302, response.content
    path_mode = settings.TENANCY_ROUTING == "path"
    host, base = ("localhost", f"/{settings.TENANCY_PATH_PREFIX}/pathco") if path_mode else ("pathco.localhost", "")
    location = urlsplit(response["Location"])
    assert (location.netloc, location.path[: len(base) + 16]) == (host, f"{base}/accounts/token/")
    browser = Client(HTTP_HOST=host)
    landed = browser.get(location.path)
    assert (landed.status_code, landed["Location"]) == (302, f"{base}/")
    dashboard = browser.get(f"{base}/")
    assert dashboard.status_code == 200 and b"Pathco" in dashboard.content


def test_login_on_a_tenant_leads_to_its_dashboard(
    client_for: Callable[..., Client], tenant: Tenant, tenant_path: Callable[..., str]
) -> None:
    client = client_for(tenant)
    response = client.post("/accounts/login/", {"login": "owner@acme.localhost", "password": "acme-demo-password"})
    assert response.status_code == 302
    assert response["Location"] == tenant_path("/")
    assert client.get("/").status_code == 200
{%- if cookiecutter.use_drf == "y" %}


def test_the_openapi_schema_names_the_tenants_base_path_as_its_server(
    tenant_client: Client, tenant_base_path: str
) -> None:
    response = tenant_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert "/api/products/" in schema["paths"]
    if tenant_base_path:
        assert schema["servers"] == [{"url": tenant_base_path}]
    else:
        assert "servers" not in schema  # the host selects the tenant
{%- endif %}


def test_reminders_name_no_address_without_a_real_tenant(tenant: Tenant) -> None:
    day = dt.date(2031, 7, 10)
    customer = book("Hammer", start=local(day, 9))
    with tenant_context(tenant):
        connection.set_schema(tenant.schema_name)  # a bare schema switch: a FakeTenant, no name, no address
        assert reminders_send(day=day) == 1
    [reminder] = [message for message in mail.outbox if message.to == [customer]]
    assert "http://" not in reminder.body
