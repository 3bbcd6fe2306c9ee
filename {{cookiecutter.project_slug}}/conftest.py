"""Fixtures for the project's tests.

Tenant schemas are created once per test session: the public tenant (`localhost`),
the demo tenants acme (`acme.localhost`) and globex (`globex.localhost`) with their
demo data, and a full pool of spare schemas (settings.TENANCY_SPARE_SCHEMAS) are
committed right after the test database is migrated. Each test
then runs in a transaction that is rolled back, so rows a test creates never leak.

Fixtures:
- `tenant`: the acme Tenant; the test runs with the connection in acme's schema.
- `other_tenant`: the globex Tenant (use `django_tenants.utils.tenant_context` to enter it).
- `member_user` / `manager_user` / `owner_user`: a member / an admin / the demo owner of acme.
- `client_for(tenant, user=None)`: a test Client whose requests go to the tenant's host,
  logged in as `user` when given.
- `tenant_client`: `client_for(tenant, member_user)` (reads and creates); `manager_client`:
  `client_for(tenant, manager_user)` (also updates, deletes, manages: accounts/permissions.py).
- `server_url`: base URL (`http://127.0.0.1:<port>`) of a separately started server process on
  the test database, for browser tests; tenant hosts are `http://<slug>.localhost:<port>`.
  `server_mails(recipient)` returns the emails that process sent (file-based email backend).
- `browser`: a headless Chromium (Playwright) per test module, for browser tests.

After a request the connection is back in the public schema (tenancy.middleware); wrap ORM checks
of tenant rows made after requests in `tenant_context(...)`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
{%- if cookiecutter.use_celery == "y" %}
import uuid
{%- endif %}
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

PROJECT_DIR = Path(__file__).resolve().parent
# Emails sent by the `server_url` process, one file per message (Django's file-based email backend).
SERVER_MAIL_DIR = PROJECT_DIR / ".pytest-server-mail"


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Create the test database whichever tests were collected, then the public and demo tenants.

    Replaces pytest-django's fixture, which sets up only the databases that collected tests ask for
    through `db`; tests here also use committed schemas of their own. `--reuse-db` keeps the database for the
    next run; with `--create-db` too, it is created afresh first.
    """
    from django.test.utils import setup_databases, teardown_databases

    from {{ cookiecutter.project_slug }}.demo.seed import demo_seed
    from {{ cookiecutter.project_slug }}.lifecycle.provisioning import spare_pool_fill
    from {{ cookiecutter.project_slug }}.lifecycle.services import public_tenant_ensure

    reuse = bool(request.config.getvalue("reuse_db"))
    keepdb = reuse and not request.config.getvalue("create_db")
    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        databases = setup_databases(verbosity=verbosity, interactive=False, keepdb=keepdb)
        public_tenant_ensure(domain="localhost")
        demo_seed(domain_suffix="localhost")
        # The demo tenants claimed spares; tests provision from a full pool.
        spare_pool_fill()
    yield
    if not reuse:
        with django_db_blocker.unblock():
            teardown_databases(databases, verbosity=verbosity)


