"""Provisioning and removal on PostgreSQL: schemas, rows and their all-or-nothing behaviour."""

import pytest
from django.db import connection
from django_tenants.utils import schema_exists, tenant_context

from {{ cookiecutter.project_slug }}.accounts.models import Membership, User
from {{ cookiecutter.project_slug }}.errors import InvalidValue, NotFound
from {{ cookiecutter.project_slug }}.lifecycle.provisioning import provisioning_step
from {{ cookiecutter.project_slug }}.lifecycle.services import public_tenant_ensure, tenant_create, tenant_drop
from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.tenancy.domain import DomainTaken, InvalidDomain, InvalidSlug, TenantExists
from {{ cookiecutter.project_slug }}.tenancy.models import Domain, Tenant

pytestmark = pytest.mark.django_db


def tenant_tables(schema):
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def fleet_snapshot():
    return (
        set(Tenant.objects.values_list("slug", flat=True)),
        set(Domain.objects.values_list("domain", flat=True)),
        schema_exists("tenant_initech"),
    )


def test_tenant_create_provisions_schema_with_tenant_tables_domain_and_owner():
    tenant = tenant_create(name="Initech", slug="initech", owner_email="Boss@Initech.example")

    assert tenant.schema_name == "tenant_initech"
    assert {"products_product", "customers_customer", "bookings_booking", "django_migrations"} <= tenant_tables(
        "tenant_initech"
    )
    assert "tenancy_tenant" not in tenant_tables("tenant_initech")
    assert tenant.get_primary_domain().domain == "initech.localhost"
    owner = User.objects.get(email="boss@initech.example")
    assert Membership.objects.get(user=owner, tenant=tenant).role == "owner"
    assert not owner.has_usable_password()
    assert not owner.is_staff


def test_tenant_create_uses_hyphenated_slug_and_explicit_domain():
    tenant = tenant_create(name="Acme Two", slug="acme-two", domain="Acme-Two.Example.COM.")
    assert tenant.schema_name == "tenant_acme_two"
    assert schema_exists("tenant_acme_two")
    assert tenant.get_primary_domain().domain == "acme-two.example.com"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"slug": "public"}, InvalidSlug),
        ({"slug": "Acme!"}, InvalidSlug),
        ({"slug": "pg_x"}, InvalidSlug),
        ({"slug": 'a";drop schema public;--'}, InvalidSlug),
        ({"slug": "x" * 64}, InvalidSlug),
        ({"slug": "acme"}, TenantExists),
        ({"domain": "globex.localhost"}, DomainTaken),
        ({"domain": "not a domain"}, InvalidDomain),
        ({"name": "   "}, InvalidValue),
        ({"owner_email": "not-an-email"}, InvalidValue),
    ],
)
def test_tenant_create_rejects_bad_input_and_creates_nothing(kwargs, error):
    before = fleet_snapshot()
    with pytest.raises(error):
        tenant_create(**{"name": "Initech", "slug": "initech", **kwargs})
    assert fleet_snapshot() == before


def test_failure_after_everything_was_written_leaves_no_schema_tenant_or_domain():
    def fail(sender, step, **kwargs):
        if step == "commit":  # schema, tenant, domain and membership written, not committed
            raise RuntimeError("disk full")

    provisioning_step.connect(fail)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            tenant_create(name="Initech", slug="initech", owner_email="boss@initech.example")
    finally:
        provisioning_step.disconnect(fail)
    assert not schema_exists("tenant_initech")
    assert not Tenant.objects.filter(slug="initech").exists()
    assert not Domain.objects.filter(domain="initech.localhost").exists()


def test_tenant_drop_removes_row_domains_memberships_and_schema():
    tenant = tenant_create(name="Initech", slug="initech", owner_email="boss@initech.example")
    tenant_drop(slug="initech")
    assert not schema_exists("tenant_initech")
    assert not Tenant.objects.filter(slug="initech").exists()
    assert not Domain.objects.filter(tenant_id=tenant.pk).exists()
    assert not Membership.objects.filter(tenant_id=tenant.pk).exists()


def test_tenant_drop_refuses_public_and_unknown_slugs():
    with pytest.raises(InvalidSlug, match="public"):
        tenant_drop(slug="public")
    with pytest.raises(NotFound, match="'nope'"):
        tenant_drop(slug="nope")
    assert schema_exists("public")


def test_public_tenant_ensure_is_idempotent():
    first = public_tenant_ensure(domain="localhost")
    second = public_tenant_ensure(domain="LOCALHOST.")
    assert first.pk == second.pk
    assert list(Domain.objects.filter(tenant=first).values_list("domain", flat=True)) == ["localhost"]


def test_each_tenant_schema_holds_its_own_rows(tenant, other_tenant):
    Product.objects.create(name="Only in acme", sku="ONLY-ACME", price="1.00")
    with tenant_context(other_tenant):
        assert not Product.objects.filter(sku="ONLY-ACME").exists()
    assert Product.objects.filter(sku="ONLY-ACME").exists()
