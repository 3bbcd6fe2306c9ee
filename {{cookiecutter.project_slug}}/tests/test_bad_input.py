"""Bad input at every door: create_tenant, drop_schema, sign-up, invitations and the API (when the project has it).

Each bad value is refused with an error naming it (commands exit 2, sign-up re-renders the form
with the error next to its field, the members page answers 400, the API 400 with a field error),
and nothing is created: no tenant row, schema, domain, user, membership, invitation, login token
or API row. Well-formed internationalised domains are accepted and stored as punycode.

Commands run in-process (a CommandError's returncode is the exit code, tenancy/management/base.py);
two real processes prove the exit code 2 and the message on stderr.
"""

from __future__ import annotations

import io
{%- if cookiecutter.use_drf == "y" %}
import json
{%- endif %}
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context{% if cookiecutter.use_drf == "y" %}, tenant_context{% endif %}

from {{ cookiecutter.project_slug }}.accounts.invitations import invitation_create
from {{ cookiecutter.project_slug }}.accounts.models import Invitation, LoginToken, Membership, User
{%- if cookiecutter.use_drf == "y" %}
from {{ cookiecutter.project_slug }}.bookings.models import Booking
from {{ cookiecutter.project_slug }}.customers.models import Customer
from {{ cookiecutter.project_slug }}.products.models import Product
{%- endif %}
from {{ cookiecutter.project_slug }}.tenancy.models import Domain, Tenant

from conftest import client_on, test_database_url

pytestmark = pytest.mark.django_db
PROJECT_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "violet-harbour-lantern-42"
SQL = "a'; drop schema public;--"

# --- the bad values, by kind -----------------------------------------------------------------------------

BAD_SLUGS = {
    "empty": "",
    "one character": "a",
    "too long": "x" * 41,
    "uppercase": "Acme",
    "cyrillic a": "\u0430cme",
    "fullwidth": "\uff41\uff43\uff4d\uff45",
    "accented": "acm\u00e9",
    "zero-width space": "ac\u200bme",
    "sql": SQL,
    "trailing newline": "acme\n",
    "leading hyphen": "-acme",
    "trailing hyphen": "acme-",
    "double hyphen": "a--b",
    "leading digit": "1acme",
    "underscore": "acme_corp",
    "dot": "acme.corp",
    "reserved public": "public",
    "reserved www": "www",
    "reserved admin": "admin",
    "reserved api": "api",
    "reserved pg_ prefix": "pg_catalog",
    "reserved pg- prefix": "pg-toast",
}
BAD_DOMAINS = {
    "empty": "",
    "blank": "   ",
    "leading hyphen": "-a.com",
    "empty label": "a..b",
    "underscore": "a_b.com",
    "label over 63": "x" * 64 + ".com",
    "name over 253": ".".join(["a" * 63] * 4) + ".com",
    "space": "a b.com",
    "port": "acme.com:8000",
    "scheme": "http://acme.com",
    "path": "acme.com/admin",
    "ip address": "127.0.0.1",
    "wildcard": "*.acme.com",
    "sql": SQL,
    "fullwidth": "\uff41cme.com",
    "mixed cyrillic": "\u0430pple.com",
    "mixed cyrillic as punycode": "xn--pple-43d.com",
    "all-cyrillic look-alike": "\u0440\u0430\u0443.com",
    "zero-width space": "a\u200b.com",
    "bad punycode": "xn--abc.com",
    "reserved subdomain": "admin.localhost",
}
BAD_EMAILS = {
    "empty": "",
    "no at": "nobody",
    "two ats": "a@@example.com",
    "space": "a b@example.com",
    "empty domain label": "a@example..com",
    "no dot in domain": "user@nodot",
    "too long": "x" * 250 + "@example.com",
    "sql in local part": "a';drop-schema-public;--@example.com",
    "sql after domain": "a@example.com';--",
    "cyrillic local part": "\u0430dmin@example.com",
    "fullwidth local part": "\uff41@example.com",
    "hyphen-led domain": "a@-b.com",
    "underscore domain": "a@b_c.com",
    "leading dot": ".a@example.com",
    "double dot": "a..b@example.com",
    "angle brackets": "<a@example.com>",
    "ip literal": "a@[127.0.0.1]",
    "mixed-script domain": "a@\u0430pple.com",
}
BAD_NAMES = {
    "empty": "",
    "blank": "   ",
    "too long": "x" * 101,
    "newline": "Acme\nInc",
    "tab": "Acme\tInc",
    "delete": "Acme\x7f",
    "c1 control": "Ac\x85me",
    "right-to-left override": "Acme\u202eInc",
    "zero-width only": "\u200b",
    "byte order mark": "\ufeffAcme",
    "line separator": "Acme\u2028Inc",
}
# Only reachable from the command line: a browser cannot send these in a form.
BAD_NAMES_COMMAND_LINE = {"nul": "Acme\x00", "undecodable byte": "Acme\udcff"}
BAD_ROLES = {"empty": "", "unknown": "superuser", "uppercase": "OWNER", "sql": "owner'; --"}


