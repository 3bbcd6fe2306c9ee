"""The REST API with another tenant's ids, search and filter parameters, and another tenant's session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.bookings.models import Booking
from {{ cookiecutter.project_slug }}.customers.models import Customer
from {{ cookiecutter.project_slug }}.products.models import Product

from .conftest import GlobexRows, path_routing, same_browser
from conftest import client_on

JSON = "application/json"


def test_api_detail_update_and_delete_answer_404_or_405_for_another_tenants_ids(
    manager_client: Client, other_tenant: Any, globex_rows: GlobexRows
) -> None:
    product = f"/api/products/{globex_rows.product_id}/"
    customer = f"/api/customers/{globex_rows.customer_id}/"
    booking = f"/api/bookings/{globex_rows.booking_id}/"
    answers = {
        "product detail": manager_client.get(product),
        "product update": manager_client.patch(product, {"name": "Hijacked", "stock": 0}, content_type=JSON),
        "product delete": manager_client.delete(product),
        "customer detail": manager_client.get(customer),
        "customer update": manager_client.patch(customer, {"name": "Hijacked"}, content_type=JSON),
        "customer delete": manager_client.delete(customer),
        "booking detail": manager_client.get(booking),
        "booking cancel": manager_client.post(f"{booking}cancel/"),
        "booking delete": manager_client.delete(booking),
    }

    for action, response in answers.items():
        assert response.status_code in (404, 405), (action, response.status_code)
        assert globex_rows.leaked_into(response.content) == [], action
    with tenant_context(other_tenant):
        assert Product.objects.get(pk=globex_rows.product_id).name == f"{globex_rows.marker} product"
        assert Customer.objects.get(pk=globex_rows.customer_id).name == f"{globex_rows.marker} customer"
        assert Booking.objects.get(pk=globex_rows.booking_id).status == Booking.Status.CONFIRMED


def test_api_create_refuses_another_tenants_ids_in_the_payload(
    tenant: Any, tenant_client: Client, globex_rows: GlobexRows
) -> None:
    booking = tenant_client.post(
        "/api/bookings/",
        {"product_id": globex_rows.product_id, "customer_id": globex_rows.customer_id,
         "start": "2031-01-06T10:00:00Z", "end": "2031-01-06T11:00:00Z"},
        content_type=JSON,
    )  # fmt: skip
    product = tenant_client.post(
        "/api/products/",
        {"name": "Probe", "sku": "PROBE-API-CAT", "price": "1.00", "category_id": globex_rows.category_id},
        content_type=JSON,
    )

    assert booking.status_code in (400, 404)
    assert product.status_code in (400, 404)
    with tenant_context(tenant):
        assert not Booking.objects.filter(product_id=globex_rows.product_id).exists()
        assert not Product.objects.filter(sku="PROBE-API-CAT").exists()


def test_api_lists_search_and_filters_return_this_tenants_rows_only(
    tenant_client: Client, globex_rows: GlobexRows
) -> None:
    paths = [
        "/api/products/?search={marker}",
        "/api/products/?active=true&limit=100",
        "/api/products/?offset=0&limit=100&search=7.00",
        "/api/customers/?search={marker}",
        "/api/bookings/?product_id={product_id}",
        "/api/bookings/?status=confirmed&limit=100",
    ]
    for path in paths:
        response = tenant_client.get(path.format(marker=globex_rows.marker, product_id=globex_rows.product_id))

        assert response.status_code == 200, path
        assert globex_rows.leaked_into(response.content) == [], path
        # globex's rows all have the id FOREIGN_ID, which acme's tables never reach.
        assert globex_rows.product_id not in [row["id"] for row in response.json()["results"]], path


@pytest.mark.guards_authorization
def test_api_refuses_a_session_from_another_tenants_host(
    client_for: Callable[..., Client], other_tenant: Any, globex_member: Any, tenant: Any
) -> None:
    globex_session = client_for(other_tenant, globex_member)
    on_acme = same_browser(globex_session, tenant)  # domain routing: the cookie replayed on acme's host
    for path in ["/api/products/", "/api/customers/", "/api/bookings/"]:
        assert globex_session.get(path).status_code == 200, path  # on its own tenant

        response = on_acme.get(path)

        if path_routing():  # one session on every tenant's paths: refused as a stranger
            assert response.status_code == 403, path
            assert response.json()["code"] == "not_a_member", path
        else:
            # What an anonymous request gets: 401 where an authentication scheme asks for credentials, else 403.
            assert response.status_code == client_on(tenant).get(path).status_code in (401, 403), path
        assert b"results" not in response.content, path
