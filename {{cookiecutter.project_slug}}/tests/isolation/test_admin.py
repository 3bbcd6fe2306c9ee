"""The tenant admin (owners and admins of the host's tenant) and the platform admin (public host, staff)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.models import User
from {{ cookiecutter.project_slug }}.products.models import Product

from .conftest import GlobexRows, path_routing, same_browser
from conftest import PUBLIC_HOST, client_on

GuardedTest = TypeVar("GuardedTest", bound=Callable[..., None])


# The tenant admin checks the role the membership middleware put on the request as well as role_permits
# (accounts.admin_site.manages_tenant), and the authorization switch keeps that role (sabotage.MembershipCheckOff):
# with the switch on, the admin still refuses a stranger, with 403. In domain routing that changes the answer (the
# login page becomes 403), so these tests guard the switch there; in path routing the answer is 403 either way and
# they carry no guard marker (they must then pass under every switch, which check_sabotage verifies).
def guards_authorization_in_domain_routing(test: GuardedTest) -> GuardedTest:
    """Mark `test` guards_authorization in domain routing; leave it unmarked in path routing."""
    return test if path_routing() else pytest.mark.guards_authorization(test)


def assert_stranger_refused_by_admin(client: Client, path: str) -> None:
    """`path` refuses `client`, a logged-in user who is not a member of the tenant: in domain routing by sending it
    to the login page, as an anonymous visitor (through the admin's own login URL); in path routing with 403
    (accounts.permissions.strangers_refused: the membership middleware, or the admin's login view)."""
    response = client.get(path, follow=True)
    hops = [url for url, _status in response.redirect_chain]
    if path_routing():
        assert response.status_code == 403, (path, response.status_code, hops)
    else:
        assert response.status_code == 200, (path, response.status_code, hops)
        assert hops and hops[-1].startswith("/accounts/login/"), (path, hops)
    assert b"Tenant administration" not in response.content


@guards_authorization_in_domain_routing
def test_the_tenant_admin_refuses_another_tenants_owner(
    client_for: Callable[..., Client], tenant: Any, other_tenant: Any, globex_owner: Any
) -> None:
    globex_owner_session = client_for(other_tenant, globex_owner)
    for path in ["/admin/", "/admin/products/product/", "/admin/customers/customer/"]:
        assert globex_owner_session.get(path).status_code == 200, path  # their own tenant's admin

        # The same browser on acme (domain routing: its cookie replayed on acme's host; path routing: one session).
        assert_stranger_refused_by_admin(same_browser(globex_owner_session, tenant), path)


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


@guards_authorization_in_domain_routing
def test_platform_staff_are_refused_on_a_tenants_admin(db: None, tenant: Any) -> None:
    staff = User.objects.create_superuser(email="ops@platform.example", password="ops-password")
    on_tenant = client_on(tenant)
    on_tenant.force_login(staff)

    for path in ["/admin/", "/admin/tenancy/tenant/", "/admin/products/product/"]:
        assert_stranger_refused_by_admin(on_tenant, path)
    public = Client(HTTP_HOST=PUBLIC_HOST)
    public.force_login(staff)
    assert public.get("/admin/tenancy/tenant/").status_code == 200  # the platform admin, on the public host
