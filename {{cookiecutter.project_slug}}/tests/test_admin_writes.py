"""The tenant admin writes through the apps' services: their rules hold there too, and their errors show on the form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.customers.models import Customer
from {{ cookiecutter.project_slug }}.products.models import Category, Product
from {{ cookiecutter.project_slug }}.products.services import category_create


def test_admin_refuses_a_category_name_that_differs_only_in_case(
    client_for: Callable[..., Client], tenant: Any, owner_user: Any
) -> None:
    category_create(name="Garden Tools")
    admin = client_for(tenant, owner_user)

    response = admin.post("/admin/products/category/add/", {"name": "garden tools"})

    # The column is unique as written; only products.services compares names ignoring case.
    assert response.status_code == 200
    assert b"already exists" in response.content
    with tenant_context(tenant):
        assert Category.objects.filter(name__iexact="garden tools").count() == 1


def test_admin_renames_a_category_through_the_service(
    client_for: Callable[..., Client], tenant: Any, owner_user: Any
) -> None:
    category = category_create(name="Fasteners")
    category_create(name="Hinges")
    admin = client_for(tenant, owner_user)

    refused = admin.post(f"/admin/products/category/{category.pk}/change/", {"name": "HINGES"})
    renamed = admin.post(f"/admin/products/category/{category.pk}/change/", {"name": "  Bolts  "})

    assert refused.status_code == 200 and b"already exists" in refused.content
    assert renamed.status_code == 302
    with tenant_context(tenant):
        assert Category.objects.get(pk=category.pk).name == "Bolts"


def test_admin_creates_and_changes_a_product_with_the_services_rules(
    client_for: Callable[..., Client], tenant: Any, owner_user: Any
) -> None:
    admin = client_for(tenant, owner_user)
    fields = {"name": "Lawn Mower", "sku": "mow-100", "price": "249.50", "stock": "3", "active": "on"}

    created = admin.post("/admin/products/product/add/", fields)
    with tenant_context(tenant):
        product = Product.objects.get(sku="MOW-100")
    changed = admin.post(f"/admin/products/product/{product.pk}/change/", {**fields, "stock": "-1"})

    assert created.status_code == 302, created.content[:2000]
    assert changed.status_code == 200 and b"stock" in changed.content.lower()
    with tenant_context(tenant):
        assert Product.objects.get(pk=product.pk).stock == 3


def test_admin_refuses_a_customer_email_taken_in_another_case(
    client_for: Callable[..., Client], tenant: Any, owner_user: Any
) -> None:
    admin = client_for(tenant, owner_user)
    first = admin.post("/admin/customers/customer/add/", {"name": "Ada", "email": "Ada@Example.com", "phone": ""})

    second = admin.post("/admin/customers/customer/add/", {"name": "Ada Two", "email": "ada@example.COM", "phone": ""})

    assert first.status_code == 302
    assert second.status_code == 200
    with tenant_context(tenant):
        assert list(Customer.objects.filter(email__iexact="ada@example.com").values_list("name", "email")) == [
            ("Ada", "ada@example.com")
        ]
