"""The tenant admin (owners and admins of the host's tenant) and the platform admin (public host, staff)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.models import User
from {{ cookiecutter.project_slug }}.products.models import Product

from .conftest import GlobexRows


def assert_sent_to_login(client: Client, path: str, **headers: str) -> None:
    """`path` sends `client` to the login page, as an anonymous visitor (through the admin's own login URL)."""
    response = client.get(path, follow=True, **headers)
    hops = [url for url, _status in response.redirect_chain]
    assert response.status_code == 200, (path, response.status_code, hops)
    assert hops and hops[-1].startswith("/accounts/login/"), (path, hops)
    assert b"Tenant administration" not in response.content


@pytest.mark.guards_authorization
def test_the_tenant_admin_sends_another_tenants_owner_to_the_login_page(
    client_for: Callable[..., Client], tenant: Any, other_tenant: Any, globex_owner: Any
) -> None:
    globex_owner_session = client_for(other_tenant, globex_owner)
    for path in ["/admin/", "/admin/products/product/", "/admin/customers/customer/"]:
        assert globex_owner_session.get(path).status_code == 200, path  # their own tenant's admin

        assert_sent_to_login(globex_owner_session, path, HTTP_HOST="acme.localhost")


def test_the_tenant_admin_never_opens_another_tenants_rows(
    client_for: Callable[..., Client], tenant: Any, other_tenant: Any, owner_user: Any, globex_rows: GlobexRows
) -> None:
    acme_owner = client_for(tenant, owner_user)
    change = f"/admin/products/product/{globex_rows.product_id}/change/"
    delete = f"/admin/products/product/{globex_rows.product_id}/delete/"

    responses = [
        acme_owner.get(change, follow=True),
        acme_owner.post(change, {"name": "Hijacked", "sku": "HIJACKED", "price": "1", "stock": "0"}, follow=True),
        acme_owner.post(delete, {"post": "yes"}, follow=True),
        acme_owner.get(f"/admin/products/product/?q={globex_rows.marker}"),
        acme_owner.get(f"/admin/products/product/?category__id__exact={globex_rows.category_id}"),
    ]

    for response in responses:
        assert globex_rows.leaked_into(response.content) == []
    assert b"doesn" in responses[0].content  # "Product with ID ... doesn't exist"
    with tenant_context(other_tenant):
        assert Product.objects.get(pk=globex_rows.product_id).name == f"{globex_rows.marker} product"


def test_the_tenant_admin_has_no_platform_models(
    client_for: Callable[..., Client], tenant: Any, owner_user: Any
) -> None:
    acme_owner = client_for(tenant, owner_user)

    for path in ["/admin/accounts/user/", "/admin/tenancy/tenant/", "/admin/tenancy/domain/", "/admin/auth/group/"]:
        assert acme_owner.get(path).status_code == 404, path


@pytest.mark.guards_authorization
def test_platform_staff_get_the_login_page_on_a_tenants_admin(db: None, tenant: Any) -> None:
    staff = User.objects.create_superuser(email="ops@platform.example", password="ops-password")
    on_tenant = Client(HTTP_HOST="acme.localhost")
    on_tenant.force_login(staff)

    for path in ["/admin/", "/admin/tenancy/tenant/", "/admin/products/product/"]:
        assert_sent_to_login(on_tenant, path)
    public = Client(HTTP_HOST="localhost")
    public.force_login(staff)
    assert public.get("/admin/tenancy/tenant/").status_code == 200  # the platform admin, on the public host