def named(value: str) -> str:
    """How an error names `value`: its repr, or the start of it for a long value."""
    return repr(value) if len(value) <= 40 else repr(value[:20])[:-1]


def cases(values: dict[str, str]) -> list:
    return [pytest.param(value, id=label) for label, value in values.items()]


# --- what must not change --------------------------------------------------------------------------------


def public_state() -> dict[str, object]:
    """Everything the tenant, account and invitation doors create, read in the public schema."""
    with schema_context("public"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT nspname FROM pg_namespace ORDER BY nspname")
            schemas = [row[0] for row in cursor.fetchall()]
        return {
            "tenants": list(Tenant.objects.order_by("pk").values_list("slug", "name", "schema_name")),
            "domains": list(Domain.objects.order_by("pk").values_list("domain", "tenant_id")),
            "users": User.objects.count(),
            "memberships": Membership.objects.count(),
            "invitations": Invitation.objects.count(),
            "login tokens": LoginToken.objects.count(),
            "schemas": schemas,
        }


@pytest.fixture
def unchanged():
    """Assert, after the test body, that nothing was created anywhere."""
    before = public_state()
    mail.outbox.clear()
    yield
    assert public_state() == before
    assert not mail.outbox


def command(*args: str) -> CommandError:
    """Run a command in-process, expecting it to refuse; return its error."""
    with pytest.raises(CommandError) as excinfo:
        call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
    return excinfo.value


def create_tenant(**overrides: str) -> CommandError:
    options = {"name": "Initech", "slug": "initech", **overrides}
    args = [f"--{key.replace('_', '-')}={value}" for key, value in options.items()]
    return command("create_tenant", *args, "--noinput")


def assert_refused(error: CommandError, value: str) -> None:
    assert error.returncode == 2, error
    assert named(value) in str(error)


# --- create_tenant and drop_schema ------------------------------------------------------------------------


@pytest.mark.parametrize("slug", cases(BAD_SLUGS))
def test_create_tenant_refuses_bad_slug(slug, unchanged):
    assert_refused(create_tenant(slug=slug), slug)


@pytest.mark.parametrize("domain", cases(BAD_DOMAINS))
def test_create_tenant_refuses_bad_domain(domain, unchanged):
    assert_refused(create_tenant(domain=domain), domain)


@pytest.mark.parametrize("email", cases(BAD_EMAILS))
def test_create_tenant_refuses_bad_owner_email(email, unchanged):
    assert_refused(create_tenant(owner_email=email), email)


@pytest.mark.parametrize("name", cases({**BAD_NAMES, **BAD_NAMES_COMMAND_LINE}))
def test_create_tenant_refuses_bad_name(name, unchanged):
    assert_refused(create_tenant(name=name), name)


@pytest.mark.parametrize(
    "slug", cases({key: BAD_SLUGS[key] for key in ("empty", "uppercase", "cyrillic a", "sql", "too long",
                                                    "reserved pg_ prefix", "trailing newline", "reserved public")}),
)  # fmt: skip
def test_drop_schema_refuses_bad_slug_and_drops_nothing(slug, unchanged):
    assert_refused(command("drop_schema", f"--tenant={slug}", "--force", "--no-backup"), slug)


@pytest.mark.parametrize(
    ("domain", "stored"),
    [("b\u00fccher.example", "xn--bcher-kva.example"), ("M\u00fcnchen.Example.", "xn--mnchen-3ya.example")],
)
def test_create_tenant_stores_an_internationalised_domain_as_punycode(domain, stored):
    out = io.StringIO()
    call_command("create_tenant", "--name=B\u00fccher", "--slug=buecher", f"--domain={domain}", "--noinput", stdout=out)
    with schema_context("public"):
        assert Domain.objects.get(tenant__slug="buecher").domain == stored
    assert stored in out.getvalue()


@pytest.fixture(scope="module", autouse=True)
def bad_slug_process(django_db_setup, django_db_blocker):
    """`manage.py create_tenant` with a bad slug in a real process, started when this module starts so that it
    runs alongside the in-process tests; test_bad_slug_exits_2_naming_it_as_a_real_process waits for it."""
    with django_db_blocker.unblock():
        env = {**os.environ, "DATABASE_URL": test_database_url(), "DJANGO_SETTINGS_MODULE": "config.settings.test"}
        before = public_state()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "create_tenant", "--name=Initech", f"--slug={SQL}", "--noinput"],
        cwd=PROJECT_DIR, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    yield process, before
    if process.poll() is None:
        process.kill()
    process.communicate()


