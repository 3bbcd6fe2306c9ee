"""Fixtures of the isolation suite: a second tenant's member, rows that exist only in globex, media files.

The suite runs in both routings (settings.TENANCY_ROUTING), written once: `client_for` and `client_on` address a
tenant the mode's way, and an attack that only exists in one routing is named by `path_routing()` (domain: Host
headers and cookies replayed on another tenant's host; path: `/<prefix>/GLOBEX/`, `/<prefix>/acme/../globex/`, one
session on every tenant's paths). `assert_stranger_refused` (conftest.py) checks the answer a logged-in non-member
gets.

Rows made here have ids that acme does not use, so an answer found in acme for such an id would be a leak
rather than a coincidence of two sequences.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from . import sabotage
from conftest import TenantClient, client_on

FOREIGN_ID = 987_654_321  # an id acme's tables never reach in the test database


def pytest_configure(config: pytest.Config) -> None:
    for marker in sorted({marker for marker in sabotage.SABOTAGES.values() if marker}):
        config.addinivalue_line("markers", f"{marker}: fails when {sabotage.ENV_VARIABLE} switches its protection off")
    try:
        sabotage.requested()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Name each test's guard markers in the JUnit XML report (`<property name="guards" value="...">`), where
    tests/isolation/check_sabotage.py reads them."""
    markers = sorted({marker for marker in sabotage.SABOTAGES.values() if marker})
    for item in items:
        for marker in markers:
            if item.get_closest_marker(marker) is not None:
                item.user_properties.append(("guards", marker))


@pytest.fixture(scope="session", autouse=True)
def _isolation_sabotage() -> Iterator[str]:
    """Switch a protection off for the whole isolation suite when ISOLATION_SABOTAGE names one (sabotage.py)."""
    from django.conf import settings
    from django.test.utils import override_settings

    name = sabotage.requested()
    if not name:
        yield ""
        return
    override = override_settings(**sabotage.settings_overrides(name, settings))
    override.enable()
    patches = pytest.MonkeyPatch()
    try:
        for owner, attribute, stand_in in sabotage.code_patches(name):
            patches.setattr(owner, attribute, stand_in)
        yield name
    finally:
        patches.undo()
        override.disable()


@pytest.fixture
def globex_member(other_tenant: Any) -> Any:
    from {{ cookiecutter.project_slug }}.accounts.services import membership_grant, user_get_or_create

    user = user_get_or_create(email="member@globex.localhost", password="member-password")
    membership_grant(user=user, tenant=other_tenant, role="member")
    return user


@pytest.fixture
def globex_owner(other_tenant: Any) -> Any:
    from {{ cookiecutter.project_slug }}.accounts.models import User

    return User.objects.get(email="owner@globex.localhost")


@dataclass(frozen=True)
class GlobexRows:
    """Rows that exist in globex only, with ids acme does not have."""

    marker: str  # starts every name (pages may echo a searched marker: look for `names` in them)
    product_id: int
    customer_id: int
    booking_id: int
    category_id: int

    @property
    def names(self) -> list[str]:
        return [f"{self.marker} {kind}" for kind in ("product", "customer", "category")]

    def leaked_into(self, content: bytes) -> list[str]:
        """The names of these rows that appear in `content` (HTML or JSON)."""
        return [name for name in self.names if name.encode() in content]


@pytest.fixture
def globex_rows(tenant: Any, other_tenant: Any) -> GlobexRows:
    from {{ cookiecutter.project_slug }}.bookings.models import Booking
    from {{ cookiecutter.project_slug }}.customers.models import Customer
    from {{ cookiecutter.project_slug }}.products.models import Category, Product

    marker = f"GLOBEXONLY{uuid.uuid4().hex[:8].upper()}"
    for model in (Product, Customer, Booking, Category):
        assert not model.objects.filter(pk=FOREIGN_ID).exists()  # acme (the `tenant` fixture's schema)
    with tenant_context(other_tenant):
        category = Category.objects.create(pk=FOREIGN_ID, name=f"{marker} category")
        product = Product.objects.create(
            pk=FOREIGN_ID, name=f"{marker} product", sku=marker, price="7.00", category=category, stock=9
        )
        customer = Customer.objects.create(pk=FOREIGN_ID, name=f"{marker} customer", email=f"{marker.lower()}@x.test")
        start = timezone.now() + dt.timedelta(days=3)
        booking = Booking.objects.create(
            pk=FOREIGN_ID, product=product, customer=customer, start=start, end=start + dt.timedelta(hours=1)
        )
    return GlobexRows(marker, product.pk, customer.pk, booking.pk, category.pk)


def path_routing() -> bool:
    """Whether tenants are addressed by path (settings.TENANCY_ROUTING == "path") rather than by host."""
    return bool(settings.TENANCY_ROUTING == "path")


def same_browser(client: Client, tenant: Any, **defaults: Any) -> TenantClient:
    """A client on `tenant` (conftest.client_on, `defaults` for django.test.Client) with `client`'s cookies: the
    same browser, its session cookie included (domain routing: a cookie replayed on another tenant's host; path
    routing: the same host, so the same session)."""
    other = client_on(tenant, **defaults)
    other.cookies = client.cookies
    return other


def csrf_token_from(html: bytes) -> str:
    """The value of the first `csrfmiddlewaretoken` input of an HTML page."""
    found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1).decode()


@pytest.fixture
def media_root(settings: Any, tmp_path: Path) -> Path:
    """A fresh MEDIA_ROOT for this test (tenant folders are created under it on first save)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def media_file(media_root: Path) -> Callable[[Any, str, bytes], str]:
    """save(tenant, name, content): store a file in `tenant`'s media folder; return its storage name."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    def save(tenant: Any, name: str, content: bytes) -> str:
        with tenant_context(tenant):
            return default_storage.save(name, ContentFile(content))

    return save


@pytest.fixture
def host_client() -> Callable[..., TenantClient]:
    """host_client(host, user=None, base_path="", **options): a TenantClient sending `host` as its Host header and
    every tenant path under `base_path` (path routing: "/<prefix>/<slug>", in any spelling an attack needs)."""

    def make(host: str, user: Any = None, base_path: str = "", **options: Any) -> TenantClient:
        client = TenantClient(base_path, HTTP_HOST=host, **options)
        if user is not None:
            client.force_login(user)
        return client

    return make
