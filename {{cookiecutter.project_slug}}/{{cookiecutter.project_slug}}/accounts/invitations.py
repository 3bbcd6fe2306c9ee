"""Invitations: a tenant's owners and admins invite people by email (public schema).

Who may invite with which role is accounts.domain.role_change_check. An invitation is a single-use link to the
tenant's host, valid for settings.TENANCY_INVITATION_HOURS; accepting it creates the account when the email
is new, or adds the membership to the existing account once its password is given.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from ..audit.services import audit_record
from ..errors import Conflict, DomainError, InvalidValue, NotFound
from ..tenancy.domain import normalize_display_name
from .domain import Role, normalize_email, parse_role, role_change_check
from .login_tokens import token_hash
from .models import Invitation, Membership, User
from .selectors import membership_role
from .services import add_member_check, email_address_verify, password_validate

if TYPE_CHECKING:
    from ..tenancy.models import Tenant

_TOKEN_MAX_LENGTH = 128


NAME_MAX = 150


class AlreadyMember(Conflict):
    """The invited email already belongs to a member of the tenant."""


class InvitationPending(Conflict):
    """An unexpired invitation for this email and tenant is waiting to be accepted."""


class WrongPassword(InvalidValue):
    """The password given to accept an invitation with an existing account is not that account's."""


class InvitationRefused(DomainError):
    """An invitation link was refused; the subclass names why. Nothing was changed."""


class InvitationUnknown(InvitationRefused):
    """No invitation has this token (never issued, or withdrawn)."""


class InvitationUsed(InvitationRefused):
    """The invitation was accepted already: invitation links are single use."""


class InvitationExpired(InvitationRefused):
    """The invitation is older than settings.TENANCY_INVITATION_HOURS."""


class InvitationWrongTenant(InvitationRefused):
    """The invitation is for another tenant than the one whose host received it."""


def invitation_hours() -> int:
    """Hours an invitation link stays valid: settings.TENANCY_INVITATION_HOURS (at least 1)."""
    return max(1, int(settings.TENANCY_INVITATION_HOURS))


def _actor_role(*, tenant: Tenant, actor: User) -> Role | None:
    return membership_role(user_id=actor.pk, tenant_id=tenant.pk)


def invitation_create(*, tenant: Tenant, email: str, role: str | Role, invited_by: User) -> tuple[Invitation, str]:
    """Invite `email` to `tenant` with `role` (owner, admin or member) on behalf of member `invited_by`.

    Returns the invitation and its token (43 URL-safe characters; only its SHA-256 is stored), for the
    link `/invitations/<token>/` on the tenant's host. An expired invitation for the same email is replaced.
    Raises InvalidEmail (malformed address), InvalidRole (unknown role), NotAllowed (`invited_by` is a
    plain member, or an admin inviting an owner), AlreadyMember, InvitationPending (an unexpired one waits),
    PlanLimitReached when the plan's member limit has no seat left (a pending invitation holds a seat:
    accounts.selectors.member_seats, so inviting beyond the limit is refused like adding a member),
    TenantReadOnly when the tenant's payment is overdue.
    """
    address = normalize_email(email)
    parsed = parse_role(role)
    role_change_check(actor=_actor_role(tenant=tenant, actor=invited_by), current=None, new=parsed)
    if Membership.objects.filter(tenant=tenant, user__email__iexact=address).exists():
        raise AlreadyMember(f"{address} is already a member of {tenant.name}")
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        # First, like every writer that counts against the plan: the subscription lock, then rows.
        add_member_check(tenant=tenant, email=address)
        Invitation.objects.filter(
            tenant=tenant, email__iexact=address, accepted_at__isnull=True, expires_at__lte=now
        ).delete()
        pending = Invitation.objects.filter(tenant=tenant, email__iexact=address, accepted_at__isnull=True).first()
        if pending is not None:
            raise _pending(address, tenant, pending)
        try:
            with transaction.atomic():  # savepoint: a concurrent invitation fails the partial unique index
                invitation = Invitation.objects.create(
                    tenant=tenant,
                    email=address,
                    role=parsed.value,
                    token_hash=token_hash(token),
                    invited_by=invited_by,
                    created=now,
                    expires_at=now + timedelta(hours=invitation_hours()),
                )
        except IntegrityError:
            raise InvitationPending(f"{address} has already been invited to {tenant.name}") from None
        audit_record(
            "invitation.create", actor=invited_by, tenant=tenant, target=f"invitation of {address}",
            detail={"email": address, "role": parsed.value, "expires_at": invitation.expires_at},
        )  # fmt: skip
    return invitation, token


def _pending(address: str, tenant: Tenant, pending: Invitation) -> InvitationPending:
    until = timezone.localtime(pending.expires_at).strftime("%Y-%m-%d %H:%M")
    return InvitationPending(
        f"{address} has already been invited to {tenant.name} (valid until {until}); withdraw it to send a new one"
    )


def invitation_send(*, invitation: Invitation, accept_url: str) -> None:
    """Email the invitation link `accept_url` (absolute URL, built by tenancy.addressing.tenant_reverse_url so it
    names the tenant in the project's routing mode) to the invited address, through EMAIL_BACKEND
    (the console in development). Templates: accounts/email/invitation_subject.txt and _message.txt."""
    context = {
        "invitation": invitation,
        "tenant": invitation.tenant,
        "accept_url": accept_url,
        "inviter": invitation.invited_by,
        "hours": invitation_hours(),
    }
    subject = " ".join(render_to_string("accounts/email/invitation_subject.txt", context).split())
    body = render_to_string("accounts/email/invitation_message.txt", context)
    send_mail(subject, body, None, [invitation.email])


