"""Public sign-up and the one-time login token that carries the new owner to the tenant's host."""

import hashlib
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from html import unescape
from urllib.parse import quote, urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_exists

from {{ cookiecutter.project_slug }}.accounts.login_tokens import LoginTokenUsed, login_token_consume, login_token_issue
from {{ cookiecutter.project_slug }}.accounts.models import LoginToken, Membership, User
from {{ cookiecutter.project_slug }}.accounts.services import NotAMember
from {{ cookiecutter.project_slug }}.lifecycle.provisioning import provisioning_step
from {{ cookiecutter.project_slug }}.platform.services import user_signup
from {{ cookiecutter.project_slug }}.tenancy.domain import TenantExists, schema_name_for
from {{ cookiecutter.project_slug }}.tenancy.models import Domain, SpareSchema, Tenant

pytestmark = pytest.mark.django_db

PASSWORD = "violet-harbour-lantern-42"
VALID = {"company_name": "Initech", "slug": "initech", "email": "Boss@Initech.example", "password": PASSWORD}
FIELDS = ["company_name", "slug", "email", "password"]


def signup(data, host="localhost"):
    return Client(HTTP_HOST=host).post("/signup/", data)


def field_errors(response, field):
    """Text of the error container next to `field` on the sign-up page."""
    match = re.search(rf'data-testid="errors-{field}">(.*?)</div>', response.content.decode(), re.S)
    assert match, f"no error container for {field}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def snapshot(slug):
    """Everything a sign-up creates, counted in the public schema."""
    connection.set_schema_to_public()
    return {
        "users": User.objects.count(),
        "tenants": Tenant.objects.count(),
        "domains": Domain.objects.count(),
        "memberships": Membership.objects.count(),
        "tokens": LoginToken.objects.count(),
        "spares": SpareSchema.objects.count(),
        "schema": schema_exists(schema_name_for(slug)),
    }


def token_path(token):
    return f"/accounts/token/{token}/"


def tenant_home(slug, port=""):
    """(host, base path) of tenant `slug`'s pages in the project's routing mode: (`<slug>.localhost`, "") in
    domain mode, (`localhost`, "/<prefix>/<slug>") in path mode; `port` (":8000") is added to the host."""
    if settings.TENANCY_ROUTING == "path":
        return f"localhost{port}", f"/{settings.TENANCY_PATH_PREFIX}/{slug}"
    return f"{slug}.localhost{port}", ""


def is_anonymous(client):
    return "_auth_user_id" not in client.session


# --- sign-up -----------------------------------------------------------------------------------------


def test_landing_page_links_to_the_signup_form():
    client = Client(HTTP_HOST="localhost")
    assert b'href="/signup/"' in client.get("/").content
    page = client.get("/signup/")
    assert page.status_code == 200
    for field in FIELDS:
        assert f'name="{field}"'.encode() in page.content
    assert b"csrfmiddlewaretoken" in page.content


