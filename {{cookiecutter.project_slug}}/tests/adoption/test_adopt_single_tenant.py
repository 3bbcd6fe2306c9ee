"""adopt_single_tenant on a legacy single-tenant database (tests/adoption/conftest.py builds it).

One adoption per module is inspected from every side (host pages{% if cookiecutter.use_drf == "y" %}, API{% endif %}, foreign keys, public schema, migrations,
login); dry run, refusals and an injected failure each check that the database did not change at all.
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from .conftest import PASSWORDS, conninfo, database_state, legacy_copy, on_database

HOST = "legacy.localhost"
LEGACY_PRODUCTS = {"LEG-ANVIL": "Legacy anvil", "LEG-KITE": "Legacy kite", "LEG-ROPE": "Legacy rope"}
LEGACY_CUSTOMERS = {"Legacy Wile", "Legacy Road"}


def adopt(*args: str) -> str:
    """Run adopt_single_tenant in this process (on the database on_database chose); return its output."""
    out = io.StringIO()
    call_command("adopt_single_tenant", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@dataclass
class Adopted:
    name: str
    output: str


@pytest.fixture(scope="module")
def adopted(
    legacy_template: str, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Adopted]:
    """A legacy database adopted as tenant `legacy` (domain legacy.localhost, owner carol), with a backup."""
    from django.test import override_settings

    backups = tmp_path_factory.mktemp("adoption-backups")
    with legacy_copy(legacy_template) as name, django_db_blocker.unblock(), on_database(name):
        with override_settings(TENANCY_BACKUP_DIR=str(backups)):
            output = adopt(
                "--name", "Legacy Co", "--slug", "legacy", "--domain", HOST, "--owner-email", "CAROL@example.com"
            )
        yield Adopted(name, output)


@pytest.fixture
def on_adopted(adopted: Adopted, django_db_blocker: Any) -> Iterator[Adopted]:
    with django_db_blocker.unblock(), on_database(adopted.name):
        yield adopted


def logged_in(email: str, password: str) -> Client:
    client = Client(HTTP_HOST=HOST)
    response = client.post("/accounts/login/", {"login": email, "password": password})
    assert response.status_code == 302, response.content[:400]
    return client


def test_adopted_rows_are_served_on_the_tenant_host(on_adopted: Adopted) -> None:
    client = logged_in("carol@example.com", PASSWORDS["carol"])

    products = client.get("/products/").content.decode()
    customers = client.get("/customers/").content.decode()
    bookings = client.get("/bookings/").content.decode()

    assert all(name in products for name in LEGACY_PRODUCTS.values())
    assert all(name in customers for name in LEGACY_CUSTOMERS)
    assert bookings.count("Legacy anvil") >= 1 and "Legacy kite" in bookings
{%- if cookiecutter.use_drf == "y" %}


def test_adopted_rows_are_served_by_the_api(on_adopted: Adopted) -> None:
    client = logged_in("carol@example.com", PASSWORDS["carol"])

    products = client.get("/api/products/").json()["results"]
    customers = client.get("/api/customers/").json()["results"]
    bookings = client.get("/api/bookings/").json()["results"]

    assert {row["sku"]: row["name"] for row in products} == LEGACY_PRODUCTS
    assert {row["name"] for row in customers} == LEGACY_CUSTOMERS
    assert sorted((row["id"], row["created_by"]) for row in bookings) == [
        (1, "ann@example.com"),
        (2, None),
        (3, "carol@example.com"),
    ]
{%- endif %}


def test_adoption_is_one_audit_event_from_its_command(on_adopted: Adopted) -> None:
    import getpass

    # Imported where used, as the other tests here do: the models are read on the adopted database.
    from {{ cookiecutter.project_slug }}.audit.models import AuditEvent

    [event] = AuditEvent.objects.filter(action="tenant.adopt")
    assert (event.schema_name, event.origin) == ("tenant_legacy", "cli:adopt_single_tenant")
    assert event.os_user == getpass.getuser()
    assert event.detail["legacy_users_table"] == "auth_user" and event.detail["archive_schema"] == "legacy_legacy"
    assert event.detail["backup"] and event.detail["backup"].endswith(".dump")


def test_user_columns_point_at_the_imported_accounts(on_adopted: Adopted) -> None:
    from django_tenants.utils import tenant_context

    from {{ cookiecutter.project_slug }}.bookings.models import Booking
    from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

    with tenant_context(Tenant.objects.get(slug="legacy")):
        taken_by = dict(Booking.objects.values_list("pk", "created_by__email"))

    # Legacy user 1 (ann@example.com) was merged into the account of user 2 (Ann@Example.COM); bob had no email.
    assert taken_by == {1: "ann@example.com", 2: None, 3: "carol@example.com"}


def test_references_to_users_keep_no_foreign_key_as_in_every_tenant_schema(on_adopted: Adopted) -> None:
    """The ids were repointed (test above); like a schema built by migrations (bookings 0004), the adopted one has
    no foreign key to the public user table, which would add triggers to that table for each tenant."""
    with psycopg.connect(conninfo(on_adopted.name)) as db:
        references = db.execute(
            "SELECT k.conrelid::regclass::text, k.conname FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'tenant_legacy' AND k.contype = 'f' AND k.confrelid = 'public.accounts_user'::regclass"
        ).fetchall()
        legacy_keys = db.execute(
            "SELECT count(*) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'tenant_legacy' AND k.contype = 'f'"
        ).fetchone()

    assert references == []
    assert legacy_keys is not None and legacy_keys[0] > 0  # the keys inside the schema are there


def test_duplicate_emails_become_one_account_and_the_merge_is_reported(on_adopted: Adopted) -> None:
    from {{ cookiecutter.project_slug }}.accounts.models import Membership, User

    accounts = dict(User.objects.values_list("email", "name"))
    roles = dict(Membership.objects.filter(tenant__slug="legacy").values_list("user__email", "role"))

    assert accounts == {"ann@example.com": "Ann Bee", "carol@example.com": "Carol", "dan@example.com": "Dan"}
    # ann was staff in one of her rows, carol a superuser made owner, dan an ordinary user.
    assert roles == {"ann@example.com": "admin", "carol@example.com": "owner", "dan@example.com": "member"}
    assert not User.objects.filter(is_staff=True).exists()
    assert "merged into ann@example.com: ann.b <Ann@Example.COM> (id 2)" in on_adopted.output
    assert "with ann <ann@example.com> (id 1)" in on_adopted.output
    assert "skipped bob (id 3): no email address" in on_adopted.output


def test_imported_users_log_in_to_the_tenant_with_their_legacy_passwords(on_adopted: Adopted) -> None:
    client = logged_in("ANN@example.com", PASSWORDS["ann"])

    assert client.get("/products/").status_code == 200
    assert (
        Client(HTTP_HOST=HOST)
        .post("/accounts/login/", {"login": "dan@example.com", "password": "wrong-password"})
        .status_code
        == 200
    )  # the form again, with an error


def test_nothing_of_the_tenant_apps_remains_in_public(on_adopted: Adopted) -> None:
    with psycopg.connect(conninfo(on_adopted.name)) as db:
        public = {
            name
            for (name,) in db.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                "AND relname ~ '^(products|customers|bookings)_'"
            ).fetchall()
        }
        moved = db.execute("SELECT count(*) FROM tenant_legacy.products_product").fetchone()
        archived = {
            name
            for (name,) in db.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = 'legacy_legacy'::regnamespace AND relkind = 'r'"
            ).fetchall()
        }

    assert public == set()
    assert moved == (3,)
    assert {"auth_user", "django_admin_log", "django_content_type"} <= archived


def test_adopted_schema_is_up_to_date_for_migrate_schemas(on_adopted: Adopted) -> None:
    out = io.StringIO()
    call_command("migrate_schemas", "--list", "--format", "json", stdout=out)
    listed = {row["schema"]: row for row in json.loads(out.getvalue())}

    assert listed["tenant_legacy"]["pending"] == []
    assert listed["tenant_legacy"]["applied"] == listed["public"]["applied"] > 0
    assert listed["public"]["pending"] == []


def test_sequences_continue_after_the_legacy_ids(on_adopted: Adopted) -> None:
    from django.db import transaction
    from django_tenants.utils import tenant_context

    from {{ cookiecutter.project_slug }}.products.models import Product
    from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

    with tenant_context(Tenant.objects.get(slug="legacy")), transaction.atomic():
        product = Product.objects.create(name="New after adoption", sku="NEW-1", price="1.00")
        transaction.set_rollback(True)

    assert product.pk == 11  # the legacy sequence stood at 10


def test_backup_holds_the_legacy_tables(on_adopted: Adopted) -> None:
    from {{ cookiecutter.project_slug }}.lifecycle.pgtools import pg_binary

    backup = Path(
        next(line.split(": ", 1)[1] for line in on_adopted.output.splitlines() if line.startswith("Backup of"))
    )
    listing = subprocess.run(
        [str(pg_binary("pg_restore")), "--list", str(backup)], capture_output=True, text=True, check=True
    ).stdout

    for table in ("products_product", "bookings_booking", "auth_user", "django_migrations"):
        assert f"TABLE DATA public {table} " in listing


def test_dry_run_prints_every_step_and_changes_nothing(legacy_db: str, django_db_blocker: Any) -> None:
    before = database_state(legacy_db)
    with django_db_blocker.unblock(), on_database(legacy_db):
        output = adopt("--name", "Legacy Co", "--slug", "legacy", "--dry-run")

    assert database_state(legacy_db) == before
    assert "products_product" in output and "3 rows" in output
    assert "bookings_booking.created_by_id: 3 rows, 1 set to NULL" in output
    assert "merged into ann@example.com" in output
    assert output.rstrip().endswith("Dry run: nothing was changed.")


def adopt_failing(legacy_db: str, django_db_blocker: Any, receiver: Callable[..., None], *args: str) -> CommandError:
    """Adopt `legacy_db` as tenant `legacy` with `receiver` connected to adoption_step (it may raise to inject a
    failure); return the CommandError the command ended with."""
    from {{ cookiecutter.project_slug }}.adoption.steps import adoption_step

    adoption_step.connect(receiver, dispatch_uid="test-injected-failure")
    try:
        with django_db_blocker.unblock(), on_database(legacy_db), pytest.raises(CommandError) as raised:
            adopt("--name", "Legacy Co", "--slug", "legacy", *args)
    finally:
        adoption_step.disconnect(dispatch_uid="test-injected-failure")
    return raised.value


def test_failure_at_the_last_step_leaves_the_database_unchanged(legacy_db: str, django_db_blocker: Any) -> None:
    """Adopt with --placeholder-emails and fail at the last step, after looking at the work inside the
    transaction: bob (no email) got a placeholder account that his booking points to. Then it is all undone."""
    from django.db import connection

    seen = {}

    def look_then_fail(**kwargs: Any) -> None:
        if kwargs["step"] == "commit":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT u.email FROM tenant_legacy.bookings_booking b JOIN public.accounts_user u "
                    "ON u.id = b.created_by_id WHERE b.id = 2"
                )
                seen["booking 2 taken by"] = cursor.fetchone()
            raise RuntimeError("injected failure at commit")

    before = database_state(legacy_db)
    error = adopt_failing(legacy_db, django_db_blocker, look_then_fail, "--placeholder-emails")

    assert seen == {"booking 2 taken by": ("legacy-user-3@legacy.invalid",)}
    assert error.returncode == 1
    assert "failed in step commit" in str(error) and "rolled back" in str(error)
    assert database_state(legacy_db) == before


def test_failure_midway_leaves_the_database_unchanged(legacy_db: str, django_db_blocker: Any) -> None:
    def fail(**kwargs: Any) -> None:
        if kwargs["step"] == "migrate_tenant":  # tables archived and moved, public migrated, tenant created
            raise RuntimeError("injected failure")

    before = database_state(legacy_db)
    error = adopt_failing(legacy_db, django_db_blocker, fail, "--no-backup")

    assert error.returncode == 1
    assert "failed in step migrate_tenant" in str(error)
    assert database_state(legacy_db) == before


def test_a_failed_backup_changes_nothing(legacy_db: str, django_db_blocker: Any, tmp_path: Path) -> None:
    from django.test import override_settings

    before = database_state(legacy_db)
    # No pg_dump in an empty folder: the backup fails before anything is touched.
    no_tools = override_settings(TENANCY_PG_BIN_DIR=str(tmp_path))
    with django_db_blocker.unblock(), on_database(legacy_db), no_tools, pytest.raises(CommandError) as raised:
        adopt("--name", "Legacy Co", "--slug", "legacy")

    assert raised.value.returncode == 1
    assert "nothing was changed" in str(raised.value)
    assert database_state(legacy_db) == before


UNIQUE_PRODUCT_USER = "CREATE UNIQUE INDEX booking_product_user ON bookings_booking (product_id, created_by_id)"


def booking_sql(booking_id: int, *, product: int, user: int) -> str:
    """INSERT of a confirmed legacy booking `booking_id` of product `product` for customer 1, taken by `user`."""
    return (
        'INSERT INTO bookings_booking (id, start, "end", status, created, customer_id, product_id, created_by_id) '
        f"VALUES ({booking_id}, '2030-02-0{booking_id} 10:00+00', '2030-02-0{booking_id} 11:00+00', 'confirmed', "
        f"now(), 1, {product}, {user})"
    )


def test_users_renumbered_onto_each_others_legacy_ids_keep_a_unique_key_valid(
    legacy_db: str, django_db_blocker: Any
) -> None:
    """dan (legacy id 5) becomes account 3, bob's legacy id; bob's booking 2 of product 2 is rewritten after
    dan's booking 4 of the same product. A unique index is checked row by row, so a one-pass rewrite would
    see (product 2, user 3) twice."""
    with psycopg.connect(conninfo(legacy_db), autocommit=True) as db:
        db.execute(UNIQUE_PRODUCT_USER)
        db.execute(booking_sql(4, product=2, user=5))  # type: ignore[arg-type]
        db.execute("UPDATE bookings_booking SET status = status WHERE id = 2")  # its row moves after booking 4's

    with django_db_blocker.unblock(), on_database(legacy_db):
        adopt("--name", "Legacy Co", "--slug", "legacy", "--no-backup")

    with psycopg.connect(conninfo(legacy_db)) as db:
        dan = db.execute("SELECT id FROM accounts_user WHERE email = 'dan@example.com'").fetchone()
        taken_by: dict[int, str | None] = dict(
            db.execute(
                "SELECT b.id, u.email FROM tenant_legacy.bookings_booking b "
                "LEFT JOIN accounts_user u ON u.id = b.created_by_id WHERE b.product_id = 2"
            ).fetchall()
        )
    assert dan == (3,)  # the premise: dan's new id is bob's legacy id
    assert taken_by == {2: None, 4: "dan@example.com"}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            "DELETE FROM django_migrations WHERE app = 'products' AND name = '0003_product_image'",
            "products: not recorded: 0003_product_image",
        ),
        ("CREATE SCHEMA tenant_legacy", "schema 'tenant_legacy' for slug 'legacy' already exists"),
        # bob (id 3, no email) took booking 2: a NOT NULL reference cannot become NULL.
        (
            "ALTER TABLE bookings_booking ALTER COLUMN created_by_id SET NOT NULL",
            "bookings_booking.created_by_id is NOT NULL but 1 of its rows refer to legacy users that are not imported",
        ),
        (
            "CREATE TABLE legacy_report (id serial PRIMARY KEY, product_id bigint REFERENCES products_product (id))",
            "legacy_report.product_id stays in public but refers to products_product",
        ),
        # ann's two legacy rows (ids 1 and 2) become one account: booking 4 would repeat booking 1's key.
        (
            f"{UNIQUE_PRODUCT_USER}; {booking_sql(4, product=1, user=2)}",
            "bookings_booking: 1 row would repeat another row's product_id, created_by_id (unique index "
            "booking_product_user) once merged legacy users share one account (ann@example.com)",
        ),
        # The recorded migrations say varchar(32): the stock-built reference catalog disagrees with the table.
        (
            "ALTER TABLE products_product ALTER COLUMN sku TYPE varchar(64)",
            "changed: column products_product.sku: character varying(32) NOT NULL -> character varying(64) NOT NULL",
        ),
    ],
    ids=[
        "migration-state-differs",
        "target-schema-exists",
        "not-null-user-left-out",
        "public-table-refers-to-moved",
        "merge-breaks-unique-key",
        "column-changed-outside-migrations",
    ],
)
def test_refused_with_exit_2_and_nothing_changed(
    legacy_db: str, django_db_blocker: Any, change: str, named: str
) -> None:
    with psycopg.connect(conninfo(legacy_db), autocommit=True) as db:
        db.execute(change)  # type: ignore[arg-type]
    before = database_state(legacy_db)

    with django_db_blocker.unblock(), on_database(legacy_db), pytest.raises(CommandError) as raised:
        adopt("--name", "Legacy Co", "--slug", "legacy")

    assert raised.value.returncode == 2
    assert named in str(raised.value)
    assert database_state(legacy_db) == before


def test_refused_on_a_database_whose_tables_are_tenant_tables_already(on_adopted: Adopted) -> None:
    before = database_state(on_adopted.name)

    with pytest.raises(CommandError) as raised:
        adopt("--name", "Again", "--slug", "again")

    assert raised.value.returncode == 2
    assert "tenant tables already" in str(raised.value)
    assert database_state(on_adopted.name) == before
