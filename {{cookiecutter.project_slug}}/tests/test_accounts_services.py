"""Memberships keep an owner, and deleting a global user keeps every tenant's rows that refer to it, visiting no
tenant schema."""

import pytest
from allauth.account.models import EmailAddress
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.accounts.domain import InvalidRole
from {{ cookiecutter.project_slug }}.accounts.models import Membership, User
from {{ cookiecutter.project_slug }}.accounts.services import (
    LastOwner,
    email_address_verify,
    membership_grant,
    membership_remove,
    membership_role_change,
    user_delete,
    user_get_or_create,
)
from {{ cookiecutter.project_slug }}.errors import Conflict, NotFound
from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

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


def test_deleting_a_user_leaves_a_tombstone_that_every_tenant_row_keeps_referring_to(tenant, other_tenant):
    """Also when called from inside a tenant's schema (the `tenant` fixture's connection is in acme's)."""
    user = user_get_or_create(email="leaver@example.com")
    email_address_verify(user=user, email="leaver@example.com")
    membership_grant(user=user, tenant=tenant, role="admin")
    membership_grant(user=user, tenant=other_tenant, role="member")
    entries = {}
    for each in (tenant, other_tenant):
        with tenant_context(each):
            entries[each.slug] = log_entry_for(user, f"Made by leaver in {each.slug}").pk

    tombstone = user_delete(user=user)

    check_foreign_keys_now()  # nothing dangles
    assert tombstone.pk == user.pk
    stored = User.objects.get(pk=user.pk)
    assert (stored.email, stored.name) == (f"deleted-{user.pk}@invalid", "")
    assert not (stored.is_active or stored.is_staff or stored.is_superuser)
    assert not stored.has_usable_password()
    assert not Membership.objects.filter(user_id=user.pk).exists()
    assert not EmailAddress.objects.filter(user_id=user.pk).exists()
    for each in (tenant, other_tenant):
        with tenant_context(each):
            assert LogEntry.objects.select_related("user").get(pk=entries[each.slug]).user.email == stored.email
    assert user_get_or_create(email="leaver@example.com").pk != user.pk  # the address is free again


def tenant_schema_locks(schemas):
    """The (schema, relation) pairs in `schemas` this connection's transaction holds a lock on (pg_locks)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT n.nspname, c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE l.pid = pg_backend_pid() AND n.nspname = ANY(%s)",
            [list(schemas)],
        )
        return set(cursor.fetchall())


def test_deleting_a_user_takes_no_lock_in_any_tenant_schema_and_the_check_sees_one(tenant, other_tenant):
    """The same work at any number of tenants: user_delete takes no lock on a tenant schema's table, also with
    deferred constraints checked. The check sees the lock an update of a tenant's rows takes (what reassigning
    them, the way users were once deleted, did in every tenant schema)."""
    schemas = set(Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True))
    user = user_get_or_create(email="leaver@example.com")
    membership_grant(user=user, tenant=other_tenant, role="member")
    with tenant_context(tenant):
        log_entry_for(user, "Made by leaver")
    before = tenant_schema_locks(schemas)

    user_delete(user=user)
    check_foreign_keys_now()

    assert tenant_schema_locks(schemas) - before == set()
    with tenant_context(other_tenant):
        LogEntry.objects.filter(user_id=user.pk).update(user_id=user.pk)
    assert (other_tenant.schema_name, "django_admin_log") in tenant_schema_locks(schemas) - before


def test_the_database_refuses_to_delete_a_user_row_by_any_other_path(tenant):
    """Tenant rows refer to users without foreign keys (bookings migration 0004): the row must stay."""
    user = user_get_or_create(email="leaver@example.com")
    with tenant_context(tenant):
        log_entry_for(user, "Made by leaver")
    connection.set_schema_to_public()
    refused = r"user leaver@example.com \(id \d+\) cannot be deleted: .*accounts.services.user_delete"
    with pytest.raises(IntegrityError, match=refused), transaction.atomic():
        user.delete()
    with pytest.raises(IntegrityError, match=refused), transaction.atomic():
        User.objects.filter(email="leaver@example.com").delete()
    with pytest.raises(IntegrityError, match=refused), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_user WHERE id = %s", [user.pk])
    assert User.objects.filter(pk=user.pk, email="leaver@example.com").exists()


def test_deleting_the_last_owner_a_deleted_user_or_a_missing_one_is_refused(owner_user):
    with pytest.raises(LastOwner, match="last owner of tenant 'acme'"):
        user_delete(user=owner_user)
    tombstone = user_delete(user=user_get_or_create(email="leaver@example.com"))
    with pytest.raises(Conflict, match=f"user deleted-{tombstone.pk}@invalid is already deleted"):
        user_delete(user=tombstone)
    with pytest.raises(NotFound, match=r"user ghost@example.com \(id 987654321\) does not exist"):
        user_delete(user=User(pk=987654321, email="ghost@example.com"))
    assert User.objects.filter(pk=owner_user.pk, is_active=True).exists()


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
    assert User.objects.get(pk=user.pk).email == f"deleted-{user.pk}@invalid"
    assert not User.objects.filter(email="leaver@example.com").exists()
    with tenant_context(tenant):
        assert LogEntry.objects.get(pk=entry).user.email == f"deleted-{user.pk}@invalid"
