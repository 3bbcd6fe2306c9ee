"""Users and memberships (public schema): the only writers of accounts, roles and verified addresses.

A membership change made by a member (`actor`) is checked against accounts.domain.role_change_check;
without `actor` (commands, the platform admin) only the last-owner rule applies (LastOwner).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from allauth.account.models import EmailAddress
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django_tenants.utils import get_public_schema_name, schema_context

from ..audit.services import audit_actor_forget, audit_record
from ..billing.domain import Limit
from ..billing.services import plan_limit_check
from ..errors import Conflict, InvalidValue, NotFound
from .domain import Role, normalize_email, parse_role, role_change_check
from .models import BrowserSession, LoginToken, Membership, User
from .selectors import member_seats, membership_role

if TYPE_CHECKING:
    from django.http import HttpRequest

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


def membership_grant(*, user: User, tenant: Tenant, role: str | Role, actor: User | None = None) -> Membership:
    """Give `user` the `role` (owner, admin or member) in `tenant`, updating an existing membership; a change
    is recorded as audit event membership.grant (`actor`: who granted it, default the request's user).

    A new membership takes a seat of the plan's member limit (selectors.member_seats: members and pending
    invitations). Raises InvalidRole for an unknown role, PlanLimitReached when no seat is left, TenantReadOnly
    when the tenant's payment is overdue (a new membership only; nothing changes then).
    """
    parsed = parse_role(role)
    with transaction.atomic():
        previous = Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()
        if previous is None:
            add_member_check(tenant=tenant, email=user.email)
        membership, _ = Membership.objects.update_or_create(user=user, tenant=tenant, defaults={"role": parsed.value})
        if previous != parsed.value:
            _audit_membership("membership.grant", membership, actor, {"from": previous, "to": parsed.value})
    return membership


def add_member_check(*, tenant: Tenant, email: str | None = None) -> None:
    """Refuse one more seat in `tenant` (a membership or a pending invitation for `email`) when its plan's member
    limit is reached: PlanLimitReached; TenantReadOnly when its payment is overdue. Call it inside the
    transaction that adds the seat: the tenant's subscription stays locked until that transaction ends, so
    concurrent additions count each other (billing.services.plan_limit_check)."""
    plan_limit_check(Limit.MEMBERS, usage=lambda: member_seats(tenant=tenant, except_email=email), tenant=tenant)


def _audit_membership(action: str, membership: Membership, actor: User | None, detail: dict[str, object]) -> None:
    audit_record(
        action, actor=actor, tenant=membership.tenant, target=f"membership of {membership.user.email}",
        detail={"email": membership.user.email, **detail},
    )  # fmt: skip


class LastOwner(Conflict):
    """The change would leave a tenant without an owner."""


def _other_owners(*, tenant: Tenant, user: User) -> int:
    """Owners of `tenant` besides `user`, with the tenant's owner memberships locked until the transaction ends
    (two concurrent demotions cannot both pass the check)."""
    owners = Membership.objects.select_for_update().filter(tenant=tenant, role=Role.OWNER.value)
    return sum(1 for owner_id in owners.values_list("user_id", flat=True) if owner_id != user.pk)


def _tenant_named(tenant: Tenant, actor: User | None) -> str:
    """How an error names `tenant`: by its name to a member on the team page, by its slug to operators."""
    return tenant.name if actor is not None else f"tenant {tenant.slug!r}"


def membership_role_change(*, tenant: Tenant, user: User, role: str | Role, actor: User | None = None) -> Membership:
    """Change the role of `user`'s existing membership in `tenant` to `role` (owner, admin or member).

    With `actor` (a member acting on the team page), who may do what is accounts.domain.role_change_check.
    Raises InvalidRole for an unknown role, NotFound when `user` is not a member, NotAllowed when `actor` may
    not make this change, LastOwner when it would demote the tenant's last owner.
    """
    parsed = parse_role(role)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(tenant=tenant, user=user).first()
        if membership is None:
            raise NotFound(f"{user.email} is not a member of {_tenant_named(tenant, actor)}")
        if actor is not None:
            actor_role = membership_role(user_id=actor.pk, tenant_id=tenant.pk)
            role_change_check(actor=actor_role, current=Role(membership.role), new=parsed)
        if membership.role == Role.OWNER.value and parsed != Role.OWNER and not _other_owners(tenant=tenant, user=user):
            raise LastOwner(f"{user.email} is the last owner of tenant {tenant.slug!r}; make someone else owner first")
        previous = membership.role
        membership.role = parsed.value
        membership.save(update_fields=["role"])
        if previous != parsed.value:
            _audit_membership("membership.role_change", membership, actor, {"from": previous, "to": parsed.value})
    return membership


def membership_remove(*, tenant: Tenant, user: User, actor: User | None = None) -> None:
    """Remove `user`'s membership in `tenant` (the account stays; other tenants are untouched).

    With `actor` (a member acting on the team page), who may do what is accounts.domain.role_change_check.
    Raises NotFound when there is none, NotAllowed when `actor` may not remove `user`, LastOwner for the
    last owner.
    """
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(tenant=tenant, user=user).first()
        if membership is None:
            raise NotFound(f"{user.email} is not a member of {_tenant_named(tenant, actor)}")
        if actor is not None:
            actor_role = membership_role(user_id=actor.pk, tenant_id=tenant.pk)
            role_change_check(actor=actor_role, current=Role(membership.role), new=None)
        if membership.role == Role.OWNER.value and not _other_owners(tenant=tenant, user=user):
            raise LastOwner(f"{user.email} is the last owner of tenant {tenant.slug!r}; make someone else owner first")
        _audit_membership("membership.remove", membership, actor, {"role": membership.role})
        membership.delete()


# A deleted user's row stays, emptied of personal data, as a tombstone: tenant schemas refer to users by id
# (each tenant's admin log, bookings.created_by) without foreign keys (bookings migration 0004), and the
# database refuses to delete a user row (accounts migration 0005). `.invalid` is reserved (RFC 2606, section 2)
# and normalize_email refuses a domain without a dot, so no one can sign up with a tombstone's address.
TOMBSTONE_EMAIL = "deleted-{user_id}@invalid"


def user_is_deleted(user: User) -> bool:
    """Whether `user` is the tombstone user_delete left (an address in the reserved `.invalid` domain)."""
    return user.email.endswith("@invalid")


def user_delete(*, user: User) -> User:
    """Delete the global `user` and return their tombstone (the same row, updated).

    Their memberships, login tokens, sessions and verified addresses are deleted; the row itself stays as an
    inactive tombstone without personal data: email TOMBSTONE_EMAIL (`deleted-<id>@invalid`), no name, no
    usable password, no platform rights. Rows in tenant schemas that refer to the user (each tenant's admin
    log, bookings.created_by) keep a valid id and show the tombstone's address; audit events keep their
    `actor_email`, and their `actor` becomes NULL. The original address is free to sign up again as a new user.

    The work is the same at any number of tenants: no tenant schema is visited. This is the only way a user
    goes: the database refuses to delete a user row (accounts migration 0005), since the ids in tenant schemas
    would then point nowhere.

    Raises Conflict when `user` is already deleted (a tombstone), NotFound when the row is gone, LastOwner
    when `user` is the last owner of a tenant.
    """
    with schema_context(get_public_schema_name()), transaction.atomic():
        row = User.objects.select_for_update().filter(pk=user.pk).first()
        if row is None:
            raise NotFound(f"user {user.email} (id {user.pk}) does not exist")
        if user_is_deleted(row):
            raise Conflict(f"user {row.email} is already deleted")
        for membership in Membership.objects.filter(user=row, role=Role.OWNER.value).select_related("tenant"):
            if not _other_owners(tenant=membership.tenant, user=row):
                raise LastOwner(
                    f"{row.email} is the last owner of tenant {membership.tenant.slug!r}; make someone else owner "
                    "or drop the tenant first"
                )
        tombstone = TOMBSTONE_EMAIL.format(user_id=row.pk)
        if User.objects.filter(email__iexact=tombstone).exists():
            raise Conflict(f"the tombstone address {tombstone} of user {row.email} is taken by another account")
        audit_record("user.delete", target=f"user {row.email}", detail={"email": row.email})
        audit_actor_forget(user_id=row.pk)
        Membership.objects.filter(user=row).delete()
        LoginToken.objects.filter(user=row).delete()
        BrowserSession.objects.filter(user_id=row.pk).delete()  # logged out everywhere
        EmailAddress.objects.filter(user=row).delete()
        row.groups.clear()
        row.user_permissions.clear()
        row.email = tombstone
        row.name = ""
        row.is_active = row.is_staff = row.is_superuser = False
        row.set_unusable_password()
        row.save()
    return row


class EmailRegistered(Conflict):
    """Sign-up with an email that already has an account (the person should log in instead)."""


class WeakPassword(InvalidValue):
    """A password refused by settings.AUTH_PASSWORD_VALIDATORS; `messages` lists each reason."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


