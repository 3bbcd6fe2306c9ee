"""The database connection after a request that failed mid-transaction: no schema is left behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from {{ cookiecutter.project_slug }}.products import views as product_views


def fails_mid_transaction(**_: Any) -> Any:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM products_product")  # in acme's schema
        cursor.execute("SELECT 1 / 0")


@pytest.mark.guards_schema_reset
def test_a_raw_cursor_after_a_failed_request_does_not_see_its_tenants_schema(
    monkeypatch: pytest.MonkeyPatch, client_for: Callable[..., Client], tenant: Any, member_user: Any
) -> None:
    monkeypatch.setattr(product_views, "product_list", fails_mid_transaction)
    acme = client_for(tenant, member_user)
    acme.raise_request_exception = False

    assert acme.get("/products/").status_code == 500

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = cursor.fetchone()[0]
        cursor.execute("SELECT to_regclass('products_product')")
        products_table = cursor.fetchone()[0]
    assert schema == "public"
    assert products_table is None  # acme's tables are out of reach


def test_the_next_request_after_a_failed_one_sees_its_own_tenant(
    monkeypatch: pytest.MonkeyPatch,
    client_for: Callable[..., Client],
    tenant: Any,
    other_tenant: Any,
    member_user: Any,
    globex_member: Any,
) -> None:
    acme = client_for(tenant, member_user)
    acme.raise_request_exception = False
    with monkeypatch.context() as patched:
        patched.setattr(product_views, "product_list", fails_mid_transaction)
        assert acme.get("/products/").status_code == 500

    listing = client_for(other_tenant, globex_member).get("/products/")

    assert listing.status_code == 200
    assert b"Hammock" in listing.content
    assert b"Anvil" not in listing.content


@pytest.mark.guards_schema_reset
def test_code_after_a_request_on_the_same_thread_runs_in_the_public_schema(
    client_for: Callable[..., Client], other_tenant: Any, globex_member: Any
) -> None:
    assert connection.schema_name == "public"
    listing = client_for(other_tenant, globex_member).get("/products/")
    assert listing.status_code == 200
    assert b"Hammock" in listing.content  # the request itself ran in globex

    # The same thread afterwards (the next request's middleware before routing, a signal receiver, a
    # management command in the same process): public only, globex's tables out of reach.
    assert connection.schema_name == "public"
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema(), to_regclass('products_product')")
        schema, products_table = cursor.fetchone()
    assert (schema, products_table) == ("public", None)
