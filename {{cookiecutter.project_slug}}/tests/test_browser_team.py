"""Team accounts in a real browser (Debian's chromium, driven by Playwright) against a separately started server.

An owner of acme and the owner of globex each invite the same new address from their members pages; the
invitation emails (written to files by the server's email backend) carry single-use links; the invited person
creates an account through acme's link, joins globex with the same account through globex's link, then logs
in once on the public host and switches between the two tenants, seeing each one's data, and finally logs
out on one host, which logs the browser out of every host. The server process commits all this, so the test
removes the account and the invitations afterwards.
"""

import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection

from {{ cookiecutter.project_slug }}.accounts.models import Invitation, User
from {{ cookiecutter.project_slug }}.accounts.services import user_delete

from conftest import server_tenant_url

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple 42"
ACME_ONLY = "Anvil"  # a product only acme has (demo/seed.py)
GLOBEX_ONLY = "Doomsday Device"  # a product only globex has


@pytest.fixture
def invitee(server_url, django_db_blocker):
    """A fresh email address; afterwards its account (if any) and its invitations are removed (committed)."""
    email = f"new-{secrets.token_hex(4)}@example.com"
    yield email

    def clean_up() -> None:
        try:
            connection.set_schema_to_public()
            Invitation.objects.filter(email=email).delete()
            user = User.objects.filter(email=email).first()
            if user is not None:
                user_delete(user=user)
        finally:
            connection.close()

    # Playwright's event loop runs in this thread, where Django refuses database calls: use another one.
    with django_db_blocker.unblock(), ThreadPoolExecutor(1) as pool:
        pool.submit(clean_up).result()


def invitation_link(email: str, home: str) -> str:
    """The invitation link in the last email the server sent to `email` for the tenant at `home` (its base URL)."""
    from conftest import server_mails  # imported here: its sort order depends on the project slug

    for text in reversed(server_mails(email)):
        match = re.search(rf"({re.escape(home)}/invitations/[\w-]+/)", text)
        if match:
            return match.group(1)
    raise AssertionError(f"no invitation email for {email} with a link under {home}: {server_mails(email)}")


def log_in(page, url: str, email: str, password: str) -> None:
    page.goto(url)
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()


def invite(browser, server_url: str, slug: str, other: str, owner: tuple[str, str], email: str) -> str:
    """As `owner` (email, password), log in on the public host, land on `slug`'s pages, check that tenant
    `other`'s pages are not theirs, invite `email` as member from the members page; return the invitation link
    from the email."""
    port = urlsplit(server_url).port
    home = server_tenant_url(server_url, slug)
    context = browser.new_context()
    page = context.new_page()
    log_in(page, f"http://localhost:{port}/accounts/login/", *owner)
    # The owner belongs to one tenant: the login crosses straight to it (domain mode: with a one-time token).
    page.wait_for_url(f"{home}/")
    # Another tenant's products page, typed in: domain mode, its host has no session (the login page); path
    # mode, the one session is known there and refused.
    elsewhere = server_tenant_url(server_url, other)
    response = page.goto(f"{elsewhere}/products/")
    assert response is not None
    if settings.TENANCY_ROUTING == "path":
        assert response.status == 403 and page.url == f"{elsewhere}/products/"
    else:
        assert page.url.startswith(f"{elsewhere}/accounts/login/")
    page.goto(f"{home}/")
    page.get_by_test_id("members-link").click()
    page.fill("input[name=email]", email)
    page.select_option("select[name=role]", "member")
    page.get_by_test_id("send-invitation").click()
    page.wait_for_selector("[data-testid=invitation-row]")
    assert email in page.get_by_test_id("invitations").inner_text()
    context.close()
    return invitation_link(email, home)


def test_owner_invites_member_accepts_logs_in_once_and_switches_tenants(browser, server_url, invitee):
    port = urlsplit(server_url).port
    acme, globex = server_tenant_url(server_url, "acme"), server_tenant_url(server_url, "globex")
    homes = {"acme": acme, "globex": globex}
    acme_link = invite(browser, server_url, "acme", "globex", ("owner@acme.localhost", "acme-demo-password"), invitee)
    globex_link = invite(
        browser, server_url, "globex", "acme", ("owner@globex.localhost", "globex-demo-password"), invitee
    )

    # The invitee opens acme's link: a new account is created, and they are logged in on acme.
    context = browser.new_context()
    page = context.new_page()
    page.goto(acme_link)
    assert invitee in page.get_by_test_id("invitation-summary").inner_text()
    page.fill("input[name=name]", "New Member")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_test_id("accept-invitation").click()
    page.wait_for_url(f"{acme}/")
    assert page.get_by_test_id("account-email").inner_text().startswith(f"{invitee} · member")
    # Globex's link: the account exists now, so it asks for its password and adds the membership.
    page.goto(globex_link)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_test_id("accept-invitation").click()
    page.wait_for_url(f"{globex}/")
    # A link works once.
    page.goto(acme_link)
    assert "accepted already" in page.get_by_test_id("invitation-refused").inner_text()
    context.close()

    # A new browser: log in once on the public host, pick a tenant, then switch without logging in again.
    context = browser.new_context()
    page = context.new_page()
    log_in(page, f"http://localhost:{port}/accounts/login/", invitee, PASSWORD)
    page.wait_for_url(f"http://localhost:{port}/accounts/tenants/")
    page.get_by_test_id("open-acme").click()
    page.wait_for_url(f"{acme}/")
    page.goto(f"{acme}/products/")
    listed = page.locator("main").inner_text()
    assert ACME_ONLY in listed and GLOBEX_ONLY not in listed

    for slug, shown, hidden in (("globex", GLOBEX_ONLY, ACME_ONLY), ("acme", ACME_ONLY, GLOBEX_ONLY)):
        page.get_by_test_id("tenant-switcher").locator("summary").click()
        page.get_by_test_id(f"switch-{slug}").click()
        page.wait_for_url(f"{homes[slug]}/")
        page.goto(f"{homes[slug]}/products/")
        assert "/accounts/login/" not in page.url
        listed = page.locator("main").inner_text()
        assert shown in listed and hidden not in listed

    # Logging out on acme logs this browser out of globex and the public host too.
    page.get_by_test_id("logout").click()
    for url in (f"{globex}/products/", f"http://localhost:{port}/accounts/tenants/"):
        page.goto(url)
        assert "/accounts/login/" in page.url, url
    context.close()
