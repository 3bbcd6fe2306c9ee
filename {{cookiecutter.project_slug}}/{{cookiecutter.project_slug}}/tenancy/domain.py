"""Tenancy rules in plain Python: slugs, schema names and domain names.

No Django imports: services and commands call these before touching the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import idna

from ..errors import Conflict, InvalidValue

SLUG_MIN, SLUG_MAX = 2, 40
SCHEMA_PREFIX = "tenant_"
# 2-40 characters: lowercase letters, digits and single inner hyphens, starting with a letter.
_SLUG_RE = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*$")
# One DNS label after IDNA encoding (RFC 1035 section 2.3.4, RFC 5890): 1-63 of a-z, 0-9, hyphen, no edge hyphen.
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
DOMAIN_MAX = 253  # RFC 1035: 255 octets on the wire, 253 characters in text form.

SLUG_RULE = (
    f"{SLUG_MIN}-{SLUG_MAX} characters of lowercase letters, digits and single inner hyphens, starting with a letter"
)


class InvalidSlug(InvalidValue):
    """A tenant slug breaks the slug rule or is reserved."""


class InvalidDomain(InvalidValue):
    """A domain name is not a valid hostname."""


class TenantExists(Conflict):
    """A tenant with this slug (or schema) already exists."""


class DomainTaken(Conflict):
    """The domain already routes to a tenant."""


def validate_slug(slug: object, *, reserved: Iterable[str] = (), reserved_prefixes: Iterable[str] = ()) -> str:
    """Return `slug` when it is a valid tenant slug, else raise InvalidSlug naming it.

    A slug is 2-40 characters of lowercase letters, digits and single inner hyphens and starts
    with a letter (so it is also a DNS label, RFC 1035). `reserved` lists whole slugs that are
    refused (settings.TENANCY_RESERVED_SLUGS); `reserved_prefixes` lists refused prefixes
    (settings.TENANCY_RESERVED_SLUG_PREFIXES, `pg_` being PostgreSQL's own schema prefix).
    """
    if not isinstance(slug, str) or not slug:
        raise InvalidSlug(f"slug {slug!r} is empty; a slug is {SLUG_RULE}")
    if len(slug) < SLUG_MIN or len(slug) > SLUG_MAX:
        raise InvalidSlug(f"slug {slug!r} has {len(slug)} characters; a slug is {SLUG_RULE}")
    for prefix in reserved_prefixes:
        if slug.startswith(prefix):
            raise InvalidSlug(f"slug {slug!r} starts with the reserved prefix {prefix!r}; a slug is {SLUG_RULE}")
    if not _SLUG_RE.match(slug):
        raise InvalidSlug(f"slug {slug!r} is not allowed; a slug is {SLUG_RULE}")
    if slug in set(reserved):
        raise InvalidSlug(f"slug {slug!r} is reserved; reserved slugs: {', '.join(sorted(reserved))}")
    return slug


def schema_name_for(slug: str) -> str:
    """Return the schema of the tenant with `slug`: `tenant_<slug>` with hyphens as underscores."""
    return SCHEMA_PREFIX + slug.replace("-", "_")


def normalize_domain(domain: object) -> str:
    """Return `domain` as a lowercase ASCII hostname, or raise InvalidDomain naming it.

    Case and one trailing dot are normalised; internationalised names are converted to
    punycode (IDNA 2008 with UTS #46 mapping), e.g. `Bücher.Example.` -> `xn--bcher-kva.example`.
    Each label is 1-63 characters of a-z, 0-9 and inner hyphens; the whole name is at most 253.
    A port, a path, a scheme or an IP address is refused.
    """
    if not isinstance(domain, str) or not domain.strip():
        raise InvalidDomain(f"domain {domain!r} is empty; expected a hostname such as acme.example.com")
    text = domain.strip()
    if text.endswith("."):
        text = text[:-1]
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidDomain(
            f"domain {domain!r} is not a valid hostname ({exc}); expected e.g. acme.example.com"
        ) from exc
    labels = ascii_name.split(".")
    if len(ascii_name) > DOMAIN_MAX or not all(_LABEL_RE.match(label) for label in labels):
        raise InvalidDomain(
            f"domain {domain!r} is not a valid hostname; expected dot-separated labels of 1-63 letters, "
            f"digits and inner hyphens, at most {DOMAIN_MAX} characters"
        )
    if labels[-1].isdigit():
        raise InvalidDomain(f"domain {domain!r} looks like an IP address; expected a hostname")
    return ascii_name
