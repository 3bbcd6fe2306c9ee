"""Account pages that belong to the public host: password reset and email links lead there (port from the
settings, never from a Host header), tenant hosts send reset and email management there, and an address of
another account cannot be added as a secondary email, whatever its case."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import connection
from django.test import Client

from {{ cookiecutter.project_slug }}.accounts.models import User
from {{ cookiecutter.project_slug }}.accounts.services import membership_grant

from conftest import client_on, tenant_host_of

pytestmark = pytest.mark.django_db

PASSWORD = "violet-harbour-lantern-42"
RESET_LINK = re.compile(r"https?://[^\s/]+/accounts/password/reset/key/[^\s]+/")


def person(email, memberships=(), *, address=True):
    """A user with PASSWORD and (tenant, role) memberships; `address`: with allauth's EmailAddress row too."""
    connection.set_schema_to_public()
    user = User.objects.create_user(email=email, password=PASSWORD)
    if address:
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    for each, role in memberships:
        membership_grant(user=user, tenant=each, role=role)
    return user


def reset_links(recipient):
    links = [RESET_LINK.findall(message.body) for message in mail.outbox if message.to == [recipient]]
    assert len(links) == 1 and len(links[0]) == 1, [m.body for m in mail.outbox]
    return links[0][0]


def test_reset_asked_on_a_tenant_host_mails_a_link_to_the_public_host_with_the_configured_port(settings, tenant):
    settings.TENANCY_PUBLIC_PORT = 8000
    person("victim@example.com", [(tenant, "member")])
    stranger = client_on(tenant, HTTP_HOST=f"{tenant_host_of(tenant)}:9999")

    response = stranger.post("/accounts/password/reset/", {"email": "victim@example.com"})

    assert response.status_code == 302
    link = reset_links("victim@example.com")
    assert link.startswith("http://localhost:8000/accounts/password/reset/key/"), link
    # The link works on the public host: allauth moves its key into the session and shows the form.
    path = link.removeprefix("http://localhost:8000")
    assert Client(HTTP_HOST="localhost:8000").get(path).status_code == 302


def test_reset_link_port_comes_from_the_settings_not_from_the_host_header(settings, tenant):
    settings.TENANCY_PUBLIC_PORT = 0
    person("victim@example.com", [(tenant, "member")])

    Client(HTTP_HOST="localhost:9999").post("/accounts/password/reset/", {"email": "victim@example.com"})

    link = reset_links("victim@example.com")
    assert link.startswith("http://localhost/accounts/password/reset/key/"), link


def test_reset_link_uses_https_when_the_settings_say_so(settings, tenant):
    settings.ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
    settings.TENANCY_PUBLIC_PORT = 8443
    person("victim@example.com", [(tenant, "member")])

    client_on(tenant).post("/accounts/password/reset/", {"email": "victim@example.com"})

    assert reset_links("victim@example.com").startswith("https://localhost:8443/accounts/password/reset/key/")


@pytest.mark.parametrize(
    "path",
    ["/accounts/password/reset/", "/accounts/password/reset/done/", "/accounts/email/", "/accounts/email/?x=1"],
)
def test_tenant_hosts_send_password_reset_and_email_management_to_the_public_host(settings, tenant, path):
    settings.TENANCY_PUBLIC_PORT = 8000
    response = client_on(tenant, HTTP_HOST=f"{tenant_host_of(tenant)}:9999").get(path)
    assert response.status_code == 302
    assert response["Location"] == f"http://localhost:8000{path}"


def test_email_management_is_not_done_on_a_tenant_host(client_for, tenant, member_user):
    response = client_for(tenant, member_user).post("/accounts/email/", {"email": "new@example.com", "action_add": ""})

    assert response.status_code == 302
    assert response["Location"] == "http://localhost/accounts/email/"
    connection.set_schema_to_public()
    assert not EmailAddress.objects.filter(email__iexact="new@example.com").exists()


def test_email_confirmation_link_leads_to_the_public_host_with_the_configured_port(settings, tenant):
    settings.TENANCY_PUBLIC_PORT = 8000
    user = person("owner2@example.com", [(tenant, "member")])
    client = Client(HTTP_HOST="localhost:9999")
    client.force_login(user)

    response = client.post("/accounts/email/", {"email": "second@example.com", "action_add": ""})

    assert response.status_code == 302
    sent = [m for m in mail.outbox if m.to == ["second@example.com"]]
    assert len(sent) == 1
    assert re.search(r"http://localhost:8000/accounts/confirm-email/[-:\w]+/", sent[0].body), sent[0].body


@pytest.mark.parametrize("with_address_row", [True, False], ids=["allauth-address", "account-email-only"])
@pytest.mark.parametrize("typed", ["taken@example.com", "Taken@Example.COM", " TAKEN@example.com "])
def test_an_address_of_another_account_cannot_be_added_whatever_its_case(tenant, typed, with_address_row):
    other = person("taken@example.com", [(tenant, "member")], address=with_address_row)
    user = person("me@example.com", [(tenant, "member")])
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)

    response = client.post("/accounts/email/", {"email": typed, "action_add": ""})

    assert response.status_code == 200
    assert "taken@example.com belongs to another account" in response.content.decode()
    connection.set_schema_to_public()
    assert list(EmailAddress.objects.filter(user=user).values_list("email", flat=True)) == ["me@example.com"]
    assert not EmailAddress.objects.filter(email__iexact="taken@example.com").exclude(user=other).exists()
    assert not mail.outbox
