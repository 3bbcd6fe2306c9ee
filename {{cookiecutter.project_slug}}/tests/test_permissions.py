"""Roles on tenant hosts (accounts/permissions.py): members read and create, admins and owners also update, delete
and manage; the rule holds for pages{% if cookiecutter.use_drf == "y" %} and the API{% endif %} alike, and without TenantMembershipMiddleware."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.domain import Role
from {{ cookiecutter.project_slug }}.accounts.models import User
from {{ cookiecutter.project_slug }}.accounts.permissions import RULES, Action, InvalidAction, member_required, role_permits
from {{ cookiecutter.project_slug }}.accounts.services import membership_grant, user_get_or_create
from {{ cookiecutter.project_slug }}.bookings.domain import Slot
from {{ cookiecutter.project_slug }}.bookings.models import Booking
from {{ cookiecutter.project_slug }}.bookings.repositories import DjangoBookingRepository
from {{ cookiecutter.project_slug }}.bookings.services import booking_create
from {{ cookiecutter.project_slug }}.customers.models import Customer
from {{ cookiecutter.project_slug }}.customers.services import customer_create
from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.products.services import product_create
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

from conftest import assert_stranger_refused

MEMBERSHIP_MIDDLEWARE = "{{ cookiecutter.project_slug }}.accounts.middleware.TenantMembershipMiddleware"
JSON = "application/json"
ROLES = ["member", "admin", "owner"]
MANAGING = {"admin", "owner"}


def person(tenant: Any, role: str) -> User:
    """A fresh user with `role` in `tenant`."""
    user = user_get_or_create(email=f"{role}-{uuid.uuid4().hex[:6]}@acme.localhost", password="role-password")
    membership_grant(user=user, tenant=tenant, role=role)
    return user


@pytest.fixture
def as_role(tenant: Any, client_for: Callable[..., Client]) -> Callable[[str], Client]:
    """as_role(role): a client on acme's host, logged in as a fresh user with `role` in acme."""
    return lambda role: client_for(tenant, person(tenant, role))


@dataclass(frozen=True)
class Rows:
    product: Product
    customer: Customer
    booking_id: int


@pytest.fixture
def rows(tenant: Any) -> Rows:
    """A product, a customer and a confirmed booking of them in acme."""
    tag = uuid.uuid4().hex[:6].upper()
    product = product_create(name=f"Role probe {tag}", sku=f"ROLE-{tag}", price="3.00")
    customer = customer_create(name=f"Role customer {tag}", email=f"role-{tag.lower()}@example.com")
    start = (timezone.now() + dt.timedelta(days=30)).replace(microsecond=0)
    booking_id = booking_create(
        bookings=DjangoBookingRepository(),
        product_id=product.pk,
        customer_id=customer.pk,
        slot=Slot(start=start, end=start + dt.timedelta(hours=1)),
    )
    return Rows(product, customer, booking_id)


def reloaded(tenant: Any, rows: Rows) -> tuple[str, str, str]:
    """(product name, customer name, booking status) as stored now."""
    with tenant_context(tenant):
        return (
            Product.objects.get(pk=rows.product.pk).name,
            Customer.objects.get(pk=rows.customer.pk).name,
            Booking.objects.get(pk=rows.booking_id).status,
        )


# --- the rule table ------------------------------------------------------------------------------


def test_the_rule_table_lets_members_read_and_create_and_managers_do_everything(tenant: Any) -> None:
    managing = {Action.READ, Action.CREATE, Action.UPDATE, Action.DELETE, Action.MANAGE}
    expected = {Role.MEMBER: {Action.READ, Action.CREATE}, Role.ADMIN: managing, Role.OWNER: set(Action)}
    assert dict(RULES) == expected
    for role in ROLES:
        user = person(tenant, role)
        allowed = {action.value for action in Action if role_permits(user, tenant, action)}
        managed = {"read", "create", "update", "delete", "manage"}
        assert allowed == {"member": {"read", "create"}, "admin": managed, "owner": managed | {"billing"}}[role]


