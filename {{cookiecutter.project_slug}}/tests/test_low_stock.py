"""Low-stock flags (products.services.low_stock_flag): which products are flagged and cleared, in which tenant.

The service is tested directly, without Celery, so these tests also run in a project baked without it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.products.services import low_stock_flag, product_create


@pytest.fixture(autouse=True)
def threshold(settings: Any) -> int:
    settings.PRODUCTS_LOW_STOCK_THRESHOLD = 5
    return 5


def make(*, stock: int, active: bool = True, low_stock: bool = False) -> Product:
    tag = uuid.uuid4().hex[:8].upper()
    product = product_create(name=f"Item {tag}", sku=f"LOW-{tag}", price="1.00", stock=stock, active=active)
    if low_stock:
        Product.objects.filter(pk=product.pk).update(low_stock=True)
    return product


def flags(*products: Product) -> list[bool]:
    return [Product.objects.get(pk=product.pk).low_stock for product in products]


def test_active_products_below_the_threshold_are_flagged_and_the_others_cleared(tenant: object) -> None:
    low_stock_flag()  # settle the demo products, so the counts below are this test's products only
    low, at_threshold, inactive_empty = make(stock=4), make(stock=5), make(stock=0, active=False)
    restocked, deactivated = make(stock=50, low_stock=True), make(stock=0, active=False, low_stock=True)
    still_low = make(stock=1, low_stock=True)

    assert low_stock_flag() == (1, 2)

    assert flags(low, at_threshold, inactive_empty, restocked, deactivated, still_low) == [
        True, False, False, False, False, True,
    ]  # fmt: skip
    assert low_stock_flag() == (0, 0)


def test_flagging_takes_two_update_statements_whatever_the_number_of_products(tenant: object) -> None:
    for stock in (0, 1, 9, 2):
        make(stock=stock)
    make(stock=10, low_stock=True)
    with CaptureQueriesContext(connection) as queries:
        low_stock_flag()
    statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
    assert statements.count("UPDATE") == 2
    assert "SELECT" not in statements


def test_the_threshold_comes_from_the_setting(tenant: object, settings: Any) -> None:
    product = make(stock=7)
    settings.PRODUCTS_LOW_STOCK_THRESHOLD = 8
    low_stock_flag()
    assert flags(product) == [True]
    settings.PRODUCTS_LOW_STOCK_THRESHOLD = 0  # nothing is below zero: every flag is cleared
    low_stock_flag()
    assert Product.objects.filter(low_stock=True).count() == 0


@pytest.mark.parametrize("value", [-1, "5", 2.5, True])
def test_a_threshold_that_is_not_a_whole_number_of_zero_or_more_is_refused(
    tenant: object, settings: Any, value: object
) -> None:
    settings.PRODUCTS_LOW_STOCK_THRESHOLD = value
    with pytest.raises(ImproperlyConfigured, match="PRODUCTS_LOW_STOCK_THRESHOLD") as raised:
        low_stock_flag()
    assert repr(value) in str(raised.value)


def test_flagging_in_acme_leaves_globex_products_alone(tenant: object, other_tenant: object) -> None:
    with tenant_context(other_tenant):
        globex_empty, globex_restocked = make(stock=0), make(stock=100, low_stock=True)
    acme_empty = make(stock=0)

    low_stock_flag()

    assert flags(acme_empty) == [True]
    with tenant_context(other_tenant):
        assert flags(globex_empty, globex_restocked) == [False, True]


def test_products_page_shows_a_badge_on_flagged_products(tenant: object, tenant_client: Client) -> None:
    flagged, plain = make(stock=0), make(stock=20)
    low_stock_flag()
    html = tenant_client.get("/products/", {"q": "LOW-"}).content.decode()
    rows = html.split('data-testid="product-row"')[1:]
    [flagged_row] = [row for row in rows if flagged.sku in row]
    [plain_row] = [row for row in rows if plain.sku in row]
    assert 'data-testid="low-stock"' in flagged_row
    assert 'data-testid="low-stock"' not in plain_row