# --- sign-up ---------------------------------------------------------------------------------------------

SIGNUP = {"company_name": "Initech", "slug": "initech", "email": "boss@initech.example", "password": PASSWORD}
SIGNUP_FIELDS = list(SIGNUP)


def signup_errors(**overrides: str) -> dict[str, str]:
    """POST the sign-up form; return the text of each field's error container (the page re-renders: 200)."""
    response = Client(HTTP_HOST="localhost").post("/signup/", {**SIGNUP, **overrides})
    assert response.status_code == 200, response.get("Location")
    page = response.content.decode()
    errors = {}
    for field in SIGNUP_FIELDS:
        match = re.search(rf'data-testid="errors-{field}">(.*?)</div>', page, re.S)
        assert match, f"no error container for {field}"
        errors[field] = " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())
    return errors


def assert_signup_field_error(field: str, value: str) -> None:
    errors = signup_errors(**{field: value})
    if value.strip():
        assert named(value) in errors[field]
    else:  # Django's own "This field is required." for a value that is empty once stripped
        assert errors[field]
    assert all(not text for other, text in errors.items() if other != field), errors


@pytest.mark.parametrize("slug", cases(BAD_SLUGS))
def test_signup_refuses_bad_slug(slug, unchanged):
    assert_signup_field_error("slug", slug)


@pytest.mark.parametrize("email", cases(BAD_EMAILS))
def test_signup_refuses_bad_email(email, unchanged):
    assert_signup_field_error("email", email)


@pytest.mark.parametrize("name", cases(BAD_NAMES))
def test_signup_refuses_bad_company_name(name, unchanged):
    assert_signup_field_error("company_name", name)


# --- invitations (members page on a tenant host) ---------------------------------------------------------


def invite(client: Client, email: str, role: str = "member") -> str:
    response = client.post("/members/", {"email": email, "role": role})
    assert response.status_code == 400
    assert b'data-testid="invite-form"' in response.content
    return unescape(response.content.decode())


@pytest.mark.parametrize("email", cases(BAD_EMAILS))
def test_invitation_refuses_bad_email(email, tenant, client_for, owner_user, unchanged):
    page = invite(client_for(tenant, owner_user), email)
    assert named(email) in page if email.strip() else "This field is required" in page