def test_role_permits_refuses_anonymous_users_non_members_and_the_public_tenant(
    tenant: Any, other_tenant: Any, owner_user: Any
) -> None:
    from django.contrib.auth.models import AnonymousUser

    public = Tenant.objects.get(schema_name="public")
    for action in Action:
        assert not role_permits(AnonymousUser(), tenant, action)
        assert not role_permits(owner_user, other_tenant, action)  # acme's owner, in globex
        assert not role_permits(owner_user, public, action)
        assert not role_permits(owner_user, None, action)


def test_an_unknown_action_is_refused_naming_it_and_the_accepted_ones(tenant: Any, owner_user: Any) -> None:
    with pytest.raises(InvalidAction, match=r"action 'edit' does not exist; accepted: read, create, update"):
        role_permits(owner_user, tenant, "edit")
    with pytest.raises(InvalidAction, match="'write'"):
        member_required(action="write")


# --- pages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_and_creates_through_the_pages(
    tenant: Any, as_role: Callable[[str], Client], rows: Rows, role: str
) -> None:
    client = as_role(role)
    for page in ["/", "/products/", "/products/catalogue/", "/customers/", "/bookings/", "/products/new/"]:
        assert client.get(page).status_code == 200, (role, page)

    sku = f"NEW-{uuid.uuid4().hex[:6].upper()}"
    created = client.post("/products/new/", {"name": "Made by a role", "sku": sku, "price": "1.00", "stock": "0"})

    assert created.status_code == 302, (role, created.status_code)
    with tenant_context(tenant):
        assert Product.objects.filter(sku=sku).exists()


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_and_owners_edit_cancel_and_manage_through_the_pages(
    tenant: Any, as_role: Callable[[str], Client], rows: Rows, role: str
) -> None:
    client = as_role(role)
    before = reloaded(tenant, rows)
    product_page = f"/products/{rows.product.pk}/edit/"
    customer_page = f"/customers/{rows.customer.pk}/edit/"

    answers = {
        "product edit page": client.get(product_page),
        "product edit": client.post(
            product_page, {"name": "Edited", "sku": rows.product.sku, "price": "3.00", "stock": "0"}
        ),
        "customer edit page": client.get(customer_page),
        "customer edit": client.post(customer_page, {"name": "Edited", "email": rows.customer.email, "phone": ""}),
        "booking cancel": client.post(f"/bookings/{rows.booking_id}/cancel/"),
        "members page": client.get("/members/"),
    }

    if role in MANAGING:
        assert {what: r.status_code for what, r in answers.items()} == {
            "product edit page": 200,
            "product edit": 302,
            "customer edit page": 200,
            "customer edit": 302,
            "booking cancel": 302,
            "members page": 200,
        }
        assert reloaded(tenant, rows) == ("Edited", "Edited", "cancelled")
    else:
        for what, response in answers.items():
            assert response.status_code == 403, (what, response.status_code)
            assert b'data-testid="forbidden"' in response.content, what
        assert b"Your role does not allow you to update here" in answers["product edit"].content
        assert reloaded(tenant, rows) == before


@pytest.mark.parametrize("role", ROLES)
def test_lists_offer_edit_and_cancel_only_to_roles_that_may_follow_them(
    as_role: Callable[[str], Client], rows: Rows, role: str, tenant_path: Callable[..., str]
) -> None:
    client = as_role(role)
    products = client.get("/products/", {"q": rows.product.name}).text
    customers = client.get("/customers/", {"q": rows.customer.name}).text
    bookings = client.get("/bookings/").text
    assert rows.product.name in products and rows.customer.name in customers, "the rows must be listed"
    product_edit = tenant_path(f"/products/{rows.product.pk}/edit/")
    customer_edit = tenant_path(f"/customers/{rows.customer.pk}/edit/")
    cancel = re.compile(rf'action="{re.escape(tenant_path("/bookings/"))}\d+/cancel/"')
    offered = {
        "product edit": f'href="{product_edit}"' in products,
        "customer edit": f'href="{customer_edit}"' in customers,
        "booking cancel": cancel.search(bookings) is not None,
    }

    assert offered == dict.fromkeys(offered, role in MANAGING)