def invitation_withdraw(*, tenant: Tenant, invitation_id: int, actor: User) -> None:
    """Delete the pending invitation `invitation_id` of `tenant`: its link stops working.

    Raises NotFound (no such pending invitation in this tenant), NotAllowed (a plain member, or an admin
    withdrawing an owner's invitation).
    """
    invitation = Invitation.objects.filter(pk=invitation_id, tenant=tenant, accepted_at__isnull=True).first()
    if invitation is None:
        raise NotFound(f"there is no pending invitation {invitation_id!r} in {tenant.name}")
    role_change_check(actor=_actor_role(tenant=tenant, actor=actor), current=None, new=Role(invitation.role))
    with transaction.atomic():
        audit_record(
            "invitation.withdraw", actor=actor, tenant=tenant, target=f"invitation of {invitation.email}",
            detail={"email": invitation.email, "role": invitation.role},
        )  # fmt: skip
        invitation.delete()


def invitation_get(*, token: str, tenant: Tenant) -> Invitation:
    """Return the pending, unexpired invitation with `token` for `tenant`.

    Raises InvitationUnknown, InvitationUsed, InvitationExpired or InvitationWrongTenant (all InvitationRefused).
    """
    if not isinstance(token, str) or not token or len(token) > _TOKEN_MAX_LENGTH:
        raise InvitationUnknown("this invitation link is not valid")
    invitation = Invitation.objects.filter(token_hash=token_hash(token)).select_related("tenant").first()
    if invitation is None:
        raise InvitationUnknown("this invitation link is not valid (it may have been withdrawn)")
    if invitation.tenant_id != tenant.pk:
        raise InvitationWrongTenant(f"this invitation is for another workspace, not {tenant.name}")
    if invitation.accepted_at is not None:
        raise InvitationUsed("this invitation was accepted already; each invitation link works once")
    if invitation.expires_at <= timezone.now():
        raise InvitationExpired(
            f"this invitation expired (invitations are valid for {invitation_hours()} hours); ask for a new one"
        )
    return invitation


def invitation_accept(*, token: str, tenant: Tenant, password: str, name: str = "") -> User:
    """Accept the invitation `token` on `tenant`'s host; return the member's account.

    When the invited email has no account, one is created with `password` (settings.AUTH_PASSWORD_VALIDATORS)
    and `name` (at most 150 characters); otherwise `password` must be that account's. Either way the
    account becomes a member with the invitation's role (an existing membership keeps its role) and its
    email counts as verified: the link reached that mailbox. One transaction, and one conditional UPDATE
    decides, so an invitation is accepted once even when two requests race.

    Raises what invitation_get raises, WeakPassword, WrongPassword and InvalidName (name too long, control
    or invisible characters), PlanLimitReached when the plan's member limit is reached by the members and the
    other pending invitations (a plan downgraded since the invitation was sent), TenantReadOnly;
    nothing changes then.
    """
    invitation = invitation_get(token=token, tenant=tenant)
    name = (name or "").strip()
    if name:  # optional; when given, a display name like a tenant's (no control or invisible characters)
        name = normalize_display_name(name, max_length=NAME_MAX)
    user = User.objects.filter(email__iexact=invitation.email).first()
    if user is not None:
        if not user.is_active or not user.check_password(password):
            raise WrongPassword(f"the password is not the one of the account {user.email}")
    else:
        password_validate(password=password, email=invitation.email)
        user = User(email=invitation.email, name=name)
        user.set_password(password)
    now = timezone.now()
    table = connection.ops.quote_name(Invitation._meta.db_table)
    with transaction.atomic():
        if user.pk is None or not Membership.objects.filter(user=user, tenant=tenant).exists():
            # Its seat was held by the invitation itself; the limit may have shrunk since (a plan change).
            add_member_check(tenant=tenant, email=invitation.email)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET accepted_at = %s "  # noqa: S608 - our own table name
                "WHERE token_hash = %s AND tenant_id = %s AND accepted_at IS NULL AND expires_at > %s RETURNING id",
                [now, token_hash(token), tenant.pk, now],
            )
            if cursor.fetchone() is None:
                # Accepted or expired between the check above and now.
                raise invitation_refusal(token=token, tenant=tenant)
        if user.pk is None:
            try:
                with transaction.atomic():
                    user.save()
            except IntegrityError:
                raise Conflict(f"an account for {invitation.email} was just created; log in to accept") from None
        membership, created = Membership.objects.get_or_create(
            user=user, tenant=tenant, defaults={"role": invitation.role}
        )
        email_address_verify(user=user, email=invitation.email)
        Invitation.objects.filter(pk=invitation.pk).update(accepted_by=user)
        audit_record(
            "invitation.accept", actor=user, tenant=tenant, target=f"invitation of {invitation.email}",
            detail={
                "email": invitation.email, "role": membership.role,
                "invited_by": invitation.invited_by.email if invitation.invited_by else None,
                "membership_created": created,
            },
        )  # fmt: skip
    return user


def invitation_refusal(*, token: str, tenant: Tenant) -> InvitationRefused:
    """The reason `token` is refused on `tenant`'s host now (for messages after a failed acceptance)."""
    try:
        invitation_get(token=token, tenant=tenant)
    except InvitationRefused as exc:
        return exc
    return InvitationUsed("this invitation was accepted already; each invitation link works once")