@pytest.mark.parametrize("role", cases(BAD_ROLES))
def test_invitation_refuses_bad_role(role, tenant, client_for, owner_user, unchanged):
    page = invite(client_for(tenant, owner_user), "new.person@example.com", role)
    assert named(role) in page if role else "This field is required" in page


@pytest.mark.parametrize(
    "name", cases({key: BAD_NAMES[key] for key in ("newline", "right-to-left override", "zero-width only")}
                  | {"too long": "x" * 151}),
)  # fmt: skip
def test_accepting_an_invitation_refuses_a_bad_name(name, tenant, owner_user):
    _invitation, token = invitation_create(
        tenant=tenant, email="new.person@example.com", role="member", invited_by=owner_user
    )
    before = public_state()
    response = client_on(tenant).post(f"/invitations/{token}/", {"name": name, "password": PASSWORD})
    assert response.status_code == 400
    assert named(name) in unescape(response.content.decode())
    assert public_state() == before
    with schema_context("public"):
        assert Invitation.objects.get(email="new.person@example.com").accepted_at is None
{%- if cookiecutter.use_drf == "y" %}


# --- the API ---------------------------------------------------------------------------------------------

# (path, payload, field holding the error, text naming the value)
GOOD = {
    "/api/products/": {"name": "Widget", "sku": "WID-1", "price": "9.90"},
    "/api/customers/": {"name": "Jane", "email": "jane.bad-input@example.com"},
    "/api/bookings/": {"start": "2031-01-01T10:00Z", "end": "2031-01-01T11:00Z"},
}
BAD_PAYLOADS = {
    "product name empty": ("/api/products/", {"name": ""}, "name", "''"),
    "product name too long": ("/api/products/", {"name": "n" * 201}, "name", "'nnnnnnnnnnnnnnnnnnnn"),
    "product name nul": ("/api/products/", {"name": "a\x00b"}, "name", "'a\\x00b'"),
    "sku sql": ("/api/products/", {"sku": "A'; DROP SCHEMA public;--"}, "sku", "A'; DROP SCHEMA public;--"),
    "sku cyrillic": ("/api/products/", {"sku": "\u0410\u0412\u0421"}, "sku", "\u0410\u0412\u0421"),
    "sku fullwidth": ("/api/products/", {"sku": "\uff21\uff22\uff23"}, "sku", "\uff21\uff22\uff23"),
    "sku too long": ("/api/products/", {"sku": "S" * 33}, "sku", "S" * 33),
    "price negative": ("/api/products/", {"price": "-5"}, "price", "-5"),
    "price not a number": ("/api/products/", {"price": "NaN"}, "price", "'NaN'"),
    "price three decimals": ("/api/products/", {"price": "1.001"}, "price", "1.001"),
    "price huge": ("/api/products/", {"price": "1e400"}, "price", "'1e400'"),
    "stock negative": ("/api/products/", {"stock": -1}, "stock", "-1"),
    "stock over the column": ("/api/products/", {"stock": 10**12}, "stock", str(10**12)),
    "stock sql": ("/api/products/", {"stock": "1; DROP TABLE products_product"}, "stock", "'1; DROP TABLE"),
    "category id over the column": ("/api/products/", {"category_id": 10**20}, "category_id", str(10**20)),
    "active not a boolean": ("/api/products/", {"active": "maybe"}, "active", "'maybe'"),
    "customer email sql": ("/api/customers/", {"email": "a@example.com';--"}, "email", "a@example.com';--"),
    "customer email cyrillic": ("/api/customers/", {"email": "\u0430dmin@example.com"}, "email", "\u0430dmin"),
    "customer email no domain": ("/api/customers/", {"email": "jane@"}, "email", "'jane@'"),
    "customer phone words": ("/api/customers/", {"phone": "call me"}, "phone", "'call me'"),
    "customer name blank": ("/api/customers/", {"name": "  "}, "name", "'  '"),
    "booking product id huge": ("/api/bookings/", {"product_id": 10**20}, "product_id", str(10**20)),
    "booking product id negative": ("/api/bookings/", {"product_id": -1}, "product_id", "-1"),
    "booking customer id sql": ("/api/bookings/", {"customer_id": "1; drop"}, "customer_id", "'1; drop'"),
    "booking start not a date": ("/api/bookings/", {"start": "yesterday"}, "start", "'yesterday'"),
    "booking end before start": ("/api/bookings/", {"end": "2031-01-01T09:00Z"}, "detail", "2031-01-01 09:00"),
}
BAD_BODIES = {
    "list": ("/api/products/", [1, 2], "[1, 2]"),
    "string": ("/api/customers/", "DROP SCHEMA public", "'DROP SCHEMA public'"),
}


