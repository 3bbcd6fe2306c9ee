"""CSRF: a cross-site POST without the form's token changes nothing on a tenant's host."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.products.models import Product

from .conftest import csrf_token_from
from conftest import tenant_host_of

FORM = {"name": "Forged", "price": "1.00", "stock": "0", "active": "on"}


def origins(other_tenant: Any) -> list[str | None]:
    """Where the forged POST comes from: another site, globex's pages (in path routing the same origin as acme's:
    only the token refuses it), or a page that sends no Origin."""
    return ["http://evil.example", f"http://{tenant_host_of(other_tenant)}", None]


@pytest.mark.guards_csrf
def test_a_cross_site_post_without_a_token_to_a_tenant_form_is_refused(
    client_for: Callable[..., Client], tenant: Any, other_tenant: Any, owner_user: Any
) -> None:
    browser = client_for(tenant, owner_user, enforce_csrf_checks=True)
    for number, origin in enumerate(origins(other_tenant)):
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
