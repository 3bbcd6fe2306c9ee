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
- `client_for(tenant, user=None, **defaults)`: a `TenantClient` whose requests go to the tenant the project's way
  (settings.TENANCY_ROUTING), logged in as `user` when given: domain mode on the tenant's host; path mode on
  the public host with every path the test passes sent under the tenant's base path (`/products/` goes to
  `/<TENANCY_PATH_PREFIX>/<slug>/products/`). Tests pass tenant paths as in domain mode and run in both modes.
- `tenant_base_path`: acme's base path ("" in domain mode, "/<prefix>/acme" in path mode);
  `tenant_path(path, of=acme)`: the full path a tenant path is served at, for assertions on Location
  headers and links (`tenant_path("/products/")`); `tenant_url(path, of=acme)`: its absolute URL (emails,
  redirects from the public host); `login_redirect(path, of=acme)`: where an anonymous visitor of `path` is sent;
  `server_tenant_url(server_url, slug)`: a tenant's base URL on the `server_url` process (browser tests).
  All computed from the settings, not by the code under test.
- `assert_stranger_refused(response, case)`: the answer a logged-in non-member of the requested tenant gets (domain
  routing: the login page, as anonymous; path routing: 403).
- `tenant_client`: `client_for(tenant, member_user)` (reads and creates); `manager_client`:
  `client_for(tenant, manager_user)` (also updates, deletes, manages: accounts/permissions.py).
- `server_url`: base URL (`http://127.0.0.1:<port>`) of a separately started server process on
  the test database, for browser tests; tenant hosts are `http://<slug>.localhost:<port>` (in path mode
  `http://localhost:<port>/<prefix>/<slug>`: `server_tenant_url`).
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
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from django.db import connection
from django.test import Client

from tests.command_processes import CommandProcesses

PROJECT_DIR = Path(__file__).resolve().parent
# The public tenant's host in tests (django_db_setup); in path mode every tenant is addressed on it too.
PUBLIC_HOST = "localhost"
# Emails sent by the `server_url` process, one file per message (Django's file-based email backend).
# pytest-xdist's worker id ("gw0", "gw1", ...; "" in a run without workers): files a worker writes carry it, as its
# test database's name does (pytest-django appends "_gw0"), so workers never share one.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
SERVER_MAIL_DIR = PROJECT_DIR / f".pytest-server-mail{WORKER}"


@pytest.fixture(scope="session")
def django_db_setup(  # type: ignore[no-untyped-def]
    request, django_test_environment, django_db_modify_db_settings, django_db_blocker
) -> Iterator[None]:
    """Create the test database whichever tests were collected, then the public and demo tenants.

    Replaces pytest-django's fixture, which sets up only the databases that collected tests ask for
    through `db`; tests here also use committed schemas of their own. Under pytest-xdist each worker gets a
    database of its own (django_db_modify_db_settings names it `test_<name>_<worker>`). `--reuse-db` keeps the
    database for the next run; with `--create-db` too, it is created afresh first.
    """
    from django.test.utils import setup_databases, teardown_databases

    from {{ cookiecutter.project_slug }}.demo.seed import demo_seed
    from {{ cookiecutter.project_slug }}.lifecycle.provisioning import spare_create, spare_pool_fill
    from {{ cookiecutter.project_slug }}.lifecycle.schema_script import schema_script_ensure
    from {{ cookiecutter.project_slug }}.lifecycle.services import public_tenant_ensure

    reuse = bool(request.config.getvalue("reuse_db"))
    keepdb = reuse and not request.config.getvalue("create_db")
    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        databases = setup_databases(verbosity=verbosity, interactive=False, keepdb=keepdb)
        public_tenant_ensure(domain=PUBLIC_HOST)
        # One spare built by the migrations gives the checked schema script (lifecycle/schema_script.py); the demo
        # tenants and the rest of the pool are then built from it, as after a deploy (one migrations build, not 5).
        if not schema_script_ensure():  # a reused database may have it already
            spare_create()
            schema_script_ensure()
        # Without the demo member of both tenants: globex's free plan has 2 seats, which tests of invitations
        # and of members of several tenants fill themselves (test_commands checks seed_demo adds the member).
        demo_seed(domain_suffix="localhost", member=False)
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


def tenant_base_path_of(tenant: object) -> str:
    """The path a tenant's pages live under: "" in domain mode, "/<settings.TENANCY_PATH_PREFIX>/<slug>" in path
    mode (settings.TENANCY_ROUTING). Computed here from the settings, so tests do not trust tenancy.addressing
    to tell them where the tenant is."""
    from django.conf import settings

    if settings.TENANCY_ROUTING == "path":
        return f"/{settings.TENANCY_PATH_PREFIX}/{tenant.slug}"
    return ""


