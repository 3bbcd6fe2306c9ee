"""One-time login tokens and login families: crossing from one host to another without a second login.

A token is issued on one host (sign-up, the tenant picker and switcher) and consumed once on its tenant's
host within settings.TENANCY_LOGIN_TOKEN_SECONDS (at most 60 s); only its SHA-256 is stored. Sessions one
login created share a login family, so logging out on any host ends all of them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection
from django.utils import timezone

from ..errors import DomainError
from .models import BrowserSession, LoginToken, User
from .selectors import membership_role
from .services import NotAMember

if TYPE_CHECKING:
    from ..tenancy.models import Tenant

# The rule: a login token is valid for at most 60 seconds, whatever the setting says.
LOGIN_TOKEN_MAX_SECONDS = 60


# Used and expired tokens are kept this long (so a replay is reported as "already used"), then
# removed the next time a token is issued to the same user.
LOGIN_TOKEN_KEEP = timedelta(days=1)


# token_urlsafe(32) gives 43 characters; anything much longer is not one of ours.
_TOKEN_MAX_LENGTH = 128


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
