"""Users, memberships, sign-up and one-time login tokens (public schema)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ..errors import Conflict, DomainError, InvalidValue
from .domain import Role, normalize_email, parse_role
from .models import LoginToken, Membership, User

if TYPE_CHECKING:
    from ..tenancy.models import Tenant

# The issue's rule: a login token is valid for at most 60 seconds, whatever the setting says.
LOGIN_TOKEN_MAX_SECONDS = 60
# Used and expired tokens are kept this long (so a replay is reported as "already used"), then
# removed the next time a token is issued to the same user.
LOGIN_TOKEN_KEEP = timedelta(days=1)
# token_urlsafe(32) gives 43 characters; anything much longer is not one of ours.
_TOKEN_MAX_LENGTH = 128


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


class EmailRegistered(Conflict):
    """Sign-up with an email that already has an account (the person should log in instead)."""


class WeakPassword(InvalidValue):
    """A password refused by settings.AUTH_PASSWORD_VALIDATORS; `messages` lists each reason."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


class NotAMember(Conflict):
    """The user has no membership in the tenant."""


class LoginTokenRefused(DomainError):
    """A one-time login token was refused; the subclass names why. Nobody is logged in."""


class LoginTokenUnknown(LoginTokenRefused):
    """No token with this value was ever issued (or it was removed long after it expired)."""


class LoginTokenUsed(LoginTokenRefused):
    """The token was consumed already: tokens are single use."""


class LoginTokenExpired(LoginTokenRefused):
    """The token's validity (settings.TENANCY_LOGIN_TOKEN_SECONDS, at most 60 s) has passed."""


class LoginTokenWrongTenant(LoginTokenRefused):
    """The token was issued for another tenant than the one whose host received it."""


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


@dataclass(frozen=True)
class Signup:
    """What `user_signup` created: the user, their tenant (active, they own it) and a login token for it."""

    user: User
    tenant: Tenant
    token: str


def user_signup(*, company_name: str, slug: str, email: str, password: str) -> Signup:
    """Create a user with `email` and `password`, provision the tenant `slug` named `company_name` with that
    user as owner (tenancy.services.tenant_create, domain `<slug>.<TENANCY_BASE_DOMAIN>`), and issue a login
    token for it. All or nothing: one transaction, so a failure in provisioning leaves no user behind.

    Raises InvalidEmail for a malformed email, EmailRegistered when it has an account, WeakPassword,
    and what tenant_create raises (InvalidValue for the name, InvalidSlug, TenantExists, DomainTaken).
    """
    from ..tenancy.services import tenant_create

    email = normalize_email(email)
    password_validate(password=password, email=email)
    if User.objects.filter(email__iexact=email).exists():
        raise EmailRegistered(f"{email} already has an account; log in instead")
    user = User(email=email)
    user.set_password(password)  # hashing is slow on purpose: done before the transaction starts
    with transaction.atomic():
        try:
            # A savepoint: a concurrent sign-up with the same email fails the unique index here.
            with transaction.atomic():
                user.save()
        except IntegrityError:
            raise EmailRegistered(f"{email} already has an account; log in instead") from None
        tenant = tenant_create(name=company_name, slug=slug, owner_email=user.email)
        token = login_token_issue(user=user, tenant=tenant)
    return Signup(user=user, tenant=tenant, token=token)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login_token_seconds() -> int:
    """Seconds a new login token stays valid: settings.TENANCY_LOGIN_TOKEN_SECONDS, kept within 1-60."""
    return max(1, min(int(settings.TENANCY_LOGIN_TOKEN_SECONDS), LOGIN_TOKEN_MAX_SECONDS))


def login_token_issue(*, user: User, tenant: Tenant) -> str:
    """Issue a one-time token logging `user` in on `tenant`'s host; return it (43 URL-safe characters).

    Only its SHA-256 is stored. It is valid once, for `login_token_seconds()` seconds, and only on
    `tenant` (login_token_consume). Raises NotAMember when `user` has no membership in `tenant`.
    """
    if membership_role(user_id=user.pk, tenant_id=tenant.pk) is None:
        raise NotAMember(f"{user.email} is not a member of tenant {tenant.slug!r}; no login token issued")
    now = timezone.now()
    LoginToken.objects.filter(user=user, expires_at__lt=now - LOGIN_TOKEN_KEEP).delete()
    token = secrets.token_urlsafe(32)
    LoginToken.objects.create(
        user=user,
        tenant=tenant,
        token_hash=_token_hash(token),
        created=now,
        expires_at=now + timedelta(seconds=login_token_seconds()),
    )
    return token


def login_token_consume(*, token: str, tenant: Tenant) -> User:
    """Mark `token` used and return its user, when it was issued for `tenant`, is unused and unexpired.

    One conditional UPDATE decides, so a token is accepted once even when presented concurrently.
    Raises LoginTokenUnknown, LoginTokenUsed, LoginTokenExpired or LoginTokenWrongTenant (all
    LoginTokenRefused); also LoginTokenRefused when the user was deactivated or removed from the
    tenant meanwhile (the token is then used up).
    """
    if not isinstance(token, str) or not token or len(token) > _TOKEN_MAX_LENGTH:
        raise LoginTokenUnknown("this sign-in link is not valid")
    digest = _token_hash(token)
    now = timezone.now()
    table = connection.ops.quote_name(LoginToken._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET used_at = %s "  # noqa: S608 - our own table name
            "WHERE token_hash = %s AND tenant_id = %s AND used_at IS NULL AND expires_at > %s RETURNING user_id",
            [now, digest, tenant.pk, now],
        )
        row = cursor.fetchone()
    if row is None:
        raise _refusal(digest=digest, tenant=tenant)
    user = User.objects.get(pk=row[0])
    if not user.is_active:
        raise LoginTokenRefused(f"the account {user.email} is deactivated")
    if membership_role(user_id=user.pk, tenant_id=tenant.pk) is None:
        raise LoginTokenRefused(f"{user.email} is no longer a member of {tenant.name}")
    return user


def _refusal(*, digest: str, tenant: Tenant) -> LoginTokenRefused:
    issued = LoginToken.objects.filter(token_hash=digest).first()
    if issued is None:
        return LoginTokenUnknown("this sign-in link is not valid")
    if issued.tenant_id != tenant.pk:
        return LoginTokenWrongTenant(f"this sign-in link was issued for another workspace, not {tenant.name}")
    if issued.used_at is not None:
        return LoginTokenUsed("this sign-in link was used already; each link works once")
    return LoginTokenExpired(f"this sign-in link expired (links are valid for {login_token_seconds()} seconds)")
