"""Products REST API on tenant hosts: thin views over the services, domain errors as 400/404/409."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.products.services import product_create


def unique_sku() -> str:
    return f"API-{uuid.uuid4().hex[:8].upper()}"


def test_api_creates_a_product_with_a_normalised_sku(tenant: object, tenant_client: Client) -> None:
    sku = unique_sku()

    response = tenant_client.post(
        "/api/products/", {"name": "API product", "sku": sku.lower(), "price": "9.90"}, content_type="application/json"
    )

    assert response.status_code == 201
    assert response.json()["sku"] == sku
    assert response.json()["price"] == "9.90"
    with tenant_context(tenant):
        assert Product.objects.get(sku=sku).name == "API product"


def test_api_answers_400_naming_the_bad_sku(tenant_client: Client) -> None:
    response = tenant_client.post(
        "/api/products/", {"name": "Bad", "sku": "no spaces", "price": "1.00"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "'no spaces'" in response.json()["detail"]
    assert "A-Z, 0-9" in response.json()["detail"]


def test_api_answers_400_for_a_negative_price(tenant_client: Client) -> None:
    response = tenant_client.post(
        "/api/products/", {"name": "Neg", "sku": unique_sku(), "price": "-5"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "price -5" in response.json()["detail"]


def test_api_answers_400_with_field_errors_when_a_field_is_missing(tenant_client: Client) -> None:
    response = tenant_client.post("/api/products/", {"name": "No SKU"}, content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()) >= {"sku", "price"}


def test_api_answers_409_for_a_duplicate_sku(tenant: object, tenant_client: Client) -> None:
    sku = unique_sku()
    product_create(name="First", sku=sku, price="1.00")

    response = tenant_client.post(
        "/api/products/", {"name": "Second", "sku": sku, "price": "1.00"}, content_type="application/json"
    )

    assert response.status_code == 409
    assert sku in response.json()["detail"]


def test_api_lists_and_retrieves_products(tenant: object, tenant_client: Client) -> None:
    sku = unique_sku()
    product = product_create(name="Listed", sku=sku, price="1.00")

    listed = tenant_client.get("/api/products/", {"search": sku}).json()
    retrieved = tenant_client.get(f"/api/products/{product.pk}/").json()

    assert [row["sku"] for row in listed["results"]] == [sku]
    assert retrieved["id"] == product.pk
    assert retrieved["name"] == "Listed"


def test_api_answers_404_for_an_unknown_product(tenant_client: Client) -> None:
    response = tenant_client.get("/api/products/987654321/")

    assert response.status_code == 404
    assert "987654321" in response.json()["detail"]


def test_api_partial_update_changes_only_the_sent_fields(tenant: object, manager_client: Client) -> None:
    product = product_create(name="Patch me", sku=unique_sku(), price="1.00", stock=7)

    response = manager_client.patch(
        f"/api/products/{product.pk}/", {"price": "2.50", "active": False}, content_type="application/json"
    )

    assert response.status_code == 200
    with tenant_context(tenant):
        product.refresh_from_db()
    assert (product.name, product.price, product.active, product.stock) == ("Patch me", Decimal("2.50"), False, 7)


def test_api_refuses_anonymous_requests(tenant: object, client_for: Callable[..., Client]) -> None:
    # 401: API-key authentication comes first and asks for credentials (WWW-Authenticate: Bearer).
    assert client_for(tenant).get("/api/products/").status_code == 401


def test_api_refuses_members_of_another_tenant(
    tenant: object, other_tenant: object, member_user: object, client_for: Callable[..., Client]
) -> None:
    response = client_for(other_tenant, member_user).get("/api/products/")
    # Domain routing: the session is a cookie replayed on another host, so the caller is anonymous there (401);
    # path routing: one session serves every tenant's paths, so a stranger is refused (403, code not_a_member).
    assert response.status_code == (403 if settings.TENANCY_ROUTING == "path" else 401)
    assert b"results" not in response.content