class TenantClient(Client):
    """A test Client that addresses one tenant the project's way: every path a test passes that starts with "/"
    is sent under `base_path` (nothing is added when it is "", in domain mode).

    A path already under `base_path` (a link or Location taken from a response) is sent as it is, and so is any
    URL a redirect leads to with `follow=True` (a redirect names the full path, or another host). Absolute URLs
    (`http://...`) are never changed. Inside `with client.verbatim():` no path is changed (for links a page
    gives outside the tenant's base path, such as `/static/...`).
    """

    def __init__(self, base_path: str = "", **defaults: Any) -> None:
        super().__init__(**defaults)
        self.base_path = base_path
        self._verbatim = False

    def full_path(self, path: str) -> str:
        """The full path `path` (a tenant path starting with "/", query allowed) is sent to."""
        base = self.base_path
        if self._verbatim or not base or not path.startswith("/") or path.startswith("//"):
            return path
        if path == base or path.startswith((f"{base}/", f"{base}?")):
            return path
        return f"{base}{path}"

    @contextlib.contextmanager
    def verbatim(self) -> Iterator[None]:
        """Send paths as given (full server paths) for the duration of the block."""
        before, self._verbatim = self._verbatim, True
        try:
            yield
        finally:
            self._verbatim = before

    def generic(self, method: str, path: Any, *args: Any, **kwargs: Any) -> Any:
        return super().generic(method, self.full_path(str(path)), *args, **kwargs)

    def _handle_redirects(self, *args: Any, **kwargs: Any) -> Any:
        # django.test.Client's hook for follow=True (not in django-stubs): the URLs it requests are full paths.
        with self.verbatim():
            return super()._handle_redirects(*args, **kwargs)  # type: ignore[misc]


def assert_stranger_refused(response: Any, case: object = None) -> None:
    """`response` is what a logged-in user who is not a member of the requested tenant must get on a page, the
    tenant admin's login or a media file: in domain routing what an anonymous visitor gets (302 to the host's
    `/accounts/login/`: the session is a cookie replayed on another tenant's host), in path routing 403 (one
    session serves every tenant's paths: accounts.permissions.strangers_refused). `case` names the request in
    failure messages."""
    from django.conf import settings

    if settings.TENANCY_ROUTING == "path":
        assert response.status_code == 403, (case, response.status_code, response.content[:300])
        # The refusal offers none of the tenant's pages (its menu is for members).
        assert b'products/"' not in response.content, (case, response.content[:600])
        return
    assert response.status_code == 302, (case, response.status_code, response.content[:300])
    assert response["Location"].startswith("/accounts/login/"), (case, response["Location"])


def tenant_host_of(tenant: object) -> str:
    """The host a tenant's pages are requested on: its primary domain in domain mode, PUBLIC_HOST in path mode."""
    from django.conf import settings

    if settings.TENANCY_ROUTING == "path":
        return PUBLIC_HOST
    return str(tenant.get_primary_domain().domain)  # type: ignore[attr-defined]


def server_tenant_url(server_url: str, slug: str) -> str:
    """Base URL (no trailing slash) of tenant `slug` on the `server_url` process, for browser tests:
    `http://<slug>.localhost:<port>` in domain mode, `http://localhost:<port>/<prefix>/<slug>` in path mode
    (Chromium resolves `*.localhost` to loopback itself)."""
    from django.conf import settings

    port = urlsplit(server_url).port
    if settings.TENANCY_ROUTING == "path":
        return f"http://{PUBLIC_HOST}:{port}/{settings.TENANCY_PATH_PREFIX}/{slug}"
    return f"http://{slug}.{PUBLIC_HOST}:{port}"


def client_on(tenant: object, **defaults: Any) -> TenantClient:
    """An anonymous TenantClient on `tenant` (see TenantClient): HTTP_HOST `tenant_host_of(tenant)`; `defaults`
    go to django.test.Client (HTTP_AUTHORIZATION=..., enforce_csrf_checks=True) and may replace HTTP_HOST."""
    return TenantClient(tenant_base_path_of(tenant), **{"HTTP_HOST": tenant_host_of(tenant), **defaults})


@pytest.fixture
def client_for(db: None) -> Callable[..., TenantClient]:
    """`client_for(tenant, user=None, **defaults)`: `client_on(tenant, **defaults)` logged in as `user` when
    given."""

    def make(tenant: object, user: object | None = None, **defaults: Any) -> TenantClient:
        client = client_on(tenant, **defaults)
        if user is not None:
            client.force_login(user)  # type: ignore[arg-type]
        return client

    return make


@pytest.fixture
def tenant_base_path(tenant: object) -> str:
    """acme's base path: "" in domain mode, "/<prefix>/acme" in path mode."""
    return tenant_base_path_of(tenant)


