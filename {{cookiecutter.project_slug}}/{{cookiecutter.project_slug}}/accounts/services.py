"""Users, memberships, sign-up and one-time login tokens (public schema)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from ..errors import Conflict, DomainError, InvalidValue, NotFound
from .domain import Role, normalize_email, parse_role
from .models import BrowserSession, LoginToken, Membership, User

if TYPE_CHECKING:
    from django.http import HttpRequest

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


class LastOwner(Conflict):
    """The change would leave a tenant without an owner."""


def _other_owners(*, tenant: Tenant, user: User) -> int:
    """Owners of `tenant` besides `user`, with the tenant's owner memberships locked until the transaction ends
    (two concurrent demotions cannot both pass the check)."""
    owners = Membership.objects.select_for_update().filter(tenant=tenant, role=Role.OWNER.value)
    return sum(1 for owner_id in owners.values_list("user_id", flat=True) if owner_id != user.pk)


def membership_role_change(*, tenant: Tenant, user: User, role: str | Role) -> Membership:
    """Change the role of `user`'s existing membership in `tenant` to `role` (owner, admin or member).

    Raises InvalidRole for an unknown role, NotFound when `user` is not a member, LastOwner when it would
    demote the tenant's last owner.
    """
    parsed = parse_role(role)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(tenant=tenant, user=user).first()
        if membership is None:
            raise NotFound(f"{user.email} is not a member of tenant {tenant.slug!r}")
        if membership.role == Role.OWNER.value and parsed != Role.OWNER and not _other_owners(tenant=tenant, user=user):
            raise LastOwner(f"{user.email} is the last owner of tenant {tenant.slug!r}; make someone else owner first")
        membership.role = parsed.value
        membership.save(update_fields=["role"])
    return membership


def membership_remove(*, tenant: Tenant, user: User) -> None:
    """Remove `user`'s membership in `tenant`. Raises NotFound when there is none, LastOwner for the last owner."""
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(tenant=tenant, user=user).first()
        if membership is None:
            raise NotFound(f"{user.email} is not a member of tenant {tenant.slug!r}")
        if membership.role == Role.OWNER.value and not _other_owners(tenant=tenant, user=user):
            raise LastOwner(f"{user.email} is the last owner of tenant {tenant.slug!r}; make someone else owner first")
        membership.delete()


# Tenant tables that refer to a deleted user (the admin log, for one) are pointed at this inactive
# account instead, so their rows stay and no foreign key breaks.
DELETED_USER_EMAIL = "deleted-user@invalid"


