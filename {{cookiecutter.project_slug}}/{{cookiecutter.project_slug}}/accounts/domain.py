"""Account rules in plain Python: emails and membership roles."""

from __future__ import annotations

import re
from enum import StrEnum

from ..errors import DomainError, InvalidValue

EMAIL_MAX = 254  # RFC 5321 path limit.
# Deliberately simple: one @, a non-empty local part without spaces, a dotted or `localhost` domain.
_EMAIL_RE = re.compile(r"^[^@\s]+@(?:localhost|[^@\s.]+(?:\.[^@\s.]+)+)$")


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
    """Return `email` stripped and lowercased (emails are compared case-insensitively), or raise InvalidEmail."""
    if not isinstance(email, str) or not email.strip():
        raise InvalidEmail(f"email {email!r} is empty; expected an address such as owner@example.com")
    value = email.strip().lower()
    if len(value) > EMAIL_MAX or not _EMAIL_RE.match(value):
        raise InvalidEmail(f"email {email!r} is not a valid address; expected an address such as owner@example.com")
    return value


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