@pytest.fixture
def api_client(tenant, client_for, owner_user):
    return client_for(tenant, owner_user)


@pytest.fixture
def api_rows(tenant):
    def counts():
        with tenant_context(tenant):
            return Product.objects.count(), Customer.objects.count(), Booking.objects.count()

    return counts


@pytest.fixture
def booking_refs(tenant):
    with tenant_context(tenant):
        return {"product_id": Product.objects.values_list("pk", flat=True).first(),
                "customer_id": Customer.objects.values_list("pk", flat=True).first()}  # fmt: skip


@pytest.mark.parametrize(("path", "payload", "field", "needle"), [
    pytest.param(*case, id=label) for label, case in BAD_PAYLOADS.items()
])  # fmt: skip
def test_api_refuses_bad_payload_with_a_field_error(
    path, payload, field, needle, api_client, api_rows, booking_refs, unchanged
):
    body = {**GOOD[path], **(booking_refs if path == "/api/bookings/" else {}), **payload}
    before = api_rows()
    response = api_client.post(path, json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    errors = response.json()[field]
    assert needle in (errors if isinstance(errors, str) else " ".join(errors))
    assert api_rows() == before


@pytest.mark.parametrize(("path", "body", "needle"), [
    pytest.param(*case, id=label) for label, case in BAD_BODIES.items()
])  # fmt: skip
def test_api_refuses_a_body_that_is_not_an_object(path, body, needle, api_client, api_rows, unchanged):
    before = api_rows()
    response = api_client.post(path, json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert needle in " ".join(response.json()["non_field_errors"])
    assert api_rows() == before


def test_api_good_payloads_are_accepted(api_client, api_rows, booking_refs):
    """The baseline the bad payloads vary: each is created (so a refusal above is the bad value's doing)."""
    before = api_rows()
    for path, body in GOOD.items():
        payload = {**body, **(booking_refs if path == "/api/bookings/" else {})}
        response = api_client.post(path, json.dumps(payload), content_type="application/json")
        assert response.status_code == 201, response.content
    assert api_rows() == tuple(count + 1 for count in before)
{%- endif %}


# --- the count required ---------------------------------------------------------------------------------


def test_at_least_30_distinct_bad_values_and_5_of_each_kind():
    kinds = {
        "slugs": set(BAD_SLUGS.values()),
        "domains": set(BAD_DOMAINS.values()),
        "emails": set(BAD_EMAILS.values()),
        "names": set(BAD_NAMES.values()) | set(BAD_NAMES_COMMAND_LINE.values()),
{%- if cookiecutter.use_drf == "y" %}
        "api payloads": {json.dumps(case[1]) for case in BAD_PAYLOADS.values()}
        | {json.dumps(case[1]) for case in BAD_BODIES.values()},
{%- endif %}
    }
    assert all(len(values) >= 5 for values in kinds.values()), {kind: len(v) for kind, v in kinds.items()}
    assert len(set().union(*kinds.values())) >= 30


def test_bad_slug_exits_2_naming_it_as_a_real_process(bad_slug_process):
    process, before = bad_slug_process
    _out, err = process.communicate(timeout=120)
    assert process.returncode == 2, err
    assert named(SQL) in err
    assert public_state() == before
