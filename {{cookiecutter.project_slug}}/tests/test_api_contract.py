"""The REST API's limits on input, through real requests on a tenant host: pagination bounds, validated query
parameters (documented in the OpenAPI schema), JSON nesting depth, and who may read the schema and docs."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from {{ cookiecutter.project_slug }}.bookings.domain import Slot
from {{ cookiecutter.project_slug }}.bookings.repositories import DjangoBookingRepository
from {{ cookiecutter.project_slug }}.bookings.services import booking_create
from {{ cookiecutter.project_slug }}.customers.services import customer_create
from {{ cookiecutter.project_slug }}.products.services import product_create

LISTS = ["/api/products/", "/api/customers/", "/api/bookings/"]


def errors_of(response: Any) -> str:
    """Every message of a 400 body as one string."""
    return json.dumps(response.json(), ensure_ascii=False)


# --- pagination ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("query", "value", "accepted"),
    [
        ({"limit": "99999999999999999999"}, "'99999999999999999999'", "from 1 to 100"),
        ({"limit": "100000"}, "'100000'", "from 1 to 100"),
        ({"limit": "0"}, "'0'", "from 1 to 100"),
        ({"limit": "-1"}, "'-1'", "from 1 to 100"),
        ({"limit": "ten"}, "'ten'", "from 1 to 100"),
        ({"limit": "1e3"}, "'1e3'", "from 1 to 100"),
        ({"offset": "-5"}, "'-5'", "from 0 to"),
        ({"offset": "99999999999999999999"}, "'99999999999999999999'", "from 0 to"),
        ({"offset": "x" * 5000}, "'xxxx", "from 0 to"),
    ],
)
def test_list_refuses_a_bad_limit_or_offset_naming_it(
    path: str, query: dict[str, str], value: str, accepted: str, tenant_client: Client
) -> None:
    response = tenant_client.get(path, query)

    assert response.status_code == 400, response.content
    (name,) = query
    message = " ".join(response.json()[name])
    assert value in message
    assert accepted in message
    assert len(message) < 400


def test_list_pages_are_at_most_100_rows_and_default_to_50(tenant: object, tenant_client: Client) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    for number in range(120):
        customer_create(name=f"Paged {tag} {number:03}", email=f"paged-{tag}-{number}@example.com")

    default = tenant_client.get("/api/customers/", {"search": tag}).json()
    largest = tenant_client.get("/api/customers/", {"search": tag, "limit": "100"}).json()
    beyond = tenant_client.get("/api/customers/", {"search": tag, "offset": str(2**62)}).json()

    assert (default["count"], len(default["results"])) == (120, 50)
    assert len(largest["results"]) == 100
    assert largest["next"] is not None
    assert beyond["results"] == []


# --- query parameters ------------------------------------------------------------------------------------

BAD_PARAMETERS = {
    "active not a boolean": ("/api/products/", "active", "banana", "true or false"),
    "product search too long": ("/api/products/", "search", "s" * 201, "200 characters"),
    "product search nul": ("/api/products/", "search", "a\x00b", "Null characters"),
    "customer search too long": ("/api/customers/", "search", "s" * 201, "200 characters"),
    "status unknown": ("/api/bookings/", "status", "bogus", "confirmed, cancelled"),
    "product id not a number": ("/api/bookings/", "product_id", "1; drop", "valid integer"),
    "product id zero": ("/api/bookings/", "product_id", "0", "greater than or equal to 1"),
    "product id over the column": ("/api/bookings/", "product_id", str(2**63), "less than or equal to"),
    "customer id negative": ("/api/bookings/", "customer_id", "-3", "greater than or equal to 1"),
    "starting_from not a date": ("/api/bookings/", "starting_from", "yesterday", "YYYY-MM-DD"),
    "starting_before month 13": ("/api/bookings/", "starting_before", "2030-13-01T00:00Z", "YYYY-MM-DD"),
    "ending_after not a date": ("/api/bookings/", "ending_after", "soon", "YYYY-MM-DD"),
}


@pytest.mark.parametrize(
    ("path", "name", "value", "accepted"), [pytest.param(*case, id=label) for label, case in BAD_PARAMETERS.items()]
)
def test_list_refuses_a_bad_query_parameter_naming_the_value_and_what_is_accepted(
    path: str, name: str, value: str, accepted: str, tenant_client: Client
) -> None:
    response = tenant_client.get(path, {name: value})

    assert response.status_code == 400, response.content
    message = " ".join(response.json()[name])
    assert repr(value)[:40] in message
    assert accepted in message


def test_booking_list_refuses_a_window_that_ends_before_it_starts(tenant_client: Client) -> None:
    response = tenant_client.get(
        "/api/bookings/", {"starting_from": "2033-01-02T00:00Z", "starting_before": "2033-01-01T00:00Z"}
    )

    assert response.status_code == 400
    assert "must be after starting_from" in errors_of(response)


def test_unknown_query_parameters_are_ignored(tenant_client: Client) -> None:
    assert tenant_client.get("/api/products/", {"colour": "blue"}).status_code == 200


def test_product_list_filters_on_active(tenant: object, tenant_client: Client) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    product_create(name=f"On {tag}", sku=f"ON-{tag}", price="1.00")
    product_create(name=f"Off {tag}", sku=f"OFF-{tag}", price="1.00", active=False)

    def names(active: str | None) -> list[str]:
        query = {"search": tag} | ({"active": active} if active is not None else {})
        return sorted(row["name"] for row in tenant_client.get("/api/products/", query).json()["results"])

    assert names(None) == [f"Off {tag}", f"On {tag}"]
    assert names("false") == [f"Off {tag}"]
    assert names("true") == [f"On {tag}"]
    assert names("0") == [f"Off {tag}"]


def test_booking_list_filters_on_status_customer_and_dates(tenant: object, tenant_client: Client) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    product = product_create(name=f"Room {tag}", sku=f"ROOM-{tag}", price="1.00")
    customer = customer_create(name="Filter Person", email=f"filter-{tag}@example.com")
    start = datetime(2034, 3, 1, 9, tzinfo=UTC)
    ids = [
        booking_create(
            bookings=DjangoBookingRepository(),
            product_id=product.pk,
            customer_id=customer.pk,
            slot=Slot(start=start + timedelta(days=day), end=start + timedelta(days=day, hours=1)),
        )
        for day in range(3)
    ]

    def listed(**query: str) -> list[int]:
        query = {"product_id": str(product.pk)} | query
        return [row["id"] for row in tenant_client.get("/api/bookings/", query).json()["results"]]

    assert listed() == ids
    assert listed(customer_id=str(customer.pk), status="confirmed") == ids
    assert listed(status="cancelled") == []
    assert listed(starting_from="2034-03-02T00:00Z") == ids[1:]
    assert listed(starting_before="2034-03-02T00:00Z") == ids[:1]
    assert listed(ending_after="2034-03-03T09:30Z") == ids[2:]


# --- OpenAPI schema --------------------------------------------------------------------------------------


def parameters(schema: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p["schema"] for p in schema["paths"][path]["get"]["parameters"]}


def test_the_schema_documents_every_list_filter_with_its_type_and_bounds(tenant_client: Client) -> None:
    response = tenant_client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    products = parameters(schema, "/api/products/")
    bookings = parameters(schema, "/api/bookings/")
    assert products["active"]["type"] == "boolean"
    assert products["search"]["maxLength"] == 200
    assert products["limit"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}
    assert products["offset"]["minimum"] == 0
    assert "search" in parameters(schema, "/api/customers/")
    assert bookings["status"]["enum"] == ["confirmed", "cancelled"]
    assert bookings["product_id"]["type"] == bookings["customer_id"]["type"] == "integer"
    assert bookings["product_id"]["minimum"] == 1
    for name in ("starting_from", "starting_before", "ending_after"):
        assert bookings[name] == {"type": "string", "format": "date-time"}


def test_the_schema_documents_api_key_authentication(tenant_client: Client) -> None:
    schema = json.loads(tenant_client.get("/api/schema/", {"format": "json"}).content)

    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert {"apiKey": []} in schema["paths"]["/api/products/"]["get"]["security"]


# --- nesting depth ---------------------------------------------------------------------------------------

DEEP_BODIES = {
    "arrays 100000 deep": "[" * 100_000 + "]" * 100_000,
    "objects 100000 deep": '{"a":' * 100_000 + "1" + "}" * 100_000,
    "arrays 40 deep": "[" * 40 + "]" * 40,
    "objects 40 deep inside a payload": '{"name": "x", "extra": ' + '{"a":' * 40 + "1" + "}" * 40 + "}",
}


@pytest.fixture
def endpoints(tenant: object) -> list[tuple[str, str]]:
    """(method, path) of every API endpoint that takes a body."""
    tag = uuid.uuid4().hex[:6].upper()
    product = product_create(name=f"Deep {tag}", sku=f"DEEP-{tag}", price="1.00")
    customer = customer_create(name="Deep Person", email=f"deep-{tag}@example.com")
    start = datetime(2035, 1, 1, 9, tzinfo=UTC)
    booking = booking_create(
        bookings=DjangoBookingRepository(), product_id=product.pk, customer_id=customer.pk,
        slot=Slot(start=start, end=start + timedelta(hours=1)),
    )  # fmt: skip
    return [
        ("post", "/api/products/"),
        ("patch", f"/api/products/{product.pk}/"),
        ("post", "/api/customers/"),
        ("patch", f"/api/customers/{customer.pk}/"),
        ("post", "/api/bookings/"),
        ("post", f"/api/bookings/{booking}/cancel/"),
    ]


@pytest.mark.parametrize("body", [pytest.param(body, id=label) for label, body in DEEP_BODIES.items()])
@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_deeply_nested_json_is_a_400_on_every_endpoint(
    body: str, content_type: str, endpoints: list[tuple[str, str]], tenant: object, client_for: Callable[..., Client],
    owner_user: object,
) -> None:  # fmt: skip
    client = client_for(tenant, owner_user)
    for method, path in endpoints:
        response = getattr(client, method)(path, body, content_type=content_type)

        if path.endswith("/cancel/"):  # takes no body, so never parses it
            assert response.status_code == 200, (path, response.content[:300])
            continue
        assert response.status_code == 400, (path, response.content[:300])
        assert "more than 32 levels deep" in response.json()["detail"], path


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=BoUnDaRy"]
)
def test_form_bodies_with_nesting_like_values_are_a_400_not_a_500(
    content_type: str, endpoints: list[tuple[str, str]], tenant: object, client_for: Callable[..., Client],
    owner_user: object,
) -> None:  # fmt: skip
    # Form fields are flat strings: a value that looks nested, and bracketed names, are just refused input.
    deep = "[" * 100_000
    names = [f"{name}{suffix}" for name in ("name", "sku", "price", "email", "product_id") for suffix in ("", "[a][b]")]
    if content_type.startswith("multipart"):
        body = (
            "".join(f'--BoUnDaRy\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{deep}\r\n' for name in names)
            + "--BoUnDaRy--\r\n"
        )
    else:
        body = "&".join(f"{name}={deep}" for name in names)
    client = client_for(tenant, owner_user)
    for method, path in endpoints:
        if path.endswith("/cancel/"):
            continue
        response = getattr(client, method)(path, body, content_type=content_type)

        assert response.status_code == 400, (path, response.content[:300])


# --- schema and docs access -------------------------------------------------------------------------------


def external_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']?((?:https?:)?//[^"' >]+)""", html)


