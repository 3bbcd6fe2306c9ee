"""Rate limits through real requests: sign-up, the platform admin's login, invitations, login tokens and
django-allauth's own views answer 429 with Retry-After once over their limit, and a refusal changes nothing.

Limits are set small per test. Rates are per day: django-ratelimit counts in fixed windows, and a window
ending in the middle of a test would start the count afresh.
"""
{%- if cookiecutter.use_celery == "y" %}

import re
import socket
{%- endif %}

import pytest
{%- if cookiecutter.use_celery == "y" %}
import redis
{%- endif %}
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client, override_settings

from {{ cookiecutter.project_slug }}.accounts.invitations import invitation_create
from {{ cookiecutter.project_slug }}.accounts.login_tokens import login_token_issue
from {{ cookiecutter.project_slug }}.accounts.models import Invitation, LoginToken, Membership, User
from {{ cookiecutter.project_slug }}.accounts.services import membership_grant
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant
{%- if cookiecutter.use_celery == "y" %}

from config.settings.base import cache_settings
{%- endif %}

pytestmark = pytest.mark.django_db

PASSWORD = "violet-harbour-lantern-42"
DAY = 24 * 60 * 60


def assert_refused(response, text="Too many"):
    """A rate-limit refusal: 429, a Retry-After in seconds within the window, and the page saying so."""
    assert response.status_code == 429, response.status_code
    assert 1 <= int(response["Retry-After"]) <= DAY
    assert "no-store" in response["Cache-Control"]
    assert text in response.content.decode()


def person(email, memberships=(), **extra):
    connection.set_schema_to_public()
    user = User.objects.create_user(email=email, password=PASSWORD, **extra)
    for each, role in memberships:
        membership_grant(user=user, tenant=each, role=role)
    return user


# --- sign-up ------------------------------------------------------------------------------------------


def signup_form(n):
    return {"company_name": f"Burst {n}", "slug": f"burst{n}", "email": f"boss{n}@burst.example", "password": PASSWORD}


def burst_schemas():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant_burst%%'")
        return cursor.fetchone()[0]


@override_settings(RATE_LIMIT_SIGNUP="2/d")
def test_rapid_signups_from_one_address_are_refused_after_the_limit_and_create_nothing(db):
    browser = Client(HTTP_HOST="localhost")

    answers = [browser.post("/signup/", signup_form(n)) for n in range(20)]

    assert [a.status_code for a in answers[:2]] == [302, 302]
    for answer in answers[2:]:
        assert_refused(answer, "Too many sign-ups from your address")
    connection.set_schema_to_public()
    assert Tenant.objects.filter(slug__startswith="burst").count() == 2
    assert User.objects.filter(email__endswith="@burst.example").count() == 2
    assert burst_schemas() == 2
    # Another address still signs up.
    other = Client(HTTP_HOST="localhost", REMOTE_ADDR="127.0.0.2").post("/signup/", signup_form(99))
    assert other.status_code == 302


@override_settings(RATE_LIMIT_SIGNUP="1/d")
def test_a_signup_form_with_errors_does_not_count(db):
    browser = Client(HTTP_HOST="localhost")
    for _ in range(3):
        assert browser.post("/signup/", {**signup_form(1), "email": "not-an-email"}).status_code == 200
    assert browser.post("/signup/", signup_form(1)).status_code == 302


# --- platform admin login -----------------------------------------------------------------------------


def admin_login(client, email, password):
    return client.post("/admin/login/?next=/admin/", {"username": email, "password": password, "next": "/admin/"})


@override_settings(RATE_LIMIT_ADMIN_LOGIN_FAILURES="3/d")
def test_admin_login_locks_after_the_failures_and_refuses_the_right_password(db):
    person("ops@platform.example", is_staff=True, is_superuser=True)
    person("other@platform.example", is_staff=True, is_superuser=True)
    attacker = Client(HTTP_HOST="localhost")

    failures = [admin_login(attacker, "ops@platform.example", f"guess-{n}") for n in range(3)]
    assert [f.status_code for f in failures] == [200, 200, 200]

    locked = admin_login(attacker, "OPS@platform.example ", PASSWORD)  # same account, another spelling
    assert_refused(locked, "Too many failed logins to the platform admin")
    assert "_auth_user_id" not in attacker.session
    # Another account from the same address, and the same account from another address, still log in.
    assert admin_login(Client(HTTP_HOST="localhost"), "other@platform.example", PASSWORD).status_code == 302
    elsewhere = Client(HTTP_HOST="localhost", REMOTE_ADDR="127.0.0.2")
    assert admin_login(elsewhere, "ops@platform.example", PASSWORD).status_code == 302


