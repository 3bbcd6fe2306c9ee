"""Ids of another tenant's rows, and list, search and filter parameters, in the HTML pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.invitations import invitation_create
from {{ cookiecutter.project_slug }}.accounts.models import Invitation, Membership
from {{ cookiecutter.project_slug }}.billing.services import plan_change
from {{ cookiecutter.project_slug }}.bookings.models import Booking
from {{ cookiecutter.project_slug }}.customers.models import Customer
from {{ cookiecutter.project_slug }}.products.models import Product

from .conftest import GlobexRows


def test_edit_pages_answer_404_for_another_tenants_ids(
    manager_client: Client, other_tenant: Any, globex_rows: GlobexRows
) -> None:
    pages = [f"/products/{globex_rows.product_id}/edit/", f"/customers/{globex_rows.customer_id}/edit/"]
    changes = {"name": "Hijacked", "sku": "HIJACKED", "price": "0.01", "stock": "0", "email": "hijack@x.test"}

    for page in pages:
        shown = manager_client.get(page)
        posted = manager_client.post(page, changes)
        assert (shown.status_code, posted.status_code) == (404, 404), page
        assert globex_rows.leaked_into(shown.content + posted.content) == []

    with tenant_context(other_tenant):
        assert Product.objects.get(pk=globex_rows.product_id).name == f"{globex_rows.marker} product"
        assert Customer.objects.get(pk=globex_rows.customer_id).name == f"{globex_rows.marker} customer"


def test_cancelling_another_tenants_booking_changes_nothing(
    manager_client: Client, other_tenant: Any, globex_rows: GlobexRows
) -> None:
    response = manager_client.post(f"/bookings/{globex_rows.booking_id}/cancel/", follow=True)

    assert f"Booking {globex_rows.booking_id} cancelled" not in response.content.decode()
    with tenant_context(other_tenant):
        assert Booking.objects.get(pk=globex_rows.booking_id).status == Booking.Status.CONFIRMED


def test_forms_refuse_another_tenants_ids_as_choices(
    tenant: Any, tenant_client: Client, globex_rows: GlobexRows
) -> None:
    booking = tenant_client.post(
        "/bookings/new/",
        {"product": globex_rows.product_id, "customer": globex_rows.customer_id,
         "start": "2031-01-06T10:00", "end": "2031-01-06T11:00"},
    )  # fmt: skip
    product = tenant_client.post(
        "/products/new/",
        {"name": "Probe", "sku": "PROBE-CAT", "price": "1.00", "stock": "0", "category": globex_rows.category_id},
    )

    assert booking.status_code == product.status_code == 200  # the form again, with errors
    assert b"Select a valid choice" in booking.content
    assert b"Select a valid choice" in product.content
    with tenant_context(tenant):
        assert not Booking.objects.filter(product_id=globex_rows.product_id).exists()
        assert not Product.objects.filter(sku="PROBE-CAT").exists()


def test_lists_search_and_filters_show_this_tenants_rows_only(tenant_client: Client, globex_rows: GlobexRows) -> None:
    paths = [
        "/products/?q={marker}",
        "/products/?q={marker}&page=2",
        "/products/?page=999",
        "/customers/?q={marker}",
        "/bookings/?show=all",
        "/products/catalogue/",
        "/",
    ]
    for path in paths:
        response = tenant_client.get(path.format(marker=globex_rows.marker))

        assert response.status_code == 200, path
        assert globex_rows.leaked_into(response.content) == [], path


@pytest.fixture
def globex_invitation(other_tenant: Any, globex_owner: Any) -> Invitation:
    # The owner, a member and this invitation: more seats than globex's free plan has (2).
    plan_change(tenant=other_tenant, plan_code="starter")
    invitation, _token = invitation_create(
        tenant=other_tenant, email="invitee@globex.localhost", role="member", invited_by=globex_owner
    )
    return invitation


def test_members_pages_refuse_another_tenants_members_and_invitations(
    client_for: Callable[..., Client],
    tenant: Any,
    other_tenant: Any,
    owner_user: Any,
    globex_member: Any,
    globex_invitation: Invitation,
) -> None:
    acme_owner = client_for(tenant, owner_user)

    role = acme_owner.post(f"/members/{globex_member.pk}/role/", {"role": "owner"})
    removed = acme_owner.post(f"/members/{globex_member.pk}/remove/")
    withdrawn = acme_owner.post(f"/members/invitations/{globex_invitation.pk}/withdraw/", follow=True)
    listing = acme_owner.get("/members/")

    assert (role.status_code, removed.status_code) == (404, 404)
    assert b"Invitation withdrawn" not in withdrawn.content
    assert b"globex.localhost" not in listing.content
    membership = Membership.objects.get(user=globex_member, tenant=other_tenant)
    assert membership.role == "member"
    assert Invitation.objects.filter(pk=globex_invitation.pk, accepted_at__isnull=True).exists()
