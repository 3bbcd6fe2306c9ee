"""Customers REST API on tenant hosts: thin views over the services, domain errors as 400/404/409."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.customers.models import Customer
from {{ cookiecutter.project_slug }}.customers.services import customer_create


def unique_email() -> str:
    return f"api-{uuid.uuid4().hex[:8]}@example.com"


def test_api_creates_a_customer_with_a_lowercase_email(tenant: object, tenant_client: Client) -> None:
    email = unique_email()

    response = tenant_client.post(
        "/api/customers/", {"name": "API Customer", "email": email.upper()}, content_type="application/json"
    )

    assert response.status_code == 201
    assert response.json()["email"] == email
    with tenant_context(tenant):
        assert Customer.objects.get(email=email).name == "API Customer"


def test_api_answers_400_naming_the_bad_email(tenant_client: Client) -> None:
    response = tenant_client.post(
        "/api/customers/", {"name": "Bad", "email": "not-an-email"}, content_type="application/json"
    )

    assert response.status_code == 400
    assert "'not-an-email'" in response.json()["detail"]


def test_api_answers_409_for_an_email_already_used_in_other_case(tenant: object, tenant_client: Client) -> None:
    email = unique_email()
    customer_create(name="First", email=email)

    response = tenant_client.post(
        "/api/customers/", {"name": "Second", "email": email.upper()}, content_type="application/json"
    )

    assert response.status_code == 409
    assert email in response.json()["detail"]


def test_api_retrieves_a_customer_and_answers_404_for_an_unknown_one(tenant: object, tenant_client: Client) -> None:
    customer = customer_create(name="Known", email=unique_email())

    assert tenant_client.get(f"/api/customers/{customer.pk}/").json()["name"] == "Known"
    missing = tenant_client.get("/api/customers/987654321/")
    assert missing.status_code == 404
    assert "customer 987654321 does not exist" in missing.json()["detail"]


def test_api_partial_update_changes_only_the_sent_fields(tenant: object, manager_client: Client) -> None:
    customer = customer_create(name="Patch", email=unique_email(), phone="123")

    response = manager_client.patch(
        f"/api/customers/{customer.pk}/", {"name": "Patched"}, content_type="application/json"
    )

    assert response.status_code == 200
    with tenant_context(tenant):
        customer.refresh_from_db()
    assert (customer.name, customer.phone) == ("Patched", "123")


def test_api_refuses_anonymous_requests(tenant: object, client_for: Callable[..., Client]) -> None:
    assert client_for(tenant).get("/api/customers/").status_code == 401