def test_signup_creates_user_tenant_and_owner_and_logs_in_on_the_tenant_host_only():
    response = signup(VALID)

    assert response.status_code == 302
    location = response["Location"]
    host, base = tenant_home("initech")
    assert location.startswith(f"http://{host}{base}/accounts/token/")
    assert "no-store" in response["Cache-Control"]
    assert "sessionid" not in response.cookies  # nobody is logged in on the public host

    connection.set_schema_to_public()
    user = User.objects.get(email="boss@initech.example")
    assert user.check_password(PASSWORD)
    tenant = Tenant.objects.get(slug="initech")
    assert tenant.name == "Initech"
    assert tenant.status == Tenant.Status.ACTIVE
    assert schema_exists("tenant_initech")
    assert tenant.get_primary_domain().domain == "initech.localhost"
    assert Membership.objects.get(user=user, tenant=tenant).role == "owner"
    token = location.rstrip("/").rsplit("/", 1)[1]
    issued = LoginToken.objects.get(user=user, tenant=tenant)
    assert issued.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash is stored
    assert timedelta(0) < issued.expires_at - issued.created <= timedelta(seconds=60)

    tenant_host = Client(HTTP_HOST=host)
    assert tenant_host.get(f"{base}/").status_code == 302  # not logged in there yet
    landed = tenant_host.get(urlsplit(location).path)
    assert landed.status_code == 302
    assert landed["Location"] == f"{base}/"
    assert "no-store" in landed["Cache-Control"]
    assert landed["Referrer-Policy"] == "no-referrer"
    assert landed.cookies["sessionid"]["domain"] == ""  # host-only cookie
    dashboard = tenant_host.get(f"{base}/")
    assert dashboard.status_code == 200
    assert b'data-testid="tenant-name"' in dashboard.content
    assert b"Initech" in dashboard.content
    # The same session replayed on another tenant: on its host (domain mode) anonymous there, the login page; on
    # its path (path mode, the same host and session) known and refused.
    acme_host, acme_base = tenant_home("acme")
    refused = tenant_host.get(f"{acme_base}/", HTTP_HOST=acme_host)
    assert refused.status_code == (403 if settings.TENANCY_ROUTING == "path" else 302)


def test_signup_redirect_keeps_the_port_of_the_request():
    response = signup({**VALID, "slug": "initech-dev"}, host="localhost:8000")
    assert response.status_code == 302
    host, base = tenant_home("initech-dev", port=":8000")
    assert response["Location"].startswith(f"http://{host}{base}/accounts/token/")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("company_name", "", "This field is required"),
        ("company_name", "   ", "is empty"),
        ("company_name", "x" * 101, "at most 100 characters"),
        ("slug", "", "This field is required"),
        ("slug", "admin", "'admin' is reserved"),
        ("slug", "tenant", "'tenant' is reserved"),
        ("slug", "pg_tables", "reserved prefix"),
        ("slug", "Bad_Slug!", "'Bad_Slug!' is not allowed"),
        ("slug", "acme", "'acme' is taken"),
        ("email", "not-an-email", "'not-an-email' is not a valid address"),
        ("email", "OWNER@acme.localhost", "owner@acme.localhost already has an account; log in instead"),
        ("password", "short", "too short"),
        ("password", "password123", "too common"),
        ("password", "48151623421729", "entirely numeric"),
        ("password", "", "This field is required"),
    ],
)
def test_invalid_field_is_shown_next_to_it_and_nothing_is_created(field, value, message):
    data = {**VALID, field: value}
    before = snapshot(data["slug"])

    response = signup(data)

    assert response.status_code == 200
    assert message in field_errors(response, field)
    for other in FIELDS:
        if other != field:
            assert field_errors(response, other) == "", other
    assert snapshot(data["slug"]) == before


def test_registered_email_error_links_to_the_login_page():
    response = signup({**VALID, "email": "owner@acme.localhost"})
    container = re.search(r'data-testid="errors-email">(.*?)</div>', response.content.decode(), re.S)
    assert container and 'href="/accounts/login/"' in container.group(1)


def test_slug_whose_domain_routes_elsewhere_is_refused(tenant):
    connection.set_schema_to_public()
    Domain.objects.create(domain="parked.localhost", tenant=tenant, is_primary=False)
    before = snapshot("parked")

    response = signup({**VALID, "slug": "parked"})

    assert response.status_code == 200
    assert "parked.localhost is not available" in field_errors(response, "slug")
    assert snapshot("parked") == before


def test_a_look_alike_company_name_is_accepted_with_a_free_subdomain():
    connection.set_schema_to_public()
    existing = Tenant.objects.get(slug="acme").name

    response = signup({**VALID, "company_name": f" {existing.upper()} ", "slug": "acme-again"})

    assert response.status_code == 302, response.content.decode()
    connection.set_schema_to_public()
    assert Tenant.objects.get(slug="acme-again").name == existing.upper()