def user_delete(*, user: User) -> int:
    """Delete the global `user` with its memberships and login tokens; return how many rows in tenant
    schemas now refer to the inactive placeholder account DELETED_USER_EMAIL instead.

    Users live in the public schema, but tenant schemas hold rows that refer to them (each tenant's admin
    log: django_admin_log.user_id). Django's delete() only sees the public schema, and those rows would
    break their foreign key at commit. Every foreign key into the user table from another schema is found
    in the catalog and its rows are reassigned, in the same transaction as the deletion: no tenant loses
    rows, and nothing fails. In the public schema Django's own on_delete rules apply (the platform admin
    log rows of the user go with it). Raises Conflict for the placeholder itself and LastOwner when `user` is the
    last owner of a tenant.
    """
    if user.email == DELETED_USER_EMAIL:
        raise Conflict(f"{DELETED_USER_EMAIL} is the placeholder for deleted users and cannot be deleted")
    user_table = connection.ops.quote_name(User._meta.db_table)
    quote = connection.ops.quote_name
    reassigned = 0
    # In the public schema: Django's collector resolves unqualified table names through the search path,
    # and from a tenant's schema it would delete that tenant's admin log rows of the user.
    with schema_context(get_public_schema_name()), transaction.atomic():
        for membership in Membership.objects.filter(user=user, role=Role.OWNER.value).select_related("tenant"):
            if not _other_owners(tenant=membership.tenant, user=user):
                raise LastOwner(
                    f"{user.email} is the last owner of tenant {membership.tenant.slug!r}; make someone else owner "
                    "or drop the tenant first"
                )
        placeholder, created = User.objects.get_or_create(email=DELETED_USER_EMAIL, defaults={"is_active": False})
        if created:
            placeholder.set_unusable_password()
            placeholder.save(update_fields=["password"])
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n.nspname, c.relname, a.attname FROM pg_constraint k "
                "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] "
                "WHERE k.contype = 'f' AND k.confrelid = %s::regclass AND n.nspname <> 'public'",
                [f"public.{user_table}"],
            )
            for schema, table, column in cursor.fetchall():
                cursor.execute(
                    f"UPDATE {quote(schema)}.{quote(table)} SET {quote(column)} = %s WHERE {quote(column)} = %s",  # noqa: S608
                    [placeholder.pk, user.pk],
                )
                reassigned += cursor.rowcount
        BrowserSession.objects.filter(user_id=user.pk).delete()  # logged out everywhere
        user.delete()
    return reassigned


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


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a one-time token: what the database stores instead of the token (login, invitation)."""
    return hashlib.sha256(token.encode()).hexdigest()


def login_token_seconds() -> int:
    """Seconds a new login token stays valid: settings.TENANCY_LOGIN_TOKEN_SECONDS, kept within 1-60."""
    return max(1, min(int(settings.TENANCY_LOGIN_TOKEN_SECONDS), LOGIN_TOKEN_MAX_SECONDS))


def login_token_issue(*, user: User, tenant: Tenant, family: str = "") -> str:
    """Issue a one-time token logging `user` in on `tenant`'s host; return it (43 URL-safe characters).

    Only its SHA-256 is stored. It is valid once, for `login_token_seconds()` seconds, and only on
    `tenant` (login_token_consume). `family` is the issuing session's login family (32 hex characters,
    or "" for none): the session the token opens joins it, so logging out on any host ends both.
    Raises NotAMember when `user` has no membership in `tenant`.
    """
    if membership_role(user_id=user.pk, tenant_id=tenant.pk) is None:
        raise NotAMember(f"{user.email} is not a member of tenant {tenant.slug!r}; no login token issued")
    now = timezone.now()
    LoginToken.objects.filter(user=user, expires_at__lt=now - LOGIN_TOKEN_KEEP).delete()
    token = secrets.token_urlsafe(32)
    LoginToken.objects.create(
        user=user,
        tenant=tenant,
        token_hash=token_hash(token),
        created=now,
        expires_at=now + timedelta(seconds=login_token_seconds()),
        family=family[:32],
    )
    return token


@dataclass(frozen=True)
class TokenLogin:
    """A consumed login token: whom to log in, and the login family the new session joins ("" for a new one)."""

    user: User
    family: str


def login_token_consume(*, token: str, tenant: Tenant) -> TokenLogin:
    """Mark `token` used and return its user and login family, when it was issued for `tenant`, is unused
    and unexpired.

    One conditional UPDATE decides, so a token is accepted once even when presented concurrently.
    Raises LoginTokenUnknown, LoginTokenUsed, LoginTokenExpired or LoginTokenWrongTenant (all
    LoginTokenRefused); also LoginTokenRefused when the user was deactivated or removed from the
    tenant meanwhile (the token is then used up).
    """
    if not isinstance(token, str) or not token or len(token) > _TOKEN_MAX_LENGTH:
        raise LoginTokenUnknown("this sign-in link is not valid")
    digest = token_hash(token)
    now = timezone.now()
    table = connection.ops.quote_name(LoginToken._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET used_at = %s "  # noqa: S608 - our own table name
            "WHERE token_hash = %s AND tenant_id = %s AND used_at IS NULL AND expires_at > %s "
            "RETURNING user_id, family",
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
    return TokenLogin(user=user, family=row[1])


def _refusal(*, digest: str, tenant: Tenant) -> LoginTokenRefused:
    issued = LoginToken.objects.filter(token_hash=digest).first()
    if issued is None:
        return LoginTokenUnknown("this sign-in link is not valid")
    if issued.tenant_id != tenant.pk:
        return LoginTokenWrongTenant(f"this sign-in link was issued for another workspace, not {tenant.name}")
    if issued.used_at is not None:
        return LoginTokenUsed("this sign-in link was used already; each link works once")
    return LoginTokenExpired(f"this sign-in link expired (links are valid for {login_token_seconds()} seconds)")


@dataclass(frozen=True)
class TenantChoice:
    """One of a user's tenants, as the tenant picker and switcher list them."""

    tenant: Tenant
    role: Role
    domain: str


def user_tenants(*, user: User) -> list[TenantChoice]:
    """The active tenants `user` is a member of, by name, with the role and primary domain of each.

    Tenants still provisioning, suspended or archived are left out: their hosts serve no pages.
    """
    from ..tenancy.models import Domain
    from ..tenancy.models import Tenant as TenantModel

    memberships = list(
        Membership.objects.filter(user=user, tenant__status=TenantModel.Status.ACTIVE)
        .select_related("tenant")
        .order_by("tenant__name")
    )
    domains: dict[int, str] = {}
    for domain in Domain.objects.filter(tenant_id__in=[m.tenant_id for m in memberships]).order_by("-is_primary", "pk"):
        domains.setdefault(domain.tenant_id, domain.domain)
    return [
        TenantChoice(tenant=m.tenant, role=Role(m.role), domain=domains[m.tenant_id])
        for m in memberships
        if m.tenant_id in domains
    ]


def login_family_new() -> str:
    """A new login family: 32 random hex characters."""
    return secrets.token_hex(16)


def login_family_end(*, family: str) -> int:
    """Delete every session of login `family` (accounts.sessions.FAMILY_KEY), on every host; return how many.

    One login on the public host and the tenant hosts it crossed to with login tokens share a family,
    so logging out on any of them logs the browser out of all of them. Other browsers' logins stay.
    """
    if not family:
        return 0
    deleted, _ = BrowserSession.objects.filter(family=family).delete()
    return deleted


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
