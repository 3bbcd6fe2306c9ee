"""Legacy single-tenant databases for the adoption tests, and running code against one of them.

A legacy database is built once per session, as a single-tenant app would have it: Django's migrate with
tests/adoption/legacy_settings.py (the tenant apps and auth.User in the public schema), then rows written
with SQL. Each test that changes one works on a copy (CREATE DATABASE ... TEMPLATE, a file copy).
`on_database(name)` points this process's Django connection at such a database for the block, so the
command, the test client and the ORM run against it; afterwards the connection is back on the test database.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parents[2]
PASSWORDS = {"ann": "ann-legacy-password", "carol": "carol-legacy-password", "dan": "dan-legacy-password"}
# Legacy users: ann appears twice with emails differing in case (the later login wins), bob has no email,
# carol is a superuser and dan an ordinary user; bookings were taken by ann (her older row), bob and carol.
LEGACY_USERS = [
    # id, username, email, first, last, is_staff, is_superuser, last_login, password key
    (1, "ann", "ann@example.com", "Ann", "Old", True, False, "2024-01-01", "ann"),
    (2, "ann.b", "Ann@Example.COM", "Ann", "Bee", False, False, "2025-06-01", "ann"),
    (3, "bob", "", "Bob", "", False, False, None, "dan"),
    (4, "carol", "carol@example.com", "Carol", "", True, True, None, "carol"),
    (5, "dan", "dan@example.com", "Dan", "", False, False, None, "dan"),
]
LEGACY_ROWS_SQL = """
INSERT INTO products_category (id, name) VALUES (1, 'Legacy tools'), (2, 'Legacy toys');
INSERT INTO products_product (id, name, sku, price, active, stock, created, updated, category_id, low_stock, image)
VALUES (1, 'Legacy anvil', 'LEG-ANVIL', 12.50, true, 7, now(), now(), 1, false, ''),
       (2, 'Legacy kite', 'LEG-KITE', 3.00, true, 2, now(), now(), 2, true, ''),
       (3, 'Legacy rope', 'LEG-ROPE', 1.00, false, 0, now(), now(), NULL, true, '');
INSERT INTO customers_customer (id, name, email, phone, created)
VALUES (1, 'Legacy Wile', 'wile@legacy.example', '', now()), (2, 'Legacy Road', 'road@legacy.example', '1', now());
INSERT INTO bookings_booking (id, start, "end", status, created, customer_id, product_id, created_by_id)
VALUES (1, '2030-01-01 10:00+00', '2030-01-01 11:00+00', 'confirmed', now(), 1, 1, 1),
       (2, '2030-01-02 10:00+00', '2030-01-02 11:00+00', 'confirmed', now(), 2, 2, 3),
       (3, '2030-01-03 10:00+00', '2030-01-03 11:00+00', 'cancelled', now(), 2, 1, 4);
INSERT INTO django_admin_log (action_time, object_id, object_repr, action_flag, change_message, user_id)
VALUES (now(), '1', 'Legacy anvil', 1, '[]', 4);
SELECT setval(pg_get_serial_sequence(t, 'id'), 10)
FROM unnest(ARRAY['products_category', 'products_product', 'customers_customer', 'bookings_booking']) t;
"""


def database_url(name: str) -> str:
    """URL of database `name` on the server the tests use."""
    settings = connection.settings_dict
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return (
        f"postgres://{settings['USER']}{password}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{name}"
    )


def conninfo(name: str) -> str:
    settings = connection.settings_dict
    parts = {"dbname": name, "user": settings["USER"], "host": settings["HOST"] or "127.0.0.1"}
    parts["port"] = str(settings["PORT"] or 5432)
    if settings.get("PASSWORD"):
        parts["password"] = settings["PASSWORD"]
    return " ".join(f"{key}={value}" for key, value in parts.items())


def _server_sql(*statements: str) -> None:
    with psycopg.connect(conninfo("postgres"), autocommit=True) as server:
        for statement in statements:
            server.execute(statement)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def legacy_template(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """Name of the session's legacy database (never changed by tests: they copy it)."""
    from django.contrib.auth.hashers import make_password

    with django_db_blocker.unblock():
        name = f"{connection.settings_dict['NAME']}_legacy"
    _server_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--skip-checks", "-v0", "--settings=tests.adoption.legacy_settings"],
        cwd=PROJECT_DIR,
        env={**os.environ, "LEGACY_DATABASE_URL": database_url(name)},
        check=True,
        timeout=120,
    )
    with psycopg.connect(conninfo(name), autocommit=True) as legacy:
        for user_id, username, email, first, last, staff, superuser, last_login, key in LEGACY_USERS:
            legacy.execute(
                "INSERT INTO auth_user (id, username, email, first_name, last_name, is_staff, is_superuser, is_active, "
                "last_login, date_joined, password) VALUES (%s, %s, %s, %s, %s, %s, %s, true, %s, now(), %s)",
                [user_id, username, email, first, last, staff, superuser, last_login, make_password(PASSWORDS[key])],
            )
        legacy.execute(LEGACY_ROWS_SQL)  # type: ignore[arg-type]
    yield name
    _server_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_copies = itertools.count(1)


@contextlib.contextmanager
def legacy_copy(template: str) -> Iterator[str]:
    """A fresh copy of the legacy database `template` for the block; dropped afterwards."""
    name = f"{template}_{next(_copies)}"
    _server_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield name
    finally:
        _server_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def legacy_db(legacy_template: str) -> Iterator[str]:
    with legacy_copy(legacy_template) as name:
        yield name


@contextlib.contextmanager
def on_database(name: str) -> Iterator[None]:
    """Point Django's default connection (and pg_dump, which reads its settings) at database `name`."""
    from django.contrib.contenttypes.models import ContentType

    from {{ cookiecutter.project_slug }}.tenancy.routing import directory

    settings = connection.settings_dict
    original = settings["NAME"]
    connection.close()
    settings["NAME"] = name
    ContentType.objects.clear_cache()
    directory.clear()
    try:
        yield
    finally:
        connection.close()
        settings["NAME"] = original
        ContentType.objects.clear_cache()
        directory.clear()
        connection.set_schema_to_public()


def database_state(name: str) -> dict[str, object]:
    """Everything adoption could change in database `name`: schemas, relations, constraints, and a digest
    of every table's rows (read through a connection of its own)."""
    with psycopg.connect(conninfo(name)) as db:
        relations = db.execute(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%' "
            "ORDER BY 1, 2"
        ).fetchall()
        constraints = db.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) ORDER BY 1, 2"
        ).fetchall()
        rows = {}
        for schema, table, kind in relations:
            if kind == "r":
                digest = "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                rows[f"{schema}.{table}"] = db.execute(
                    f'SELECT count(*), {digest} FROM "{schema}"."{table}" t'
                ).fetchone()
    return {"relations": relations, "constraints": constraints, "rows": rows}