@override_settings(RATE_LIMIT_ADMIN_LOGIN_FAILURES="3/d")
def test_successful_admin_logins_do_not_count_as_failures(db):
    person("ops@platform.example", is_staff=True, is_superuser=True)
    for _ in range(4):
        assert admin_login(Client(HTTP_HOST="localhost"), "ops@platform.example", PASSWORD).status_code == 302


# --- invitations --------------------------------------------------------------------------------------


@pytest.fixture
def invitation_for_existing_account(tenant, other_tenant, owner_user):
    person("invitee@example.com", [(other_tenant, "member")])
    connection.set_schema_to_public()
    _invitation, token = invitation_create(
        tenant=tenant, email="invitee@example.com", role="member", invited_by=owner_user
    )
    return token


@override_settings(RATE_LIMIT_INVITATION_PASSWORD_FAILURES="2/d")
def test_invitation_password_check_locks_after_wrong_passwords(client_for, tenant, invitation_for_existing_account):
    path = f"/invitations/{invitation_for_existing_account}/"
    browser = client_for(tenant)

    assert [browser.post(path, {"password": f"guess-{n}"}).status_code for n in range(2)] == [400, 400]
    assert_refused(browser.post(path, {"password": PASSWORD}), "Too many wrong passwords for invitee@example.com")

    connection.set_schema_to_public()
    assert not Membership.objects.filter(tenant=tenant, user__email="invitee@example.com").exists()
    assert Invitation.objects.get(email="invitee@example.com").accepted_at is None


@override_settings(RATE_LIMIT_INVITATION="3/d")
def test_invitation_links_are_limited_per_address(client_for, tenant, invitation_for_existing_account):
    browser = client_for(tenant)
    assert [browser.get(f"/invitations/guess-{n}/").status_code for n in range(3)] == [404, 404, 404]
    assert_refused(browser.get(f"/invitations/{invitation_for_existing_account}/"))


@override_settings(RATE_LIMIT_INVITATION_SEND="1/d")
def test_invitations_sent_are_limited_per_member(client_for, tenant, owner_user):
    owner = client_for(tenant, owner_user)
    assert owner.post("/members/", {"email": "first@example.com", "role": "member"}).status_code == 302

    assert_refused(owner.post("/members/", {"email": "second@example.com", "role": "member"}))

    connection.set_schema_to_public()
    assert not Invitation.objects.filter(email="second@example.com").exists()
    assert [m.to for m in mail.outbox] == [["first@example.com"]]


# --- login tokens -------------------------------------------------------------------------------------


@override_settings(RATE_LIMIT_LOGIN_TOKEN_FAILURES="2/d")
def test_refused_login_tokens_lock_the_address_out_of_token_logins(client_for, tenant, owner_user):
    connection.set_schema_to_public()
    token = login_token_issue(user=owner_user, tenant=tenant)
    browser = client_for(tenant)

    assert [browser.get(f"/accounts/token/guess-{n}/").status_code for n in range(2)] == [403, 403]
    assert_refused(browser.get(f"/accounts/token/{token}/"), "Too many sign-in links")
    assert "_auth_user_id" not in browser.session


@override_settings(RATE_LIMIT_LOGIN_TOKEN_ISSUE="2/d")
def test_workspace_switches_issuing_login_tokens_are_limited_per_user(tenant, owner_user):
    connection.set_schema_to_public()
    # Tokens this user got earlier in the session (a server process's sign-ins are committed) are not this test's.
    issued_before = LoginToken.objects.filter(user=owner_user).count()
    public = Client(HTTP_HOST="localhost")
    public.force_login(owner_user)
    assert [public.post("/accounts/switch/", {"tenant": "acme"}).status_code for _ in range(2)] == [302, 302]

    assert_refused(public.post("/accounts/switch/", {"tenant": "acme"}))

    connection.set_schema_to_public()
    # Path mode: a switch is a redirect within the one session and issues no token, but counts all the same.
    issued = LoginToken.objects.filter(user=owner_user).count() - issued_before
    assert issued == (0 if settings.TENANCY_ROUTING == "path" else 2)


