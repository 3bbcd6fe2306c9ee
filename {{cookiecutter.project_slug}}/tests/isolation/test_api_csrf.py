"""CSRF on the API: with session authentication, a cross-site write without the token is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.products.models import Product

from .conftest import csrf_token_from
from conftest import tenant_host_of


def origins(other_tenant: Any) -> list[str | None]:
    """Where the forged POST comes from: another site, globex's pages (in path routing the same origin as acme's:
    only the token refuses it), or a page that sends no Origin."""
    return ["http://evil.example", f"http://{tenant_host_of(other_tenant)}", None]


@pytest.mark.guards_csrf
def test_a_cross_site_api_write_with_the_session_cookie_and_no_token_is_refused(
    client_for: Callable[..., Client], tenant: Any, other_tenant: Any, owner_user: Any
) -> None:
    browser = client_for(tenant, owner_user, enforce_csrf_checks=True)
    assert browser.get("/api/products/").status_code == 200  # the session works on the API
    for number, origin in enumerate(origins(other_tenant)):
        headers = {"HTTP_ORIGIN": origin} if origin else {}
        payload = {"name": "Forged", "sku": f"FORGED-API-{number}", "price": "1.00", "stock": 0}

        forged = browser.post("/api/products/", payload, content_type="application/json", **headers)

        assert forged.status_code == 403, (origin, forged.content)
        assert b"CSRF" in forged.content, origin
        with tenant_context(tenant):
            assert not Product.objects.filter(sku=payload["sku"]).exists(), origin
    # With the token of one of the host's pages (CSRF_USE_SESSIONS: it lives in the session), the same write
    # goes through: the refusals above were CSRF's.
    token = csrf_token_from(browser.get("/products/new/").content)
    honest = browser.post(
        "/api/products/",
        {"name": "Honest", "sku": "HONEST-API", "price": "1.00", "stock": 0},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert honest.status_code == 201, honest.content
    with tenant_context(tenant):
        assert Product.objects.filter(sku="HONEST-API").exists()