def test_a_taken_subdomain_is_named_in_the_error_with_the_schema_left_behind(tenant):
    # "Acme Inc" as subdomain acme-inc: the tenant is gone but its schema tenant_acme_inc is still there.
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA tenant_acme_inc")
    before = snapshot("acme-inc")

    response = signup({**VALID, "company_name": "Acme Inc", "slug": "acme-inc"})

    assert response.status_code == 200
    assert field_errors(response, "slug") == (
        "subdomain 'acme-inc' is taken (schema 'tenant_acme_inc' exists); choose another subdomain."
    )
    assert field_errors(response, "company_name") == ""
    assert snapshot("acme-inc") == before


def test_password_too_close_to_the_email_is_refused():
    response = signup({**VALID, "email": "violet.harbour@example.com", "password": "violet.harbour"})
    assert "too similar" in field_errors(response, "password")


def test_signup_without_csrf_token_is_refused():
    before = snapshot("initech")
    response = Client(HTTP_HOST="localhost", enforce_csrf_checks=True).post("/signup/", VALID)
    assert response.status_code == 403
    assert snapshot("initech") == before


def test_failure_after_the_user_was_created_leaves_no_user():
    before = snapshot("initech")
    seen = []

    def fail(sender, step, **kwargs):
        if step == "commit":  # everything written, nothing committed
            seen.append(User.objects.filter(email="boss@initech.example").exists())
            raise RuntimeError("fault injected at commit")

    provisioning_step.connect(fail)
    try:
        with pytest.raises(RuntimeError, match="fault injected"):
            user_signup(company_name="Initech", slug="initech", email="boss@initech.example", password=PASSWORD)
    finally:
        provisioning_step.disconnect(fail)

    assert seen == [True]  # the user existed when provisioning failed
    assert snapshot("initech") == before
    assert not User.objects.filter(email="boss@initech.example").exists()


def test_signup_service_refuses_a_taken_slug_after_creating_nothing():
    before = snapshot("acme")
    with pytest.raises(TenantExists):
        user_signup(company_name="Acme Again", slug="acme", email="new@acme-again.example", password=PASSWORD)
    assert snapshot("acme") == before


def test_signup_losing_a_race_for_the_slug_shows_the_error_on_the_slug_field():
    # Another sign-up takes the slug between the form's checks and provisioning.
    def race(sender, step, slug, **kwargs):
        if step == "claim_spare":
            raise TenantExists(f"slug {slug!r} was taken by a concurrent tenant creation")

    before = snapshot("initech")
    provisioning_step.connect(race)
    try:
        response = signup(VALID)
    finally:
        provisioning_step.disconnect(race)

    assert response.status_code == 200
    assert "taken by a concurrent tenant creation" in field_errors(response, "slug")
    assert snapshot("initech") == before


# --- login token -------------------------------------------------------------------------------------


@pytest.fixture
def acme_token(tenant, owner_user):
    return login_token_issue(user=owner_user, tenant=tenant)


def assert_refused(response, client, reason):
    assert response.status_code == 403
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())
    assert reason in text
    base = getattr(client, "base_path", "")  # conftest.TenantClient: the tenant's base path in path mode
    assert f'href="{base}/accounts/login/"' in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert is_anonymous(client)
    assert client.get("/").status_code == 302  # the dashboard still asks for a login


def test_token_logs_in_once_and_a_reuse_is_refused(client_for, tenant, acme_token):
    first = client_for(tenant)
    assert first.get(token_path(acme_token))["Location"] == f"{first.base_path}/"
    assert first.get("/").status_code == 200

    second = client_for(tenant)
    assert_refused(second.get(token_path(acme_token)), second, "used already")


def test_expired_token_is_refused(client_for, tenant, acme_token):
    connection.set_schema_to_public()
    LoginToken.objects.filter(token_hash=hashlib.sha256(acme_token.encode()).hexdigest()).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    client = client_for(tenant)
    assert_refused(client.get(token_path(acme_token)), client, "expired")