@pytest.fixture
def tenant_path(tenant: object) -> Callable[..., str]:
    """`tenant_path(path, of=acme)`: the full path tenant path `path` is served at for tenant `of`, e.g.
    `tenant_path("/products/")` is "/products/" in domain mode and "/clinic/acme/products/" in path mode."""

    def full(path: str, of: object | None = None) -> str:
        return f"{tenant_base_path_of(tenant if of is None else of)}{path}"

    return full


@pytest.fixture
def tenant_url(tenant: object) -> Callable[..., str]:
    """`tenant_url(path, of=acme)`: the absolute URL of tenant path `path` (links in emails, redirects from the
    public host): `http://acme.localhost/products/` in domain mode, `http://localhost/clinic/acme/products/` in
    path mode (test settings: plain http, no TENANCY_PUBLIC_PORT)."""

    def absolute(path: str, of: object | None = None) -> str:
        target = tenant if of is None else of
        return f"http://{tenant_host_of(target)}{tenant_base_path_of(target)}{path}"

    return absolute


@pytest.fixture
def login_redirect(tenant_path: Callable[..., str]) -> Callable[..., str]:
    """`login_redirect(path, of=acme)`: the Location tenant `of` sends an anonymous visitor of tenant path `path`
    to: its login page with `next` the full path (`/accounts/login/?next=/products/` in domain mode,
    `/clinic/acme/accounts/login/?next=/clinic/acme/products/` in path mode)."""

    def location(path: str, of: object | None = None) -> str:
        return tenant_path(f"/accounts/login/?next={quote(tenant_path(path, of), safe='/')}", of)

    return location


@pytest.fixture
def tenant_client(client_for: Callable[..., TenantClient], tenant: object, member_user: object) -> TenantClient:
    return client_for(tenant, member_user)


@pytest.fixture
def manager_user(tenant: object) -> object:
    from {{ cookiecutter.project_slug }}.accounts.services import membership_grant, user_get_or_create

    user = user_get_or_create(email="manager@acme.localhost", password="manager-password")
    membership_grant(user=user, tenant=tenant, role="admin")
    return user


@pytest.fixture
def manager_client(client_for: Callable[..., TenantClient], tenant: object, manager_user: object) -> TenantClient:
    """An admin of acme on acme (its host, or its base path in path mode): may also update, delete and manage
    (accounts/permissions.py)."""
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

# One command server per environment (tests/command_processes.py), started by the first command that needs it.
_COMMAND_SERVERS: dict[tuple[tuple[str, str], ...], CommandProcesses] = {}
# What pytest itself changes in os.environ from one test phase to the next ("tests/x.py::test_y (call)"): left out
# of a command's environment, or every test would start a server of its own (about 0.45 s each).
PER_TEST_VARIABLES = frozenset({"PYTEST_CURRENT_TEST"})


def command_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `manage.py` process a test starts: this process's, less PER_TEST_VARIABLES, on the
    test database with the test settings, then `env` (variables to add or override)."""
    inherited = {name: value for name, value in os.environ.items() if name not in PER_TEST_VARIABLES}
    return {**inherited, "DATABASE_URL": test_database_url(), "DJANGO_SETTINGS_MODULE": "config.settings.test",
            **(env or {})}  # fmt: skip


def command_server(env: dict[str, str] | None = None) -> CommandProcesses:
    """The command server of environment `command_environment(env)`, started on first use."""
    environment = command_environment(env)
    key = tuple(sorted(environment.items()))
    if key not in _COMMAND_SERVERS:
        _COMMAND_SERVERS[key] = CommandProcesses(environment, PROJECT_DIR)
    return _COMMAND_SERVERS[key]


def manage_process(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python manage.py <args>` on the test database as a deploy script runs it: a process of its own, stdin
    closed, stdout and stderr captured as text, its exit status. Returns the finished process (args, returncode,
    stdout, stderr); raises subprocess.TimeoutExpired after `timeout` seconds.

    The process is forked from a server that has started Django once with exactly that environment (`env` adds
    variables, such as settings read from it): one server per distinct environment, see tests/command_processes.py.
    """
    return command_server(env).run(args, timeout=timeout)


@pytest.fixture(scope="session", autouse=True)
def _command_servers_stopped() -> Iterator[None]:
    """The command servers manage_process started stop with the session."""
    yield
    while _COMMAND_SERVERS:
        _COMMAND_SERVERS.popitem()[1].close()


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
# The second line spares processes and CPU a test does not use: a renderer per site (one per tenant host, and a
# context's pages share nothing with another's anyway), extensions, the software GL rasterizer, audio. Measured on
# the four browser modules: 90 chromium processes and 15.2 CPU-seconds without it, 69 and 13.5 with it.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--disable-features=site-per-process,IsolateOrigins", "--renderer-process-limit=2", "--disable-extensions",
    "--disable-software-rasterizer", "--mute-audio",
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
    log_path = PROJECT_DIR / f".pytest-worker{WORKER}.log"
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