# --- django-allauth's own views -----------------------------------------------------------------------


def test_allauth_password_reset_refusal_is_a_429_with_retry_after(settings, tenant):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "reset_password": "1/m/ip"}
    browser = Client(HTTP_HOST="localhost")
    assert browser.post("/accounts/password/reset/", {"email": "owner@acme.localhost"}).status_code == 302

    refused = browser.post("/accounts/password/reset/", {"email": "owner@acme.localhost"})

    assert_refused(refused)
    assert refused["Retry-After"] == "60"
    assert len(mail.outbox) == 1


def test_allauth_login_refusal_is_a_429_with_retry_after(settings, tenant):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/5m/ip"}
    browser = Client(HTTP_HOST="localhost")
    for _ in range(2):
        assert browser.post("/accounts/login/", {"login": "nobody@example.com", "password": "x"}).status_code == 200

    refused = browser.post("/accounts/login/", {"login": "owner@acme.localhost", "password": "acme-demo-password"})

    assert_refused(refused)
    assert refused["Retry-After"] == "300"


def test_a_malformed_rate_in_the_environment_is_refused_naming_it(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from config.settings.base import rate_setting

    monkeypatch.setenv("RATE_LIMIT_SIGNUP", "5 per minute")
    with pytest.raises(ImproperlyConfigured, match=r"RATE_LIMIT_SIGNUP='5 per minute' is not a rate"):
        rate_setting("RATE_LIMIT_SIGNUP", "5/10m")
    monkeypatch.setenv("RATE_LIMIT_LOGIN", "10/m/ip,5/5m/key")
    assert rate_setting("RATE_LIMIT_LOGIN", "30/m/ip", allauth=True) == "10/m/ip,5/5m/key"
{%- if cookiecutter.use_celery == "y" %}


# --- where the counters live --------------------------------------------------------------------------


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_limits_hold_per_process_while_redis_is_unreachable(db):
    """The cache on a Redis that refuses connections: the counters fall back to this process's memory."""
    person("ops@platform.example", is_staff=True, is_superuser=True)
    with override_settings(
        CACHES=cache_settings(f"redis://127.0.0.1:{closed_port()}/0"), RATE_LIMIT_ADMIN_LOGIN_FAILURES="2/d"
    ):
        attacker = Client(HTTP_HOST="localhost")
        failures = [admin_login(attacker, "ops@platform.example", f"guess-{n}") for n in range(2)]
        locked = admin_login(attacker, "ops@platform.example", PASSWORD)
        other = admin_login(Client(HTTP_HOST="localhost", REMOTE_ADDR="127.0.0.2"), "ops@platform.example", PASSWORD)

    assert [f.status_code for f in failures] == [200, 200]
    assert_refused(locked)
    assert other.status_code == 302


def test_counters_are_kept_in_redis_when_it_is_up(db, settings):
    """With the cache on Redis (as in development and production) the counters are Redis keys, shared by
    every process."""
    url = settings.REDIS_URL
    person("ops@platform.example", is_staff=True, is_superuser=True)
    client = redis.Redis.from_url(url)
    before = set(client.scan_iter("*ratelimit:*"))
    try:
        with override_settings(CACHES=cache_settings(url), RATE_LIMIT_ADMIN_LOGIN_FAILURES="1/d"):
            assert admin_login(Client(HTTP_HOST="localhost"), "ops@platform.example", "guess").status_code == 200
            assert_refused(admin_login(Client(HTTP_HOST="localhost"), "ops@platform.example", PASSWORD))
        added = set(client.scan_iter("*ratelimit:*")) - before
        assert len(added) == 1 and re.match(rb"^public:.*:ratelimit:[0-9a-f]{64}$", next(iter(added))), added
    finally:
        for key in set(client.scan_iter("*ratelimit:*")) - before:
            client.delete(key)
{%- endif %}
