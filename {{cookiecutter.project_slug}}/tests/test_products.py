"""Products: catalogue rules, services, selectors and pages on tenant hosts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.services import membership_grant, user_get_or_create
from {{ cookiecutter.project_slug }}.products.domain import (
    CategoryNotFound,
    DuplicateCategory,
    DuplicateSku,
    InvalidName,
    InvalidPrice,
    InvalidSku,
    InvalidStock,
    ProductNotFound,
    normalize_sku,
    parse_price,
)
from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.products.selectors import product_get, product_list
from {{ cookiecutter.project_slug }}.products.services import category_create, product_create, product_update
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

from conftest import assert_stranger_refused


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


# --- rules (no database) ----------------------------------------------------------------------


def test_sku_is_stripped_and_uppercased() -> None:
    assert normalize_sku("  ab-12_x ") == "AB-12_X"


@pytest.mark.parametrize("sku", ["", "   ", "AB 12", "AB/12", "É1", "A" * 33, None, 12])
def test_sku_rejected_unless_1_to_32_letters_digits_dashes_underscores(sku: object) -> None:
    with pytest.raises(InvalidSku) as raised:
        normalize_sku(sku)
    assert repr(sku) in str(raised.value)
    assert "A-Z, 0-9" in str(raised.value)


def test_sku_of_32_characters_is_accepted() -> None:
    assert normalize_sku("a" * 32) == "A" * 32


@pytest.mark.parametrize(
    ("price", "expected"), [("0", Decimal("0.00")), (5, Decimal("5.00")), ("19.9", Decimal("19.90"))]
)
def test_price_accepts_zero_and_positive_amounts_with_up_to_two_decimals(price: object, expected: Decimal) -> None:
    assert parse_price(price) == expected


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("-0.01", "out of range"),
        ("100000000", "out of range"),
        ("1.999", "more than two decimal places"),
        ("abc", "not a number"),
        ("NaN", "not a number"),
        (1.5, "not a number"),
        (True, "not a number"),
    ],
)
def test_price_rejected_when_negative_too_large_too_precise_or_not_a_decimal(price: object, message: str) -> None:
    with pytest.raises(InvalidPrice, match=message):
        parse_price(price)


# --- services ---------------------------------------------------------------------------------


def test_product_create_stores_normalised_values(tenant: object) -> None:
    sku = unique("lamp").lower()

    product = product_create(name="  Desk lamp ", sku=sku, price="12.5", stock=3)

    product.refresh_from_db()
    assert (product.name, product.sku, product.price, product.stock, product.active) == (
        "Desk lamp",
        sku.upper(),
        Decimal("12.50"),
        3,
        True,
    )


def test_product_create_rejects_a_sku_already_used_ignoring_case(tenant: object) -> None:
    sku = unique("DUP")
    product_create(name="First", sku=sku, price="1.00")

    with pytest.raises(DuplicateSku, match=sku):
        product_create(name="Second", sku=sku.lower(), price="1.00")
    assert Product.objects.filter(sku=sku).count() == 1


def test_same_sku_may_exist_in_another_tenant(tenant: object, other_tenant: object) -> None:
    sku = unique("SHARED")
    product_create(name="Acme's", sku=sku, price="1.00")

    with tenant_context(other_tenant):
        product_create(name="Globex's", sku=sku, price="2.00")
        assert Product.objects.get(sku=sku).name == "Globex's"

    assert Product.objects.get(sku=sku).name == "Acme's"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": " "}, InvalidName),
        ({"name": "x" * 201}, InvalidName),
        ({"sku": "bad sku"}, InvalidSku),
        ({"price": "-1"}, InvalidPrice),
        ({"stock": -1}, InvalidStock),
        ({"category_id": 987654321}, CategoryNotFound),
    ],
)
def test_product_create_rejects_invalid_input_and_saves_nothing(
    tenant: object, kwargs: dict[str, object], error: type[Exception]
) -> None:
    values: dict[str, object] = {"name": "Valid", "sku": unique("OK"), "price": "1.00", **kwargs}

    with pytest.raises(error):
        product_create(**values)  # type: ignore[arg-type]
    assert not Product.objects.filter(name="Valid").exists()


def test_product_update_changes_only_the_given_fields(tenant: object) -> None:
    category = category_create(name=unique("Tools"))
    product = product_create(name="Hammer", sku=unique("HAM"), price="10.00", category_id=category.pk, stock=4)

    product_update(product_id=product.pk, price="12.00", active=False)

    product.refresh_from_db()
    assert (product.name, product.price, product.active, product.category_id, product.stock) == (
        "Hammer",
        Decimal("12.00"),
        False,
        category.pk,
        4,
    )


def test_product_update_with_category_none_removes_the_category(tenant: object) -> None:
    category = category_create(name=unique("Garden"))
    product = product_create(name="Rake", sku=unique("RAKE"), price="8.00", category_id=category.pk)

    product_update(product_id=product.pk, category_id=None)

    product.refresh_from_db()
    assert product.category is None


def test_product_update_rejects_the_sku_of_another_product(tenant: object) -> None:
    taken = product_create(name="One", sku=unique("ONE"), price="1.00")
    product = product_create(name="Two", sku=unique("TWO"), price="1.00")

    with pytest.raises(DuplicateSku):
        product_update(product_id=product.pk, sku=taken.sku)


def test_product_update_accepts_the_products_own_sku(tenant: object) -> None:
    product = product_create(name="Same", sku=unique("SAME"), price="1.00")

    product_update(product_id=product.pk, sku=product.sku.lower(), name="Same again")

    product.refresh_from_db()
    assert product.name == "Same again"


def test_product_update_of_unknown_product_raises_product_not_found(tenant: object) -> None:
    with pytest.raises(ProductNotFound, match="987654321"):
        product_update(product_id=987654321, name="Ghost")


def test_category_create_rejects_a_name_already_used_ignoring_case(tenant: object) -> None:
    name = unique("Cat")
    category_create(name=name)

    with pytest.raises(DuplicateCategory, match=name.lower()):
        category_create(name=name.lower())


# --- selectors --------------------------------------------------------------------------------


def test_product_list_filters_on_active_and_searches_name_and_sku(tenant: object) -> None:
    tag = unique("SEL")
    on = product_create(name=f"On {tag}", sku=f"{tag}-ON", price="1.00")
    off = product_create(name=f"Off {tag}", sku=f"{tag}-OFF", price="1.00", active=False)

    assert set(product_list(search=tag)) == {on, off}
    assert list(product_list(search=tag, active=True)) == [on]
    assert list(product_list(search=f"{tag}-off".lower())) == [off]


def test_product_get_raises_product_not_found_for_unknown_id(tenant: object) -> None:
    with pytest.raises(ProductNotFound):
        product_get(product_id=987654321)


# --- pages ------------------------------------------------------------------------------------


def test_product_list_page_shows_the_tenants_products(tenant: object, tenant_client: Client) -> None:
    name = unique("Listed")
    product_create(name=name, sku=unique("LST"), price="1.00")

    response = tenant_client.get("/products/")

    assert response.status_code == 200
    assert f'<td data-testid="product-name">{name}</td>' in response.content.decode()


def test_product_pages_redirect_anonymous_visitors_to_login(
    tenant: object, client_for: Callable[..., Client], login_redirect: Callable[..., str]
) -> None:
    response = client_for(tenant).get("/products/")

    assert response.status_code == 302
    assert response["Location"] == login_redirect("/products/")


def test_products_of_one_tenant_are_not_listed_on_another_tenants_host(
    tenant: object,
    other_tenant: Tenant,
    client_for: Callable[..., Client],
) -> None:
    name = unique("AcmeOnly")
    product_create(name=name, sku=unique("ACMEONLY"), price="1.00")
    globex_user = user_get_or_create(email=f"{unique('g').lower()}@globex.localhost", password="pw-globex-123")
    membership_grant(user=globex_user, tenant=other_tenant, role="member")

    response = client_for(other_tenant, globex_user).get("/products/")

    assert response.status_code == 200
    assert name not in response.content.decode()


def test_member_of_another_tenant_is_sent_to_login(
    tenant: object,
    other_tenant: object,
    member_user: object,
    client_for: Callable[..., Client],
    login_redirect: Callable[..., str],
) -> None:
    response = client_for(other_tenant, member_user).get("/products/")

    assert_stranger_refused(response, "/products/")
    if response.status_code == 302:  # domain routing: what an anonymous visitor of that host gets
        assert response["Location"] == login_redirect("/products/", other_tenant)


def test_creating_a_product_through_the_form_saves_it_and_redirects_to_the_list(
    tenant: object, tenant_client: Client, tenant_path: Callable[..., str]
) -> None:
    sku = unique("form").lower()

    response = tenant_client.post(
        "/products/new/", {"name": "Form product", "sku": sku, "price": "3.50", "active": "on", "stock": "2"}
    )

    assert response.status_code == 302
    assert response["Location"] == tenant_path("/products/")
    with tenant_context(tenant):
        product = Product.objects.get(sku=sku.upper())
    assert (product.name, product.price, product.stock) == ("Form product", Decimal("3.50"), 2)


def test_product_form_shows_the_duplicate_sku_error_and_saves_nothing(tenant: object, tenant_client: Client) -> None:
    sku = unique("TAKEN")
    product_create(name="Original", sku=sku, price="1.00")

    response = tenant_client.post("/products/new/", {"name": "Copy", "sku": sku, "price": "1.00", "stock": "0"})

    assert response.status_code == 200
    assert f"SKU &#x27;{sku}&#x27; is already used" in response.content.decode()
    with tenant_context(tenant):
        assert Product.objects.filter(sku=sku).count() == 1


def test_product_form_shows_the_price_rule_for_a_negative_price(tenant: object, tenant_client: Client) -> None:
    response = tenant_client.post("/products/new/", {"name": "Neg", "sku": unique("NEG"), "price": "-1", "stock": "0"})

    assert response.status_code == 200
    assert "out of range; expected 0 to" in response.content.decode()


def test_editing_a_product_through_the_form_updates_it(tenant: object, manager_client: Client) -> None:
    product = product_create(name="Before", sku=unique("EDIT"), price="1.00")

    response = manager_client.post(
        f"/products/{product.pk}/edit/", {"name": "After", "sku": product.sku, "price": "2.00", "stock": "0"}
    )

    assert response.status_code == 302
    with tenant_context(tenant):
        product.refresh_from_db()
    assert (product.name, product.price, product.active) == ("After", Decimal("2.00"), False)


def test_edit_page_of_unknown_product_is_404(tenant: object, manager_client: Client) -> None:
    assert manager_client.get("/products/987654321/edit/").status_code == 404


def test_tenant_admin_applies_the_sku_rule_and_uppercases_skus(
    tenant: object, owner_user: object, client_for: Callable[..., Client]
) -> None:
    admin = client_for(tenant, owner_user)
    sku = unique("adm").lower()
    fields = {"name": "Admin product", "price": "5.00", "stock": "0", "active": "on"}

    rejected = admin.post("/admin/products/product/add/", {**fields, "sku": "bad sku"})
    accepted = admin.post("/admin/products/product/add/", {**fields, "sku": sku})

    assert rejected.status_code == 200
    assert "A-Z, 0-9" in rejected.content.decode()
    assert accepted.status_code == 302
    with tenant_context(tenant):
        assert Product.objects.filter(sku=sku.upper()).exists()
