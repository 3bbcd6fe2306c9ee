"""Memberships keep an owner, and deleting a global user keeps every tenant's rows that refer to it."""

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.domain import InvalidRole
from {{ cookiecutter.project_slug }}.accounts.models import Membership, User
from {{ cookiecutter.project_slug }}.accounts.services import (
    DELETED_USER_EMAIL,
    LastOwner,
    membership_grant,
    membership_remove,
    membership_role_change,
    user_delete,
    user_get_or_create,
)
from {{ cookiecutter.project_slug }}.errors import Conflict, NotFound
from {{ cookiecutter.project_slug }}.products.models import Product

pytestmark = pytest.mark.django_db


def check_foreign_keys_now():
    """Deferred foreign keys are checked at commit; tests never commit, so check them here."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def test_the_last_owner_can_be_neither_demoted_nor_removed(tenant, owner_user, member_user):
    with pytest.raises(LastOwner, match="last owner of tenant 'acme'"):
        membership_role_change(tenant=tenant, user=owner_user, role="admin")
    with pytest.raises(LastOwner):
        membership_remove(tenant=tenant, user=owner_user)
    assert Membership.objects.get(tenant=tenant, user=owner_user).role == "owner"

    membership_role_change(tenant=tenant, user=member_user, role="owner")
    membership_role_change(tenant=tenant, user=owner_user, role="member")  # another owner exists now
    membership_remove(tenant=tenant, user=owner_user)
    assert list(Membership.objects.filter(tenant=tenant, role="owner").values_list("user", flat=True)) == [
        member_user.pk
    ]


def test_membership_changes_refuse_bad_input_and_change_nothing(tenant, other_tenant, member_user):
    with pytest.raises(InvalidRole, match="'boss' does not exist; accepted: owner, admin, member"):
        membership_role_change(tenant=tenant, user=member_user, role="boss")
    with pytest.raises(NotFound, match="not a member of tenant 'globex'"):
        membership_role_change(tenant=other_tenant, user=member_user, role="admin")
    with pytest.raises(NotFound):
        membership_remove(tenant=other_tenant, user=member_user)
    assert Membership.objects.get(tenant=tenant, user=member_user).role == "member"


def log_entry_for(user, product_name):
    """An admin log row in the current tenant's schema, as the tenant admin writes when a product is added."""
    product = Product.objects.create(name=product_name, sku=product_name[:10].upper(), price=1)
    return LogEntry.objects.create(
        user=user, content_type=ContentType.objects.get_for_model(Product), object_id=str(product.pk),
        object_repr=str(product), action_flag=ADDITION,
    )  # fmt: skip


def test_deleting_a_user_keeps_the_admin_log_rows_of_two_tenants(tenant, other_tenant):
    """Also when called from inside a tenant's schema (the `tenant` fixture's connection is in acme's)."""
    user = user_get_or_create(email="leaver@example.com")
    membership_grant(user=user, tenant=tenant, role="admin")
    membership_grant(user=user, tenant=other_tenant, role="member")
    entries = {}
    for each in (tenant, other_tenant):
        with tenant_context(each):
            entries[each.slug] = log_entry_for(user, f"Made by leaver in {each.slug}").pk

    assert user_delete(user=user) == 2

    check_foreign_keys_now()  # nothing dangles
    assert not User.objects.filter(email="leaver@example.com").exists()
    assert not Membership.objects.filter(user_id=user.pk).exists()
    placeholder = User.objects.get(email=DELETED_USER_EMAIL)
    assert not placeholder.is_active and not placeholder.has_usable_password()
    for each in (tenant, other_tenant):
        with tenant_context(each):
            assert LogEntry.objects.get(pk=entries[each.slug]).user_id == placeholder.pk


def test_without_user_delete_the_tenant_rows_would_break_the_foreign_key(tenant):
    user = user_get_or_create(email="leaver@example.com")
    with tenant_context(tenant):
        log_entry_for(user, "Made by leaver")
    connection.set_schema_to_public()
    with pytest.raises(IntegrityError), transaction.atomic():
        user.delete()  # Django sees the public schema only
        check_foreign_keys_now()


def test_deleting_the_last_owner_or_the_placeholder_is_refused(owner_user):
    with pytest.raises(LastOwner, match="last owner of tenant 'acme'"):
        user_delete(user=owner_user)
    placeholder = User.objects.create(email=DELETED_USER_EMAIL, is_active=False)
    with pytest.raises(Conflict, match="placeholder"):
        user_delete(user=placeholder)
    assert User.objects.filter(pk=owner_user.pk).exists()


def test_the_platform_admin_deletes_users_the_same_way(client, tenant):
    user = user_get_or_create(email="leaver@example.com")
    with tenant_context(tenant):
        entry = log_entry_for(user, "Made by leaver").pk
    staff = User.objects.create_superuser(email="ops@example.com", password="ops-password")
    client.force_login(staff)
    connection.set_schema_to_public()

    response = client.post(f"/admin/accounts/user/{user.pk}/delete/", {"post": "yes"}, HTTP_HOST="localhost")

    assert response.status_code == 302
    check_foreign_keys_now()
    assert not User.objects.filter(pk=user.pk).exists()
    with tenant_context(tenant):
        assert LogEntry.objects.get(pk=entry).user.email == DELETED_USER_EMAIL
