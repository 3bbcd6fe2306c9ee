"""Customers: rules, services, selectors and pages on tenant hosts."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.customers.domain import (
    CustomerNotFound,
    DuplicateEmail,
    InvalidEmail,
    InvalidName,
    InvalidPhone,
    normalize_email,
    normalize_phone,
)
from {{ cookiecutter.project_slug }}.customers.models import Customer
from {{ cookiecutter.project_slug }}.customers.selectors import customer_get, customer_list
from {{ cookiecutter.project_slug }}.customers.services import customer_create, customer_update


def unique_email(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


# --- rules (no database) ----------------------------------------------------------------------


def test_email_is_stripped_and_lowercased() -> None:
    assert normalize_email("  Jane.Doe@Example.COM ") == "jane.doe@example.com"


@pytest.mark.parametrize("email", ["", "jane", "jane@", "@example.com", "jane@example", "ja ne@example.com", None])
def test_email_rejected_when_not_an_address(email: object) -> None:
    with pytest.raises(InvalidEmail) as raised:
        normalize_email(email)
    assert repr(email) in str(raised.value)
    assert "expected an address" in str(raised.value)


@pytest.mark.parametrize("phone", ["+44 20 7946 0000", "(030) 123-456", "0301234", ""])
def test_phone_accepts_digits_with_usual_separators_or_nothing(phone: str) -> None:
    assert normalize_phone(f" {phone} ") == phone


@pytest.mark.parametrize("phone", ["call me", "+", "12345abc", "1" * 33])
def test_phone_rejected_with_letters_or_over_32_characters(phone: str) -> None:
    with pytest.raises(InvalidPhone, match="expected up to 32 digits"):
        normalize_phone(phone)


# --- services ---------------------------------------------------------------------------------


def test_customer_create_stores_email_lowercase(tenant: object) -> None:
    email = unique_email()

    customer = customer_create(name=" Jane ", email=email.upper(), phone="+1 555 0100")

    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.phone) == ("Jane", email, "+1 555 0100")


def test_customer_create_rejects_an_email_already_used_ignoring_case(tenant: object) -> None:
    email = unique_email()
    customer_create(name="First", email=email)

    with pytest.raises(DuplicateEmail, match=email):
        customer_create(name="Second", email=email.upper())
    assert Customer.objects.filter(email__iexact=email).count() == 1


def test_same_email_may_belong_to_customers_of_different_tenants(tenant: object, other_tenant: object) -> None:
    email = unique_email()
    customer_create(name="At Acme", email=email)

    with tenant_context(other_tenant):
        customer_create(name="At Globex", email=email)
        assert Customer.objects.get(email=email).name == "At Globex"

    assert Customer.objects.get(email=email).name == "At Acme"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"name": ""}, InvalidName), ({"email": "nope"}, InvalidEmail), ({"phone": "letters"}, InvalidPhone)],
)
def test_customer_create_rejects_invalid_input_and_saves_nothing(
    tenant: object, kwargs: dict[str, str], error: type[Exception]
) -> None:
    values = {"name": "Valid Customer", "email": unique_email(), **kwargs}

    with pytest.raises(error):
        customer_create(**values)
    assert not Customer.objects.filter(name="Valid Customer").exists()


def test_database_refuses_a_second_email_differing_only_in_case(tenant: object) -> None:
    # The functional unique index protects even writes that bypass the services.
    from django.db import IntegrityError, transaction

    email = unique_email()
    Customer.objects.create(name="Lower", email=email)

    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(name="Upper", email=email.upper())


def test_customer_update_changes_only_the_given_fields(tenant: object) -> None:
    customer = customer_create(name="Old", email=unique_email(), phone="123")

    customer_update(customer_id=customer.pk, name="New")

    customer.refresh_from_db()
    assert (customer.name, customer.phone) == ("New", "123")


def test_customer_update_with_phone_none_removes_the_phone(tenant: object) -> None:
    customer = customer_create(name="Phone", email=unique_email(), phone="123")

    customer_update(customer_id=customer.pk, phone=None)

    customer.refresh_from_db()
    assert customer.phone == ""


def test_customer_update_rejects_the_email_of_another_customer(tenant: object) -> None:
    taken = customer_create(name="Taken", email=unique_email())
    customer = customer_create(name="Mover", email=unique_email())

    with pytest.raises(DuplicateEmail):
        customer_update(customer_id=customer.pk, email=taken.email.upper())


def test_customer_update_accepts_the_customers_own_email_in_other_case(tenant: object) -> None:
    customer = customer_create(name="Self", email=unique_email())

    customer_update(customer_id=customer.pk, email=customer.email.upper())

    customer.refresh_from_db()
    assert customer.email == customer.email.lower()


def test_customer_update_of_unknown_customer_raises_customer_not_found(tenant: object) -> None:
    with pytest.raises(CustomerNotFound, match="987654321"):
        customer_update(customer_id=987654321, name="Ghost")


# --- selectors --------------------------------------------------------------------------------


def test_customer_list_searches_name_email_and_phone(tenant: object) -> None:
    tag = uuid.uuid4().hex[:8]
    by_name = customer_create(name=f"Name {tag}", email=unique_email())
    by_email = customer_create(name="Email match", email=f"{tag}@example.com")

    assert set(customer_list(search=tag.upper())) == {by_name, by_email}


def test_customer_get_raises_customer_not_found_for_unknown_id(tenant: object) -> None:
    with pytest.raises(CustomerNotFound):
        customer_get(customer_id=987654321)


# --- pages ------------------------------------------------------------------------------------


def test_customer_list_page_shows_the_tenants_customers(tenant: object, tenant_client: Client) -> None:
    name = f"Listed {uuid.uuid4().hex[:8]}"
    customer_create(name=name, email=unique_email())

    response = tenant_client.get("/customers/")

    assert response.status_code == 200
    assert f'<td data-testid="customer-name">{name}</td>' in response.content.decode()


def test_customer_pages_redirect_anonymous_visitors_to_login(
    tenant: object, client_for: Callable[..., Client], login_redirect: Callable[..., str]
) -> None:
    response = client_for(tenant).get("/customers/new/")

    assert response.status_code == 302
    assert response["Location"] == login_redirect("/customers/new/")


def test_creating_a_customer_through_the_form_saves_it(
    tenant: object, tenant_client: Client, tenant_path: Callable[..., str]
) -> None:
    email = unique_email()

    response = tenant_client.post("/customers/new/", {"name": "Form Customer", "email": email.upper(), "phone": ""})

    assert response.status_code == 302
    assert response["Location"] == tenant_path("/customers/")
    with tenant_context(tenant):
        assert Customer.objects.get(email=email).name == "Form Customer"


def test_customer_form_shows_the_duplicate_email_error_and_saves_nothing(tenant: object, tenant_client: Client) -> None:
    email = unique_email()
    customer_create(name="Original", email=email)

    response = tenant_client.post("/customers/new/", {"name": "Copy", "email": email.upper(), "phone": ""})

    assert response.status_code == 200
    assert f"email &#x27;{email}&#x27; already belongs to another customer" in response.content.decode()
    with tenant_context(tenant):
        assert Customer.objects.filter(email=email).count() == 1


def test_editing_a_customer_through_the_form_updates_it(tenant: object, manager_client: Client) -> None:
    customer = customer_create(name="Before", email=unique_email())

    response = manager_client.post(
        f"/customers/{customer.pk}/edit/", {"name": "After", "email": customer.email, "phone": "+49 30 1234"}
    )

    assert response.status_code == 302
    with tenant_context(tenant):
        customer.refresh_from_db()
    assert (customer.name, customer.phone) == ("After", "+49 30 1234")


def test_edit_page_of_unknown_customer_is_404(tenant: object, manager_client: Client) -> None:
    assert manager_client.get("/customers/987654321/edit/").status_code == 404


def test_tenant_admin_stores_customer_emails_lowercase(
    tenant: object, owner_user: object, client_for: Callable[..., Client]
) -> None:
    email = unique_email()

    response = client_for(tenant, owner_user).post(
        "/admin/customers/customer/add/", {"name": "Admin Customer", "email": email.upper(), "phone": ""}
    )

    assert response.status_code == 302
    with tenant_context(tenant):
        assert Customer.objects.get(email=email).name == "Admin Customer"