def test_docs_and_schema_are_refused_to_anonymous_visitors(
    tenant: object, client_for: Callable[..., Client], login_redirect: Callable[..., str]
) -> None:
    client = client_for(tenant)

    docs = client.get("/api/docs/")
    schema = client.get("/api/schema/")

    assert docs.status_code == 302
    assert docs["Location"] == login_redirect("/api/docs/")
    assert schema.status_code == 401


def test_docs_and_schema_are_refused_to_members_of_another_tenant(
    tenant: object, other_tenant: object, client_for: Callable[..., Client], member_user: object
) -> None:
    client = client_for(other_tenant, member_user)  # a member of acme, on globex's host

    path_routing = settings.TENANCY_ROUTING == "path"  # one session for every tenant: a stranger, refused
    assert client.get("/api/docs/").status_code == (403 if path_routing else 302)
    assert client.get("/api/schema/").status_code == (403 if path_routing else 401)


def test_api_docs_public_opens_docs_and_schema(
    tenant: object, client_for: Callable[..., Client], settings: Any
) -> None:
    settings.API_DOCS_PUBLIC = True
    client = client_for(tenant)

    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/schema/").status_code == 200


def test_docs_load_swagger_ui_from_this_site_only(tenant_client: Client) -> None:
    response = tenant_client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert external_urls(html) == []
    assets = re.findall(r"""(?:src|href)="(/[^"]+)\"""", html)
    assert any("swagger-ui-bundle" in url for url in assets), html
    assert any(url.endswith(".css") for url in assets), html
    assert any("script" in url for url in assets), html  # the start-up script: a file, not inline
    assert "<script>" not in html
    with tenant_client.verbatim():  # full paths, as the page gives them
        for url in assets:
            served = tenant_client.get(url)
            assert served.status_code == 200, url
            body = b"".join(served.streaming_content) if served.streaming else served.content  # type: ignore[attr-defined]
            assert body, url
        script = tenant_client.get(next(url for url in assets if "script" in url)).content.decode()
    assert external_urls(script) == []
