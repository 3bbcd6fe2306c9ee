"""API keys: a member's credentials for scripts calling the tenant's REST API (`Authorization: Bearer <key>`).

A key looks like `ak_<12 hex characters: its public prefix>_<43 URL-safe characters of secret>` (256 bits of
randomness). Only the prefix and the SHA-256 of the whole key are stored; the key is shown once, when
created. A key belongs to one membership, so it works only on that tenant's hosts, acts as that user with
the role the membership has at each request, and stops working when revoked or when the membership is
removed (its keys are deleted with it). `last_used_at` is written at most once per LAST_USED_EVERY.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..audit.services import audit_record
from ..errors import DomainError, InvalidValue, NotFound, shown
from .models import ApiKey, Membership, User
from .services import NotAMember

if TYPE_CHECKING:
    from ..tenancy.models import Tenant

KEY_START = "ak_"
NAME_MAX = 100
LAST_USED_EVERY = timedelta(minutes=1)
_KEY_RE = re.compile(r"ak_(?P<prefix>[0-9a-f]{12})_[A-Za-z0-9_-]{43}")


class InvalidApiKeyName(InvalidValue):
    """An API key name that is empty, too long or holds control characters."""


class ApiKeyNotFound(NotFound):
    """No API key with this id belongs to the user in this tenant."""


class ApiKeyRefused(DomainError):
    """An API key was refused (malformed, unknown, revoked, another tenant's, or its user can no longer use it)."""


def api_key_hash(key: str) -> str:
    """SHA-256 (hex) of a whole API key: what the database stores instead of the key."""
    return hashlib.sha256(key.encode()).hexdigest()


def _name_check(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidApiKeyName(f"API key name {shown(name)} is empty; expected a short label such as 'nightly export'")
    value = name.strip()
    if len(value) > NAME_MAX or any(not char.isprintable() for char in value):
        raise InvalidApiKeyName(
            f"API key name {shown(name)} is not accepted; expected at most {NAME_MAX} printable characters"
        )
    return value


def api_key_create(*, user: User, tenant: Tenant, name: str) -> tuple[ApiKey, str]:
    """Create an API key named `name` for `user`'s membership of `tenant`; return (the ApiKey row, the key).

    The key (a str, `ak_` + 12 hex + `_` + 43 URL-safe characters) is returned this once and never stored:
    show it to the user now. `name`: 1-100 printable characters (stripped). Raises InvalidApiKeyName for a bad
    name, NotAMember when `user` has no membership in `tenant`.
    """
    label = _name_check(name)
    membership = Membership.objects.filter(user=user, tenant=tenant).first()
    if membership is None:
        raise NotAMember(f"{user.email} is not a member of tenant {tenant.slug!r}; no API key created")
    prefix = secrets.token_hex(6)
    key = f"{KEY_START}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        api_key = ApiKey.objects.create(membership=membership, name=label, prefix=prefix, key_hash=api_key_hash(key))
        audit_record(
            "api_key.create", actor=user, tenant=tenant, target=f"API key {label!r} of {user.email}",
            detail={"name": label, "prefix": prefix, "role": membership.role},
        )  # fmt: skip
    return api_key, key


def api_keys_list(*, user: User, tenant: Tenant) -> list[ApiKey]:
    """`user`'s API keys in `tenant`, newest first, revoked ones included (they show as revoked)."""
    return list(ApiKey.objects.filter(membership__user=user, membership__tenant=tenant))


def api_key_revoke(*, user: User, tenant: Tenant, key_id: int) -> ApiKey:
    """Revoke `user`'s API key `key_id` in `tenant` (it stops working at once); return it.

    Revoking a revoked key changes nothing. Raises ApiKeyNotFound when the user has no such key in the tenant.
    """
    api_key = ApiKey.objects.filter(pk=key_id, membership__user=user, membership__tenant=tenant).first()
    if api_key is None:
        raise ApiKeyNotFound(f"API key {key_id!r} does not exist; expected the id of one of your keys here")
    if api_key.revoked_at is None:
        with transaction.atomic():
            api_key.revoked_at = timezone.now()
            api_key.save(update_fields=["revoked_at"])
            audit_record(
                "api_key.revoke", actor=user, tenant=tenant, target=f"API key {api_key.name!r} of {user.email}",
                detail={"name": api_key.name, "prefix": api_key.prefix},
            )  # fmt: skip
    return api_key


def api_key_authenticate(*, key: str, tenant: Tenant, now: datetime | None = None) -> ApiKey:
    """Return the live ApiKey matching `key` on `tenant`'s host, its membership and user loaded.

    `now` (aware, default timezone.now()) is recorded as `last_used_at` when the last recorded use is at least
    LAST_USED_EVERY old, so a busy script causes one write a minute, not one a request. Raises ApiKeyRefused
    (its message says why) for a malformed or unknown key, a wrong secret, a revoked key, a key of another
    tenant, or a user who is inactive or no longer a member (removal deletes the keys).
    """
    match = _KEY_RE.fullmatch(key)
    if match is None:
        raise ApiKeyRefused("the API key is malformed; expected the full key shown when it was created (ak_...)")
    api_key = (
        ApiKey.objects.select_related("membership__user", "membership__tenant").filter(prefix=match["prefix"]).first()
    )
    if api_key is None or not hmac.compare_digest(api_key.key_hash, api_key_hash(key)):
        raise ApiKeyRefused("the API key is not valid")
    if api_key.revoked_at is not None:
        raise ApiKeyRefused(f"the API key {api_key.name!r} was revoked")
    if api_key.membership.tenant_id != tenant.pk:
        raise ApiKeyRefused("the API key belongs to another workspace; use it on that workspace's host")
    if not api_key.membership.user.is_active:
        raise ApiKeyRefused("the API key's user account is deactivated")
    moment = now or timezone.now()
    if api_key.last_used_at is None or moment - api_key.last_used_at >= LAST_USED_EVERY:
        # Conditional, so concurrent requests of one key still write once.
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=moment - LAST_USED_EVERY)
        ApiKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=moment)
        api_key.last_used_at = moment
    return api_key
