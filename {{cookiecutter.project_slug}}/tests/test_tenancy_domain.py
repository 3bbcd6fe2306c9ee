"""Slug, schema and domain rules: plain Python, no database."""

import pytest

from {{ cookiecutter.project_slug }}.tenancy.domain import (
    InvalidDomain,
    InvalidSlug,
    check_domain_has_dot,
    normalize_domain,
    schema_name_for,
    validate_slug,
)

RESERVED = ["public", "www", "admin", "api", "static", "media"]
PREFIXES = ["pg_", "pg-"]


@pytest.mark.parametrize("slug", ["ab", "acme", "acme-corp", "a1-b2-c3", "x" * 40])
def test_valid_slugs_are_accepted(slug):
    assert validate_slug(slug, reserved=RESERVED, reserved_prefixes=PREFIXES) == slug


@pytest.mark.parametrize(
    "slug",
    [
        "", "a", "x" * 41, "x" * 64, "Acme", "Acme!", "1acme", "-acme", "acme-", "ac--me", "ac_me", "acme corp",
        'a";drop schema public;--', "acmé", "\u0430cme",  # the last starts with a Cyrillic a
        "public", "www", "admin", "api", "static", "media", "pg-x", "pg_x",
    ],
)  # fmt: skip
def test_invalid_or_reserved_slugs_are_rejected_naming_the_value(slug):
    with pytest.raises(InvalidSlug) as excinfo:
        validate_slug(slug, reserved=RESERVED, reserved_prefixes=PREFIXES)
    assert repr(slug) in str(excinfo.value)


def test_slug_error_says_what_is_accepted():
    with pytest.raises(InvalidSlug, match="2-40 characters of lowercase letters"):
        validate_slug("Acme!", reserved=RESERVED, reserved_prefixes=PREFIXES)


def test_non_string_slug_is_rejected():
    with pytest.raises(InvalidSlug):
        validate_slug(None, reserved=RESERVED)


def test_schema_name_is_tenant_prefix_with_hyphens_as_underscores():
    assert schema_name_for("acme") == "tenant_acme"
    assert schema_name_for("acme-corp-2") == "tenant_acme_corp_2"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.example.com", "acme.example.com"),
        ("ACME.Example.COM", "acme.example.com"),
        ("acme.example.com.", "acme.example.com"),
        ("  acme.localhost ", "acme.localhost"),
        ("localhost", "localhost"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("Bücher.Example.", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_domains_are_normalised_to_lowercase_ascii(raw, expected):
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "", "   ", "acme..example.com", "-acme.example.com", "acme-.example.com", "acme_corp.example.com",
        "acme.example.com:8000", "http://acme.example.com", "acme.example.com/path", "a" * 64 + ".example.com",
        ".".join(["abcdefghij"] * 24), "127.0.0.1", "acme example.com", "acme;drop.example.com",
    ],
)  # fmt: skip
def test_malformed_domains_are_rejected_naming_the_value(raw):
    with pytest.raises(InvalidDomain) as excinfo:
        normalize_domain(raw)
    assert repr(raw) in str(excinfo.value)


def test_the_settings_reserve_the_slug_tenant_and_the_error_says_what_is_accepted(settings):
    with pytest.raises(InvalidSlug) as excinfo:
        validate_slug("tenant", reserved=settings.TENANCY_RESERVED_SLUGS, reserved_prefixes=PREFIXES)
    message = str(excinfo.value)
    assert "'tenant' is reserved" in message
    assert "2-40 characters of lowercase letters" in message  # what is accepted
    assert "public" in message and "tenant" in message.split("reserved slugs")[-1]


@pytest.mark.parametrize(
    ("domain", "base"),
    [("acme.example.com", "example.com"), ("acme.localhost", "localhost"), ("localhost", "localhost"),
     ("shop.example.org", "localhost")],
)  # fmt: skip
def test_a_domain_with_a_dot_or_the_dotless_base_domain_is_accepted(domain, base):
    assert check_domain_has_dot(domain, base_domain=base) == domain


@pytest.mark.parametrize(
    ("domain", "base"), [("intranet", "localhost"), ("acme", "example.com"), ("localhost", "example.com")]
)
def test_a_domain_without_a_dot_is_refused_naming_it_and_what_is_accepted(domain, base):
    with pytest.raises(InvalidDomain) as excinfo:
        check_domain_has_dot(domain, base_domain=base)
    assert f"{domain!r} has no dot" in str(excinfo.value)
    assert f"acme.{base}" in str(excinfo.value)
