"""Users and memberships (public schema)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .domain import Role, normalize_email, parse_role
from .models import Membership, User

if TYPE_CHECKING:
    from ..tenancy.models import Tenant


def user_get_or_create(*, email: str, password: str | None = None) -> User:
    """Return the user with `email` (case-insensitive), creating it when new.

    A new user gets `password`, or an unusable password when None. An existing user's password is
    not changed. Raises InvalidEmail for a malformed address.
    """
    email = normalize_email(email)
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password)
    return user


def membership_grant(*, user: User, tenant: Tenant, role: str | Role) -> Membership:
    """Give `user` the `role` (owner, admin or member) in `tenant`, updating an existing membership.

    Raises InvalidRole for an unknown role.
    """
    parsed = parse_role(role)
    membership, _ = Membership.objects.update_or_create(user=user, tenant=tenant, defaults={"role": parsed.value})
    return membership


def membership_role(*, user_id: int, tenant_id: int) -> Role | None:
    """Return the role of user `user_id` in tenant `tenant_id`, or None when not a member."""
    role = Membership.objects.filter(user_id=user_id, tenant_id=tenant_id).values_list("role", flat=True).first()
    return Role(role) if role else None
