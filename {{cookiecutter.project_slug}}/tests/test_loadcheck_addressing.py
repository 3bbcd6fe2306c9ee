"""The load check (`make benchmark-load`, loadcheck/) addresses tenants the project's way: by host in domain
routing, by `/<prefix>/<slug>` on the public host in path routing (loadcheck.harness.tenant_address)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from loadcheck.harness import MarkedTenant, tenant_address

pytestmark = pytest.mark.django_db


def test_the_load_check_sends_a_tenant_s_requests_where_the_routing_mode_serves_it(tenant: Any) -> None:
    host, base_path = tenant_address(tenant)

    if settings.TENANCY_ROUTING == "path":
        assert (host, base_path) == (settings.TENANCY_BASE_DOMAIN, f"/{settings.TENANCY_PATH_PREFIX}/{tenant.slug}")
    else:
        assert (host, base_path) == (tenant.get_primary_domain().domain, "")
    # The tenant's page answers there (anonymous: its login page, under its base path), not the public site's 404.
    response = Client().get(f"{base_path}/products/", HTTP_HOST=host)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{base_path}/accounts/login/")
    marked = MarkedTenant(slug=tenant.slug, schema=tenant.schema_name, host=host, marker="m", base_path=base_path)
    assert marked.address == f"{host}{base_path}"