class NotAMember(Conflict):
    """The user has no membership in the tenant."""


def password_validate(*, password: object, email: str = "") -> str:
    """Return `password` when settings.AUTH_PASSWORD_VALIDATORS accept it for a user with `email`;
    raise WeakPassword listing every reason otherwise (too short, too common, all digits, too close
    to the email)."""
    if not isinstance(password, str) or not password:
        raise WeakPassword(["The password is empty.", *password_validation.password_validators_help_texts()])
    try:
        password_validation.validate_password(password, User(email=email))
    except ValidationError as exc:
        raise WeakPassword([str(message) for message in exc.messages]) from None
    return password


def email_address_verify(*, user: User, email: str) -> None:
    """Record `email` as a verified address of `user` for django-allauth (primary unless another one is)."""
    other_primary = EmailAddress.objects.filter(user=user, primary=True).exclude(email__iexact=email).exists()
    EmailAddress.objects.update_or_create(
        user=user, email=email.lower(), defaults={"verified": True, "primary": not other_primary}
    )


def email_verification_send(*, request: HttpRequest, user: User) -> EmailAddress:
    """Record `user.email` as the primary, unverified address of `user` and email a verification link
    (django-allauth; the link leads to `/accounts/confirm-email/<key>/` on the host of `request`)."""
    address = EmailAddress.objects.add_email(request, user, user.email, confirm=True, signup=True)
    if not address.primary:
        address.set_as_primary()
    return address
