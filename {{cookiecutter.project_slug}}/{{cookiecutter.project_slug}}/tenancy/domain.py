"""Tenancy rules in plain Python: slugs, schema names, domain names, display names, and the access a tenant's
subscription state allows.

No Django imports: services and commands call these before touching the database.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import idna

from ..errors import Conflict, Forbidden, InvalidValue, shown

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
    """A domain name is not a valid hostname, or spoofs one (look-alike or invisible characters)."""


class InvalidName(InvalidValue):
    """A display name (tenant, person) is empty, too long or has control or invisible characters."""


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
        raise InvalidSlug(f"slug {shown(slug)} is empty; a slug is {SLUG_RULE}")
    if len(slug) < SLUG_MIN or len(slug) > SLUG_MAX:
        raise InvalidSlug(f"slug {shown(slug)} has {len(slug)} characters; a slug is {SLUG_RULE}")
    for prefix in reserved_prefixes:
        if slug.startswith(prefix):
            raise InvalidSlug(f"slug {shown(slug)} starts with the reserved prefix {prefix!r}; a slug is {SLUG_RULE}")
    # fullmatch: `$` in match() would let a trailing newline through.
    if not _SLUG_RE.fullmatch(slug):
        raise InvalidSlug(f"slug {shown(slug)} is not allowed; a slug is {SLUG_RULE}")
    if slug in set(reserved):
        raise InvalidSlug(
            f"slug {shown(slug)} is reserved; accepted: {SLUG_RULE}, except the reserved slugs "
            f"{', '.join(sorted(reserved))}"
        )
    return slug


def schema_name_for(slug: str) -> str:
    """Return the schema of the tenant with `slug`: `tenant_<slug>` with hyphens as underscores."""
    return SCHEMA_PREFIX + slug.replace("-", "_")


def normalize_domain(domain: object) -> str:
    """Return `domain` as a lowercase ASCII hostname, or raise InvalidDomain naming it.

    Case and one trailing dot are normalised; internationalised names are converted to
    punycode (IDNA 2008 with UTS #46 mapping), e.g. `Bücher.Example.` -> `xn--bcher-kva.example`.
    Each label is 1-63 characters of a-z, 0-9 and inner hyphens; the whole name is at most 253.
    A port, a path, a scheme or an IP address is refused, and so are names that spoof another
    (`_spoofing_check`): invisible or compatibility characters (fullwidth letters), labels mixing
    Latin, Cyrillic and Greek letters (`apple` with a Cyrillic `a`, U+0430), and Cyrillic or Greek labels
    made only of letters that look Latin under an ASCII top-level domain (`pay.com` spelt in Cyrillic).
    """
    # A domain is named in full up to a little past the longest valid one.
    named = shown(domain, limit=DOMAIN_MAX + 47)
    if not isinstance(domain, str) or not domain.strip():
        raise InvalidDomain(f"domain {named} is empty; expected a hostname such as acme.example.com")
    text = domain.strip()
    if text.endswith("."):
        text = text[:-1]
    _characters_check(named, text)
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidDomain(f"domain {named} is not a valid hostname ({exc}); expected e.g. acme.example.com") from exc
    labels = ascii_name.split(".")
    if len(ascii_name) > DOMAIN_MAX or not all(_LABEL_RE.fullmatch(label) for label in labels):
        raise InvalidDomain(
            f"domain {named} is not a valid hostname; expected dot-separated labels of 1-63 letters, "
            f"digits and inner hyphens, at most {DOMAIN_MAX} characters"
        )
    if labels[-1].isdigit():
        raise InvalidDomain(f"domain {named} looks like an IP address; expected a hostname")
    _spoofing_check(named, labels)
    return ascii_name


# Characters that pass IDNA's mapping silently but make one name look like another: invisible ones
# (format, control, separators) and compatibility forms (fullwidth, circled, superscript, ...).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
# Scripts whose letters are confused with each other; a label may use one of them, not several.
_CONFUSABLE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
# Lowercase Cyrillic and Greek letters that look like Latin ones: a label made only of these under
# an ASCII top-level domain reads as a Latin name (`pay.com` spelt in Cyrillic).
_LATIN_LOOKALIKES = frozenset(
    # Cyrillic look-alikes of a e o p c y x s i j h l d q w n r b
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0455\u0456\u0458\u04bb\u04cf\u0501\u051b\u051d\u043f\u0433\u044c"
    # Greek look-alikes of a b e i k v o p t u x
    "\u03b1\u03b2\u03b5\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4\u03c5\u03c7"
)


def _characters_check(named: str, text: str) -> None:
    for char in text:
        if ord(char) < 128:
            continue
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES or unicodedata.decomposition(char).startswith("<"):
            name = unicodedata.name(char, "unnamed")
            raise InvalidDomain(
                f"domain {named} contains U+{ord(char):04X} ({name}), an invisible or look-alike "
                "character; expected the plain letters of the name"
            )


def _script(char: str) -> str | None:
    name = unicodedata.name(char, "")
    return next((script for script in _CONFUSABLE_SCRIPTS if name.startswith(script + " ")), None)


def _spoofing_check(named: str, labels: list[str]) -> None:
    ascii_tld = not labels[-1].startswith("xn--")
    for label in labels:
        if not label.startswith("xn--"):
            continue
        unicode_label = idna.decode(label)
        scripts = {script for char in unicode_label if (script := _script(char))}
        if len(scripts) > 1:
            raise InvalidDomain(
                f"domain {named} mixes {' and '.join(sorted(s.title() for s in scripts))} letters in "
                f"{unicode_label!r}, so it can pass for another name; expected one script per label"
            )
        letters = [char for char in unicode_label if char.isalpha()]
        if ascii_tld and scripts and scripts != {"LATIN"} and all(char in _LATIN_LOOKALIKES for char in letters):
            raise InvalidDomain(
                f"domain {named} has the label {unicode_label!r} made only of "
                f"{scripts.pop().title()} letters that look Latin, so it can pass for a Latin name"
            )


def check_domain_has_dot(domain: str, *, base_domain: str) -> str:
    """Return `domain` (normalised by normalize_domain) when it has a dot or is `base_domain` itself; else
    raise InvalidDomain naming it.

    A single label (`intranet`, `acme`) is no public hostname: it resolves through local search domains, if
    at all. The one exception is a dotless base domain such as `localhost`, the development suffix of
    settings.TENANCY_BASE_DOMAIN (tenant hosts `acme.localhost`, the public host `localhost`).
    """
    base = base_domain.strip().lower().rstrip(".")
    if "." not in domain and domain != base:
        allowed = f" (or {base!r} itself)" if "." not in base else ""
        raise InvalidDomain(f"domain {shown(domain)} has no dot; expected a full hostname such as acme.{base}{allowed}")
    return domain


def check_domain_not_reserved(
    domain: str, *, base_domain: str, reserved: Iterable[str] = (), reserved_prefixes: Iterable[str] = ()
) -> str:
    """Return the normalised `domain` unless it is a reserved name under `base_domain`, else raise InvalidDomain.

    `admin.<base>` or `x.www.<base>` would take a host the platform keeps for itself (the reserved slugs
    of settings.TENANCY_RESERVED_SLUGS), even when the tenant's own slug is fine.
    """
    suffix = "." + base_domain.strip().lower().rstrip(".")
    if domain.endswith(suffix):
        label = domain[: -len(suffix)].rsplit(".", 1)[-1]
        prefix = next((p for p in reserved_prefixes if label.startswith(p)), None)
        if label in set(reserved) or prefix is not None:
            raise InvalidDomain(
                f"domain {shown(domain)} uses the reserved name {label!r} under {suffix[1:]}; "
                f"reserved: {', '.join(sorted(reserved))} and names starting with {', '.join(reserved_prefixes)}"
            )
    return domain


# Control, format (bidi overrides, zero-width space), surrogate and line-separator characters make a
# name render differently from what it holds; zero-width (non-)joiners are part of some spellings.
_NAME_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NAME_JOINERS = frozenset({"\u200c", "\u200d"})


def normalize_display_name(name: object, *, max_length: int, what: str = "name") -> str:
    """Return `name` stripped of surrounding whitespace, or raise InvalidName naming it.

    A display name (a tenant's, a person's) is 1 to `max_length` characters with no control character
    (newline, tab, NUL, DEL, C1), no invisible formatting character (bidi overrides such as U+202E,
    zero-width space, BOM) and no lone surrogate (undecodable bytes in a command-line argument).
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidName(f"{what} {shown(name)} is empty; expected 1 to {max_length} characters")
    value = name.strip()
    if len(value) > max_length:
        raise InvalidName(
            f"{what} {shown(name)} has {len(value)} characters; at most {max_length} characters are accepted"
        )
    for char in value:
        if unicodedata.category(char) in _NAME_FORBIDDEN_CATEGORIES and char not in _NAME_JOINERS:
            raise InvalidName(
                f"{what} {shown(name)} contains the control or invisible character U+{ord(char):04X}; "
                "expected visible text"
            )
    return value


class TenantReadOnly(Forbidden):
    """The tenant is read-only: its payment is overdue past the grace period (tenancy.domain.access_for)."""

    code = "tenant_read_only"


class TenantSuspended(Forbidden):
    """The tenant is suspended by its subscription: canceled, and the paid period is over (access_for)."""

    code = "tenant_suspended"


class Access(StrEnum):
    """What a tenant's subscription allows: everything, reading only, or nothing (the suspended page)."""

    FULL = "full"
    READ_ONLY = "read_only"
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class BillingSnapshot:
    """The subscription state a tenant row carries (copied there by a database trigger on billing_subscription,
    billing migration 0001): status `trialing`, `active`, `past_due` or `canceled`; the aware datetimes
    the rules need (None when not applicable)."""

    status: str = "active"
    past_due_since: dt.datetime | None = None
    period_end: dt.datetime | None = None
    trial_end: dt.datetime | None = None

    def overdue_since(self, now: dt.datetime) -> dt.datetime | None:
        """Since when payment is overdue: `past_due_since` when past due, the trial's end for a trial that ended
        without payment; None when nothing is overdue."""
        if self.status == "past_due":
            return self.past_due_since or now
        if self.status == "trialing" and self.trial_end is not None and self.trial_end <= now:
            return self.trial_end
        return None


def access_for(snapshot: BillingSnapshot, *, now: dt.datetime, grace: dt.timedelta) -> Access:
    """The access a subscription state allows at `now` (aware datetime):

    - active, or trialing before the trial's end: FULL;
    - overdue (past_due, or a trial that ended unpaid) for less than `grace` (settings.BILLING_GRACE_DAYS):
      FULL, with a banner (billing_banner); for `grace` or longer: READ_ONLY (reads work, writes are refused);
    - canceled: FULL until the paid period ends, then SUSPENDED (no period end known: SUSPENDED at once).
    Paying again (status active) gives FULL at once. An unknown status counts as active.
    """
    if snapshot.status == "canceled":
        return Access.FULL if snapshot.period_end is not None and now < snapshot.period_end else Access.SUSPENDED
    overdue = snapshot.overdue_since(now)
    if overdue is None:
        return Access.FULL
    return Access.READ_ONLY if now - overdue >= grace else Access.FULL


def billing_banner(snapshot: BillingSnapshot, *, now: dt.datetime, grace: dt.timedelta) -> str | None:
    """The banner a tenant's pages show about its subscription, or None: overdue payment (with the date the
    tenant becomes read-only, or that it is), or a canceled subscription ending on a date."""
    overdue = snapshot.overdue_since(now)
    if overdue is not None:
        read_only_at = overdue + grace
        if now >= read_only_at:
            return "Payment is overdue: this workspace is read-only until the subscription is paid."
        return f"Payment is overdue: this workspace becomes read-only on {read_only_at:%Y-%m-%d %H:%M} UTC."
    if snapshot.status == "canceled" and snapshot.period_end is not None and now < snapshot.period_end:
        return f"The subscription is canceled: this workspace is suspended on {snapshot.period_end:%Y-%m-%d %H:%M} UTC."
    return None
