"""Customer rules in plain Python: names, emails (unique per tenant, ignoring case) and phone numbers.

Each error carries `field`, the input it refers to, so forms can show it next to that input.
"""

from __future__ import annotations

import re

from ..accounts.domain import normalize_email as address_normalize
from ..errors import Conflict, InvalidValue, NotFound, shown

NAME_MAX = 200
EMAIL_MAX = 254  # RFC 5321 path limit.
PHONE_MAX = 32
# Digits with the usual separators, optionally starting with + (E.164 or a local notation).
_PHONE_RE = re.compile(r"^\+?[0-9 ()./-]+$")


class InvalidName(InvalidValue):
    """A customer name is empty or too long."""

    field = "name"


class InvalidEmail(InvalidValue):
    """An email address is malformed."""

    field = "email"


class InvalidPhone(InvalidValue):
    """A phone number has characters other than digits, spaces, + ( ) . / -, or is too long."""

    field = "phone"


class DuplicateEmail(Conflict):
    """Another customer of this tenant has the email address (ignoring case)."""

    field = "email"


class CustomerNotFound(NotFound):
    """No customer with that id in the current tenant."""


def normalize_name(name: object) -> str:
    """Return `name` with surrounding whitespace removed; raise InvalidName when empty or over 200 characters."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidName(f"name {name!r} is empty; expected 1 to {NAME_MAX} characters")
    value = name.strip()
    if len(value) > NAME_MAX:
        raise InvalidName(f"name {value[:20]!r}... has {len(value)} characters; expected 1 to {NAME_MAX}")
    return value


def normalize_email(email: object) -> str:
    """Return `email` stripped and lowercased (customers' emails compare case-insensitively), or raise InvalidEmail.

    The address rule is the accounts' one (accounts.domain.normalize_email: an ASCII local part, a hostname
    with a dot, internationalised domains as punycode).
    """
    try:
        value = address_normalize(email)
    except InvalidValue:
        value = ""
    if "." not in value.rpartition("@")[2]:
        raise InvalidEmail(f"email {shown(email)} is not a valid address; expected an address such as jane@example.com")
    return value


def normalize_phone(phone: object) -> str:
    """Return `phone` stripped ("" when none was given); raise InvalidPhone for other characters or over 32."""
    if phone is None:
        return ""
    if not isinstance(phone, str):
        raise InvalidPhone(f"phone {phone!r} is not text; expected digits such as +44 20 7946 0000")
    value = phone.strip()
    if value and (len(value) > PHONE_MAX or not _PHONE_RE.match(value) or not any(c.isdigit() for c in value)):
        raise InvalidPhone(
            f"phone {phone!r} is not valid; expected up to {PHONE_MAX} digits, spaces and + ( ) . / -, "
            "such as +44 20 7946 0000"
        )
    return value
