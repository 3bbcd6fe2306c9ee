"""A real browser (Debian's chromium, driven by Playwright) against a separately started server.

Chromium resolves `*.localhost` to loopback itself, so tenant hosts are opened by name (in path mode tenants are
under `/<prefix>/<slug>/` on the public host: conftest.server_tenant_url).
Locally a missing chromium skips this test with the reason; with CI set it fails instead.
"""

from urllib.parse import urlsplit

import pytest

from conftest import server_tenant_url

pytestmark = pytest.mark.browser

DEMO = {
    "acme": ("owner@acme.localhost", "acme-demo-password", "Acme Corporation", ["Anvil", "Rocket Skates"]),
    "globex": ("owner@globex.localhost", "globex-demo-password", "Globex Corporation", ["Hammock", "Doomsday Device"]),
}


def test_each_tenant_dashboard_shows_its_own_products(browser, server_url):
    for slug, (email, password, name, products) in DEMO.items():
        others = [p for other, demo in DEMO.items() if other != slug for p in demo[3]]
        home = server_tenant_url(server_url, slug)
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{home}/")
        assert f"{urlsplit(home).path}/accounts/login/" in page.url
        page.fill("input[name=login]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{home}/")
        assert page.get_by_test_id("tenant-name").inner_text() == name
        page.goto(f"{home}/products/")
        listed = page.locator("body").inner_text()
        for product in products:
            assert product in listed
        for product in others:
            assert product not in listed
        context.close()


def test_public_site_and_unknown_host_in_the_browser(browser, server_url):
    port = urlsplit(server_url).port
    page = browser.new_page()
    page.goto(f"http://localhost:{port}/")
    assert page.get_by_test_id("public-landing").is_visible()
    response = page.goto(f"http://nope.localhost:{port}/")
    assert response is not None and response.status == 404
    # An unknown tenant: its host (domain mode) or its base path (path mode) is not found either.
    response = page.goto(f"{server_tenant_url(server_url, 'nope')}/")
    assert response is not None and response.status == 404
    page.close()
