"""Account rules in plain Python: emails and membership roles."""

from __future__ import annotations

import re
from enum import StrEnum

from ..errors import DomainError, InvalidValue, shown
from ..tenancy.domain import InvalidDomain, normalize_domain

EMAIL_MAX = 254  # RFC 5321 path limit.
LOCAL_PART_MAX = 64  # RFC 5321 section 4.5.3.1.1.
# The local part is an RFC 5322 dot-atom: ASCII letters, digits and !#$%&'*+/=?^_`{|}~- in dot-separated
# runs (no quoted strings, no non-ASCII look-alikes); the domain is a hostname (tenancy.domain.normalize_domain).
_LOCAL_PART_RE = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


class Role(StrEnum):
    """A member's role in one tenant; owners and admins manage the tenant, members use it."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


MANAGING_ROLES = frozenset({Role.OWNER, Role.ADMIN})


class InvalidEmail(InvalidValue):
    """An email address is malformed."""


class InvalidRole(InvalidValue):
    """A role that does not exist."""


def normalize_email(email: object) -> str:
    """Return `email` stripped and lowercased (emails are compared case-insensitively), or raise InvalidEmail.

    The local part is an ASCII dot-atom of at most 64 characters (no spaces, quotes, `;`, `<`, or letters
    from other scripts that look Latin); the domain is a hostname with a dot, or `localhost`, checked like
    tenant domains: an internationalised domain is stored as punycode (`jo@bücher.example` ->
    `jo@xn--bcher-kva.example`), an IP address or a malformed name is refused.
    """
    if not isinstance(email, str) or not email.strip():
        raise InvalidEmail(f"email {shown(email)} is empty; expected an address such as owner@example.com")
    invalid = InvalidEmail(
        f"email {shown(email)} is not a valid address; expected an address such as owner@example.com"
    )
    value = email.strip()
    if len(value) > EMAIL_MAX or any(char.isspace() for char in value):
        raise invalid
    local, at, domain = value.rpartition("@")
    local = local.lower()
    if not at or len(local) > LOCAL_PART_MAX or not _LOCAL_PART_RE.fullmatch(local):
        raise invalid
    try:
        host = normalize_domain(domain)
    except InvalidDomain:
        raise invalid from None
    if "." not in host and host != "localhost":
        raise invalid
    address = f"{local}@{host}"
    if len(address) > EMAIL_MAX:
        raise invalid
    return address


def parse_role(role: object) -> Role:
    """Return the Role named `role`, or raise InvalidRole listing the accepted roles."""
    try:
        return Role(str(role))
    except ValueError:
        raise InvalidRole(f"role {role!r} does not exist; accepted: {', '.join(r.value for r in Role)}") from None


class NotAllowed(DomainError):
    """The acting member's role does not allow the change."""


def role_change_check(*, actor: Role | None, current: Role | None, new: Role | None) -> None:
    """Raise NotAllowed unless a member with role `actor` may move someone from `current` to `new`.

    `current` None means inviting someone new; `new` None means removing the member. Owners may do
    anything; admins manage admins and members but never grant, change or remove the owner role;
    members manage nobody. (The last-owner rule is checked by the services, against the database.)
    """
    if actor == Role.OWNER:
        return
    if actor != Role.ADMIN:
        raise NotAllowed("only owners and admins manage members")
    if Role.OWNER in (current, new):
        raise NotAllowed("only owners grant, change or remove the owner role")
