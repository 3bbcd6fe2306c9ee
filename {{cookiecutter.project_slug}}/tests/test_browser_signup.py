"""Sign-up in a real browser (Debian's chromium, driven by Playwright) against a separately started server.

The server process commits what the sign-up creates, so the test drops the tenant and the user
afterwards and refills the spare-schema pool it drew from. Chromium resolves `*.localhost` to
loopback itself. Locally a missing chromium skips this test with the reason; with CI set it fails.
"""

import secrets
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection

from {{ cookiecutter.project_slug }}.accounts.models import User
from {{ cookiecutter.project_slug }}.accounts.services import user_delete
from {{ cookiecutter.project_slug }}.lifecycle.provisioning import spare_pool_fill
from {{ cookiecutter.project_slug }}.lifecycle.services import tenant_drop
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

from conftest import server_tenant_url

pytestmark = pytest.mark.browser


@pytest.fixture
def signup_identity(server_url, django_db_blocker):
    """A fresh slug and email; afterwards the tenant, its schema and the user are removed (committed)."""
    slug = f"signup-{secrets.token_hex(4)}"
    email = f"owner@{slug}.example"
    yield slug, email

    def clean_up() -> None:
        try:
            connection.set_schema_to_public()
            if Tenant.objects.filter(slug=slug).exists():
                tenant_drop(slug=slug)
            for user in User.objects.filter(email=email):
                user_delete(user=user)  # a user row is never deleted: its tombstone stays
            spare_pool_fill()
        finally:
            connection.close()

    # Playwright's sync API keeps an event loop running in this thread, where Django refuses ORM calls.
    with django_db_blocker.unblock(), ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(clean_up).result()


def test_signup_in_the_browser_lands_logged_in_on_the_new_tenant(browser, server_url, signup_identity):
    port = urlsplit(server_url).port
    slug, email = signup_identity
    name = f"Browser Signup {slug[-8:]}"
    context = browser.new_context()
    try:
        page = context.new_page()
        token_urls: list[str] = []

        def record(request):
            if "/accounts/token/" in request.url:
                token_urls.append(request.url)

        page.on("request", record)
        page.goto(f"http://localhost:{port}/")
        page.get_by_test_id("signup-link").click()
        page.wait_for_url(f"http://localhost:{port}/signup/")
        page.fill("input[name=company_name]", name)
        page.fill("input[name=slug]", slug)
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", "violet-harbour-lantern-42")
        page.click("button[type=submit]")

        page.wait_for_url(f"{server_tenant_url(server_url, slug)}/")
        assert page.get_by_test_id("tenant-name").inner_text() == name
        assert email in page.locator(".account").inner_text()
        sessions = {cookie["domain"] for cookie in context.cookies() if cookie["name"] == "sessionid"}
        public = context.new_page()
        public.goto(f"http://localhost:{port}/accounts/tenants/")
        if settings.TENANCY_ROUTING == "path":
            # One session on the one host: logged in on the public host's pages too.
            assert sessions == {"localhost"}, sessions
            assert public.url == f"http://localhost:{port}/accounts/tenants/"
            assert public.get_by_test_id(f"open-{slug}").is_visible()
        else:
            # Host-only cookies. The public host's session, if any, holds only the sign-up form's CSRF token
            # (CSRF_USE_SESSIONS): nobody is logged in there.
            assert f"{slug}.localhost" in sessions and sessions <= {f"{slug}.localhost", "localhost"}, sessions
            assert "/accounts/login/" in public.url
        public.close()

        # The one-time link is spent: opened again in another browser, it is refused and signs nobody in.
        assert len(token_urls) == 1
        other = browser.new_context()
        replay = other.new_page()
        response = replay.goto(token_urls[0])
        assert response is not None and response.status == 403
        assert replay.get_by_test_id("login-token-refused").is_visible()
        assert not [cookie for cookie in other.cookies() if cookie["name"] == "sessionid"]
        other.close()
    finally:
        context.close()