# --- API -----------------------------------------------------------------------------------------
{%- if cookiecutter.use_drf == "y" %}


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_and_creates_through_the_api(
    tenant: Any, as_role: Callable[[str], Client], rows: Rows, role: str
) -> None:
    client = as_role(role)
    for path in ["/api/products/", f"/api/products/{rows.product.pk}/", "/api/customers/", "/api/bookings/"]:
        assert client.get(path).status_code == 200, (role, path)

    sku = f"API-{uuid.uuid4().hex[:6].upper()}"
    created = client.post("/api/products/", {"name": "By API", "sku": sku, "price": "1.00"}, content_type=JSON)
    booked = client.post(
        "/api/bookings/",
        {"product_id": rows.product.pk, "customer_id": rows.customer.pk,
         "start": "2031-03-03T10:00:00Z", "end": "2031-03-03T11:00:00Z"},
        content_type=JSON,
    )  # fmt: skip

    assert (created.status_code, booked.status_code) == (201, 201), role


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_and_owners_update_cancel_and_delete_through_the_api(
    tenant: Any, as_role: Callable[[str], Client], rows: Rows, role: str
) -> None:
    client = as_role(role)
    before = reloaded(tenant, rows)

    answers = {
        "product update": client.patch(f"/api/products/{rows.product.pk}/", {"name": "Edited"}, content_type=JSON),
        "customer update": client.patch(f"/api/customers/{rows.customer.pk}/", {"name": "Edited"}, content_type=JSON),
        "booking cancel": client.post(f"/api/bookings/{rows.booking_id}/cancel/"),
        # No endpoint deletes rows: past the permission, the answer is 405.
        "product delete": client.delete(f"/api/products/{rows.product.pk}/"),
        "customer put": client.put(f"/api/customers/{rows.customer.pk}/", {"name": "Edited"}, content_type=JSON),
    }

    if role in MANAGING:
        assert {what: r.status_code for what, r in answers.items()} == {
            "product update": 200,
            "customer update": 200,
            "booking cancel": 200,
            "product delete": 405,
            "customer put": 405,
        }
        assert reloaded(tenant, rows) == ("Edited", "Edited", "cancelled")
    else:
        for what, response in answers.items():
            assert response.status_code == 403, (what, response.status_code)
            assert "does not allow" in response.json()["detail"], what
        assert reloaded(tenant, rows) == before
{%- endif %}


# --- without the membership middleware ----------------------------------------------------------


@pytest.fixture
def without_membership_middleware(settings: Any) -> Iterator[None]:
    """TenantMembershipMiddleware removed: the second layer alone decides."""
    assert MEMBERSHIP_MIDDLEWARE in settings.MIDDLEWARE
    settings.MIDDLEWARE = [entry for entry in settings.MIDDLEWARE if entry != MEMBERSHIP_MIDDLEWARE]
    yield


def test_without_the_middleware_a_non_member_gets_what_an_anonymous_visitor_gets(
    tenant: Any,
    other_tenant: Any,
    client_for: Callable[..., Client],
    rows: Rows,
    without_membership_middleware: None,
    tenant_path: Callable[..., str],
    login_redirect: Callable[..., str],
) -> None:
    outsider = user_get_or_create(email="outsider@globex.localhost", password="outsider-password")
    membership_grant(user=outsider, tenant=other_tenant, role="owner")
    stranger = client_for(tenant, outsider)  # globex's owner, on acme's host
    anonymous = client_for(tenant)
    pages = ["/", "/products/", "/products/catalogue/", f"/products/{rows.product.pk}/edit/", "/customers/",
             f"/customers/{rows.customer.pk}/edit/", "/bookings/", "/members/", "/media/products/x.png"]  # fmt: skip

    # Domain routing: the session is a cookie replayed on acme's host, so the stranger gets what an anonymous
    # visitor gets; path routing: one session serves every tenant, so the stranger is refused (403).
    path_routing = settings.TENANCY_ROUTING == "path"
    for page in pages:
        response = stranger.get(page)
        assert_stranger_refused(response, page)
        if not path_routing:
            assert response["Location"] == anonymous.get(page)["Location"] == login_redirect(page), page
    created = stranger.post("/products/new/", {"name": "Planted", "sku": "PLANTED-1", "price": "1.00", "stock": "0"})
    cancelled = stranger.post(f"/bookings/{rows.booking_id}/cancel/")
    assert_stranger_refused(created, "/products/new/")
    assert_stranger_refused(cancelled, "cancel")
    if not path_routing:
        assert created["Location"] == login_redirect("/products/new/")
        assert cancelled["Location"] == login_redirect(f"/bookings/{rows.booking_id}/cancel/")
    admin = stranger.get("/admin/", follow=True)
    assert b"Tenant administration" not in admin.content
    if path_routing:
        assert admin.status_code == 403
    else:
        # The login page shows its form to them instead of sending them back as logged in (no redirect loop).
        assert admin.status_code == 200
        assert admin.redirect_chain[-1][0].startswith(tenant_path("/accounts/login/"))
{%- if cookiecutter.use_drf == "y" %}
    for path in ["/api/products/", "/api/customers/", "/api/bookings/"]:
        response = stranger.get(path)
        assert response.status_code == (403 if path_routing else anonymous.get(path).status_code), path
        assert b"results" not in response.content, path
    api_created = stranger.post("/api/products/", {"name": "P", "sku": "PLANTED-2", "price": "1.00"}, content_type=JSON)
    expected = 403 if path_routing else anonymous.post("/api/products/", {}, content_type=JSON).status_code
    assert api_created.status_code == expected
{%- endif %}
    with tenant_context(tenant):
        assert not Product.objects.filter(sku__startswith="PLANTED-").exists()
        assert Booking.objects.get(pk=rows.booking_id).status == "confirmed"


