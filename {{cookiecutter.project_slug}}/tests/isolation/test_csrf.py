"""CSRF: a cross-site POST without the form's token changes nothing on a tenant's host."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.products.models import Product

from .conftest import csrf_token_from

FORM = {"name": "Forged", "price": "1.00", "stock": "0", "active": "on"}
# Where the forged POST comes from: another site, another tenant's host, or a page that sends no Origin.
ORIGINS = ["http://evil.example", "http://globex.localhost", None]


@pytest.mark.guards_csrf
def test_a_cross_site_post_without_a_token_to_a_tenant_form_is_refused(
    host_client: Callable[..., Client], tenant: Any, owner_user: Any
) -> None:
    browser = host_client("acme.localhost", owner_user, enforce_csrf_checks=True)
    for number, origin in enumerate(ORIGINS):
        headers = {"HTTP_ORIGIN": origin} if origin else {}
        sku = f"FORGED-FORM-{number}"

        forged = browser.post("/products/new/", {**FORM, "sku": sku}, **headers)

        assert forged.status_code == 403, origin
        with tenant_context(tenant):
            assert not Product.objects.filter(sku=sku).exists(), origin
    # The same browser, with the page's own token, goes through: the refusals above were CSRF's.
    token = csrf_token_from(browser.get("/products/new/").content)
    honest = browser.post("/products/new/", {**FORM, "sku": "HONEST-FORM", "csrfmiddlewaretoken": token})
    assert honest.status_code == 302
    with tenant_context(tenant):
        assert Product.objects.filter(sku="HONEST-FORM").exists()
