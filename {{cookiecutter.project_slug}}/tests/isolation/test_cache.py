"""The cache: the same key, or the same page URL, in two tenants never reaches the other tenant's entry."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.services import membership_grant
from {{ cookiecutter.project_slug }}.tenancy.models import Domain


@pytest.mark.guards_cache_key
def test_the_same_cache_key_holds_one_value_per_tenant(tenant: Any, other_tenant: Any) -> None:
    with tenant_context(tenant):
        cache.set("report:summary", "acme's figures")
    with tenant_context(other_tenant):
        assert cache.get("report:summary") is None
        cache.set("report:summary", "globex's figures")
    with tenant_context(tenant):
        assert cache.get("report:summary") == "acme's figures"
        cache.delete("report:summary")
    with tenant_context(other_tenant):
        assert cache.get("report:summary") == "globex's figures"


@pytest.mark.guards_cache_key
def test_cache_page_never_serves_one_tenants_page_to_another_on_the_same_url(
    tenant: Any, other_tenant: Any, owner_user: Any
) -> None:
    """A domain moved from acme to globex: the URL and the browser's cookies stay the same, the tenant does not."""
    membership_grant(user=owner_user, tenant=other_tenant, role="member")
    domain = Domain.objects.create(domain="shop.localhost", tenant=tenant, is_primary=False)
    browser = Client(HTTP_HOST="shop.localhost")
    browser.force_login(owner_user)

    before = browser.get("/products/catalogue/")
    assert before.status_code == 200
    assert b"Anvil" in before.content  # acme's catalogue, now cached
    domain.tenant = other_tenant
    domain.save()
    after = browser.get("/products/catalogue/")

    assert after.status_code == 200
    assert b"Globex Corporation" in after.content
    assert b"Hammock" in after.content
    assert b"Anvil" not in after.content