def test_without_the_middleware_members_and_managers_keep_their_own_rights(
    tenant: Any, as_role: Callable[[str], Client], rows: Rows, without_membership_middleware: None
) -> None:
    member, owner = as_role("member"), as_role("owner")
    edit = f"/products/{rows.product.pk}/edit/"
    form = {"name": "Owner edit", "sku": rows.product.sku, "price": "3.00", "stock": "0"}

    assert member.get("/products/").status_code == 200
    assert member.post(edit, form).status_code == 403
    assert member.get("/members/").status_code == 403
    assert owner.post(edit, form).status_code == 302
    assert owner.get("/members/").status_code == 200
    assert owner.get("/admin/").status_code == 200
{%- if cookiecutter.use_drf == "y" %}
    assert member.patch(f"/api/customers/{rows.customer.pk}/", {"name": "X"}, content_type=JSON).status_code == 403
    assert owner.post(f"/api/bookings/{rows.booking_id}/cancel/").status_code == 200
{%- endif %}
    assert reloaded(tenant, rows)[0] == "Owner edit"


# --- every tenant page states its action ---------------------------------------------------------

# Tenant-host URLs that are not a tenant's data: the login and crossing pages (the login form refuses
# non-members itself), invitations (their token decides), the tenant admin (TenantAdminSite.has_permission
# asks role_permits for `manage`){% if cookiecutter.use_drf == "y" %} and the API schema and docs (no tenant data; the API's viewsets are checked below){% endif %}.
UNGUARDED_PREFIXES = ("accounts/", "invitations/", "admin/"{% if cookiecutter.use_drf == "y" %}, "api/"{% endif %})
GUARDED_ACCOUNT_PAGES = ("accounts/api-keys/",)


def tenant_views(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(route, view function) of every URL pattern under `patterns`."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^")
        if isinstance(pattern, URLResolver):
            yield from tenant_views(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def test_every_tenant_page_states_its_role_action() -> None:
    views = list(tenant_views(get_resolver("config.urls_tenants").url_patterns))
    unguarded = [
        route
        for route, view in views
        if not hasattr(view, "member_action")
        and (not route.startswith(UNGUARDED_PREFIXES) or route.startswith(GUARDED_ACCOUNT_PAGES))
    ]

    assert len(views) > 15
    assert unguarded == []
{%- if cookiecutter.use_drf == "y" %}


def test_every_api_viewset_uses_the_role_permission() -> None:
    from {{ cookiecutter.project_slug }}.accounts.permissions import TenantRolePermission
    from {{ cookiecutter.project_slug }}.api import router

    viewsets = [viewset for _prefix, viewset, _basename in router.registry]

    assert len(viewsets) >= 3
    for viewset in viewsets:
        assert TenantRolePermission in viewset.permission_classes, viewset
{%- endif %}