@pytest.mark.parametrize(("setting", "expected"), [(5, 5), (60, 60), (3600, 60)])
def test_token_lifetime_follows_the_setting_up_to_60_seconds(settings, tenant, owner_user, setting, expected):
    settings.TENANCY_LOGIN_TOKEN_SECONDS = setting
    token = login_token_issue(user=owner_user, tenant=tenant)
    issued = LoginToken.objects.get(token_hash=hashlib.sha256(token.encode()).hexdigest())
    assert issued.expires_at - issued.created == timedelta(seconds=expected)


def test_token_for_another_tenant_is_refused_and_stays_bound_to_its_own(client_for, tenant, other_tenant):
    globex_owner = User.objects.get(email="owner@globex.localhost")
    token = login_token_issue(user=globex_owner, tenant=other_tenant)

    on_acme = client_for(tenant)
    assert_refused(on_acme.get(token_path(token)), on_acme, "issued for another workspace")

    on_globex = client_for(other_tenant)
    assert on_globex.get(token_path(token)).status_code == 302
    assert on_globex.get("/").status_code == 200


@pytest.mark.parametrize("token", ["garbage", "A" * 43, "x" * 300, "%00%27"])
def test_unknown_token_is_refused(client_for, tenant, token):
    client = client_for(tenant)
    assert_refused(client.get(token_path(token)), client, "not valid")


def test_token_url_does_not_exist_on_the_public_host(acme_token):
    assert Client(HTTP_HOST="localhost").get(token_path(acme_token)).status_code == 404


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example", "http://globex.localhost/", "/\\evil.example", "javascript:x"]
)
def test_foreign_next_is_never_followed(client_for, tenant, acme_token, target):
    client = client_for(tenant)
    response = client.get(f"{token_path(acme_token)}?next={quote(target, safe='')}")
    assert response.status_code == 302
    assert response["Location"] == f"{client.base_path}/"


def test_next_on_the_same_host_is_followed(client_for, tenant, acme_token, tenant_path):
    target = tenant_path("/products/?page=2")  # a full path: under the tenant's base path in path mode
    response = client_for(tenant).get(f"{token_path(acme_token)}?next={quote(target, safe='/')}")
    assert response["Location"] == target


def test_token_is_refused_when_the_membership_was_removed_meanwhile(client_for, tenant, member_user):
    token = login_token_issue(user=member_user, tenant=tenant)
    Membership.objects.filter(user=member_user, tenant=tenant).delete()
    client = client_for(tenant)
    assert_refused(client.get(token_path(token)), client, "no longer a member of Acme Corporation")


def test_token_is_issued_only_to_members(tenant, other_tenant, owner_user):
    with pytest.raises(NotAMember):
        login_token_issue(user=owner_user, tenant=other_tenant)


def test_concurrent_consumption_accepts_a_token_exactly_once(tenant):
    # Committed rows in separate connections (one per thread), outside the test's transaction.
    acme_id = tenant.pk

    def in_own_connection(work):
        try:
            connection.set_schema_to_public()
            return work()
        finally:
            connection.close()

    def issue():
        owner = User.objects.get(email="owner@acme.localhost")
        return login_token_issue(user=owner, tenant=Tenant.objects.get(pk=acme_id))

    with ThreadPoolExecutor(max_workers=2) as pool:
        try:
            for _ in range(5):
                token = pool.submit(in_own_connection, issue).result()
                barrier = threading.Barrier(2)

                def consume(token=token, barrier=barrier):
                    acme = Tenant.objects.get(pk=acme_id)
                    barrier.wait()
                    try:
                        return login_token_consume(token=token, tenant=acme).user.email
                    except LoginTokenUsed:
                        return "refused"

                outcomes = [pool.submit(in_own_connection, consume) for _ in range(2)]
                assert sorted(future.result() for future in outcomes) == ["owner@acme.localhost", "refused"]
        finally:
            pool.submit(in_own_connection, lambda: LoginToken.objects.filter(tenant_id=acme_id).delete()).result()