@pytest.fixture(autouse=True)
def _start_in_public_schema() -> Iterator[None]:
    """Every test starts with the connection in the public schema, whatever the last request chose."""
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Every test starts with an empty cache (django-allauth counts logins per client IP there, 30 a minute,
    and every test client request comes from 127.0.0.1) and an empty routing directory."""
    from django.core.cache import cache

    from {{ cookiecutter.project_slug }}.tenancy.routing import directory

    cache.clear()
    # Tenant changes a test made were rolled back; the routing directory must not remember them.
    directory.clear()
    yield


@pytest.fixture
def tenant(db: None) -> Iterator[object]:
    from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

    acme = Tenant.objects.get(slug="acme")
    connection.set_tenant(acme)
    yield acme
    connection.set_schema_to_public()


@pytest.fixture
def other_tenant(db: None) -> object:
    from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

    return Tenant.objects.get(slug="globex")


@pytest.fixture
def member_user(tenant: object) -> object:
    from {{ cookiecutter.project_slug }}.accounts.services import membership_grant, user_get_or_create

    user = user_get_or_create(email="member@acme.localhost", password="member-password")
    membership_grant(user=user, tenant=tenant, role="member")
    return user


@pytest.fixture
def owner_user(tenant: object) -> object:
    from {{ cookiecutter.project_slug }}.accounts.models import User

    return User.objects.get(email="owner@acme.localhost")


@pytest.fixture
def client_for(db: None) -> Callable[..., Client]:
    def make(tenant: object, user: object | None = None) -> Client:
        client = Client(HTTP_HOST=tenant.get_primary_domain().domain)  # type: ignore[attr-defined]
        if user is not None:
            client.force_login(user)  # type: ignore[arg-type]
        return client

    return make


@pytest.fixture
def tenant_client(client_for: Callable[..., Client], tenant: object, member_user: object) -> Client:
    return client_for(tenant, member_user)


@pytest.fixture
def manager_user(tenant: object) -> object:
    from {{ cookiecutter.project_slug }}.accounts.services import membership_grant, user_get_or_create

    user = user_get_or_create(email="manager@acme.localhost", password="manager-password")
    membership_grant(user=user, tenant=tenant, role="admin")
    return user


@pytest.fixture
def manager_client(client_for: Callable[..., Client], tenant: object, manager_user: object) -> Client:
    """An admin of acme on acme's host: may also update, delete and manage (accounts/permissions.py)."""
    return client_for(tenant, manager_user)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_url() -> str:
    """URL of the test database pytest-django created (what a separate process must use)."""
    settings = connection.settings_dict
    user, password = settings.get("USER") or "", settings.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{settings.get('HOST') or '127.0.0.1'}:{settings.get('PORT') or 5432}/{settings['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]


@contextlib.contextmanager
def committed_tenants(django_db_blocker, slugs: list[str]) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """Create tenants `slugs` outside any test transaction (for a module's tests that need committed schemas);
    yield their schema names; drop them afterwards and refill the spare pool they claimed from."""
    from {{ cookiecutter.project_slug }}.lifecycle.provisioning import spare_pool_fill
    from {{ cookiecutter.project_slug }}.lifecycle.services import tenant_create, tenant_drop

    with django_db_blocker.unblock():
        schemas = [tenant_create(name=slug.title(), slug=slug).schema_name for slug in slugs]
    try:
        yield schemas
    finally:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            for slug in slugs:
                tenant_drop(slug=slug)
            spare_pool_fill()  # later tests expect a full pool


@contextlib.contextmanager
def running_server(database_url: str, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `manage.py runserver` on `database_url` in its own process, with `extra_env` added to its environment
    (settings read from the environment, e.g. BILLING_PROVIDER); yield its base URL once /healthz answers. Its
    TENANCY_PUBLIC_PORT is the port it listens on.

    The server writes the emails it sends as files into SERVER_MAIL_DIR (read them with `server_mails`).
    """
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
           "DJANGO_EMAIL_FILE_PATH": str(SERVER_MAIL_DIR),
           # Links the server builds to the public host (emails, billing return URLs) carry the port it listens on.
           "TENANCY_PUBLIC_PORT": str(port), **(extra_env or {})}  # fmt: skip
    log_path = PROJECT_DIR / f".pytest-server-{port}.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", "--insecure", f"127.0.0.1:{port}"],
        cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 - local URL
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {log_path.read_text()}") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        log_path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def server_url(django_db_setup: None, django_db_blocker) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A `running_server` on the test database for the whole session; yields its base URL."""
    with django_db_blocker.unblock():
        database_url = test_database_url()
    shutil.rmtree(SERVER_MAIL_DIR, ignore_errors=True)
    with running_server(database_url) as url:
        yield url


# Browser tests drive Debian's chromium through Playwright; CHROMIUM_PATH points them at another binary.
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A headless Chromium for one test module. Missing chromium: skipped locally, failed with CI set.

    Module scope: Playwright's sync API runs an event loop in this thread, where Django refuses database
    calls; a browser per module keeps that loop away from the other modules' database fixtures.
    """
    if not os.path.exists(CHROMIUM):
        message = f"chromium not found at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def server_mails(recipient: str) -> list[str]:
    """Bodies of the emails the `server_url` process sent to `recipient`, oldest first."""
    if not SERVER_MAIL_DIR.exists():
        return []
    texts = [path.read_text() for path in sorted(SERVER_MAIL_DIR.iterdir(), key=lambda p: p.stat().st_mtime_ns)]
    return [text for text in texts if f"To: {recipient}" in text]
{%- if cookiecutter.use_celery == "y" %}


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker) -> Iterator[tuple[str, Path]]:  # type: ignore[no-untyped-def]
    """Start a real Celery worker process (solo pool) on the test database, consuming a queue of its own.

    Yields (queue name, worker log file); the log is at INFO level, in the project's log format.
    """
    from django.conf import settings

    from config.celery_app import app

    with django_db_blocker.unblock():
        database_url = test_database_url()
    queue = f"test-{uuid.uuid4().hex[:8]}"
    node = f"{queue}@localhost"
    log_path = PROJECT_DIR / ".pytest-worker.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": settings.CELERY_BROKER_URL,
           "DJANGO_SETTINGS_MODULE": "config.settings.test"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config.celery_app", "worker", "--pool", "solo", "--queues", queue,
         "--loglevel", "INFO", "--without-heartbeat", "--without-mingle", "--without-gossip", "--hostname", node],
        cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[node], timeout=1.0):
        if process.poll() is not None or time.monotonic() > deadline:
            log.close()
            raise RuntimeError(f"the Celery worker did not come up: {log_path.read_text()}")
    yield queue, log_path
    process.terminate()
    process.wait(timeout=30)
    log.close()
{%- endif %}
