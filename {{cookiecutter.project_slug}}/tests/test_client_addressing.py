"""The suite's tenant clients (conftest.py `client_for`, `TenantClient`) address tenants the bake's way.

Tests written once pass tenant paths (`/products/`) and run in both routing modes; these tests pin down what
the clients send, so a path-routing bake cannot pass by reaching tenants through their domains instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings

from {{ cookiecutter.project_slug }}.accounts.models import User

from conftest import TenantClient

pytestmark = pytest.mark.django_db

PATH_MODE = settings.TENANCY_ROUTING == "path"


def test_a_tenant_client_sends_tenant_paths_the_modes_way(tenant: Any, tenant_client: TenantClient) -> None:
    request = tenant_client.get("/products/?page=1").wsgi_request  # type: ignore[attr-defined]

    if PATH_MODE:
        expected = ("localhost", f"/{settings.TENANCY_PATH_PREFIX}/acme/products/?page=1")
    else:
        expected = ("acme.localhost", "/products/?page=1")
    assert (request.get_host(), request.get_full_path()) == expected


def test_each_tenants_client_gets_that_tenants_pages(
    tenant: Any, other_tenant: Any, owner_user: Any, client_for: Callable[..., TenantClient]
) -> None:
    globex_owner = User.objects.get(email="owner@globex.localhost")

    acme = client_for(tenant, owner_user).get("/")
    globex = client_for(other_tenant, globex_owner).get("/")

    assert (acme.status_code, globex.status_code) == (200, 200)
    assert acme.context["current_tenant"].slug == "acme"
    assert globex.context["current_tenant"].slug == "globex"


def test_full_paths_and_redirects_are_sent_as_they_are(
    tenant: Any,
    client_for: Callable[..., TenantClient],
    tenant_path: Callable[..., str],
    login_redirect: Callable[..., str],
) -> None:
    client = client_for(tenant)

    followed = client.get("/products/", follow=True)
    with client.verbatim():
        verbatim = client.get("/healthz").request["PATH_INFO"]

    assert followed.status_code == 200
    assert followed.redirect_chain == [(login_redirect("/products/"), 302)]
    assert client.full_path(tenant_path("/customers/")) == tenant_path("/customers/")
    assert client.full_path("http://localhost/products/") == "http://localhost/products/"
    assert verbatim == "/healthz"
