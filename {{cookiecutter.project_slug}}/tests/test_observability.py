"""Logs carry the tenant's schema, JSON logs are one setting away, Sentry events are tagged with the tenant,
and production settings turn the security headers on."""

from __future__ import annotations

import io
import json
import logging
import re
import runpy
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client
from django.urls import path
from django.utils.module_loading import import_string
from django_tenants.utils import tenant_context
from sentry_sdk.transport import Transport

{% if cookiecutter.use_celery == "y" -%}
from {{ cookiecutter.project_slug }}.lifecycle.tasks import tenant_ping
{% endif -%}
from {{ cookiecutter.project_slug }}.tenancy import observability

pytestmark = pytest.mark.django_db
BASE_SETTINGS = Path(__file__).resolve().parent.parent / "config" / "settings" / "base.py"

PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "x" * 50,
    "DATABASE_URL": "postgres://user:password@db.invalid:5432/app",
    "REDIS_URL": "redis://redis.invalid:6379/0",
}


def production_settings(monkeypatch, **env: str) -> dict[str, Any]:
    """The names config/settings/production.py defines, executed with a dummy production environment."""
    for key in ("SENTRY_DSN", "DJANGO_SECURE_HSTS_SECONDS", "DJANGO_SECURE_SSL_REDIRECT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {**PRODUCTION_ENV, **env}.items():
        monkeypatch.setenv(key, value)
    return runpy.run_module("config.settings.production")


# --- security headers --------------------------------------------------------------------------------------

SECURITY = {
    "SECURE_HSTS_SECONDS": 31_536_000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "SECURE_CONTENT_TYPE_NOSNIFF": True,
    "SECURE_REFERRER_POLICY": "same-origin",
    "X_FRAME_OPTIONS": "DENY",
    "SECURE_SSL_REDIRECT": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
}


def test_production_settings_turn_the_security_headers_on(monkeypatch):
    production = production_settings(monkeypatch)
    assert {key: production.get(key) for key in SECURITY} == SECURITY
    assert "django.middleware.security.SecurityMiddleware" in production["MIDDLEWARE"]
    assert "django.middleware.clickjacking.XFrameOptionsMiddleware" in production["MIDDLEWARE"]


def test_responses_carry_the_production_security_headers(monkeypatch, settings, tenant):
    production = production_settings(monkeypatch)
    for key in SECURITY:
        setattr(settings, key, production[key])
    response = Client(HTTP_HOST="acme.localhost").get("/accounts/login/", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


# --- logging -----------------------------------------------------------------------------------------------


@pytest.fixture
def console():
    """The console handler of settings.LOGGING, writing into a buffer for the test."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_log_records_carry_the_schema_in_commands_tenants_and_requests(console, tenant, client_for, tenant_path):
    log = logging.getLogger("{{ cookiecutter.project_slug }}.observability_test")
    connection.set_schema_to_public()
    log.warning("outside any tenant")
    with tenant_context(tenant):
        log.warning("inside acme")
    # django.request logs "Not Found" after routing put the connection back in the public schema.
    assert client_for(tenant).get("/no-such-page/").status_code == 404
    lines = console.getvalue()
    assert re.search(r"\[public:None\] {{ cookiecutter.project_slug }}\.observability_test outside any tenant", lines)
    assert re.search(r"\[tenant_acme:None\] {{ cookiecutter.project_slug }}\.observability_test inside acme", lines)
    # The address: the tenant's host in domain mode, the public host and base path in path mode.
    address = "localhost" + tenant_path("") if settings.TENANCY_ROUTING == "path" else "acme.localhost"
    assert re.search(
        rf"\[tenant_acme:{re.escape(address)}\] django\.request Not Found: {re.escape(tenant_path('/no-such-page/'))}",
        lines,
    )


def test_json_log_format_is_one_setting_away(monkeypatch, tenant):
    monkeypatch.setenv("DJANGO_LOG_FORMAT", "json")
    config = runpy.run_path(str(BASE_SETTINGS))["LOGGING"]
    handler_config = config["handlers"]["console"]
    assert handler_config["formatter"] == "json"
    formatter_config = dict(config["formatters"]["json"])
    formatter = import_string(formatter_config.pop("()"))(**formatter_config)
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(formatter)
    for name in handler_config["filters"]:
        handler.addFilter(import_string(config["filters"][name]["()"])())
    log = logging.getLogger("{{ cookiecutter.project_slug }}.json_test")
    log.addHandler(handler)
    try:
        with tenant_context(tenant):
            log.warning("stock low for %s", "WID-1")
        connection.set_schema_to_public()
        log.warning("back in public")
    finally:
        log.removeHandler(handler)
    first, second = (json.loads(line) for line in handler.stream.getvalue().splitlines())
    assert first["schema_name"] == "tenant_acme"
    assert first["message"] == "stock low for WID-1"
    assert first["levelname"] == "WARNING"
    assert first["name"] == "{{ cookiecutter.project_slug }}.json_test"
    assert "domain_url" in first
    assert second["schema_name"] == "public"


def test_an_unknown_log_format_is_refused(monkeypatch):
    monkeypatch.setenv("DJANGO_LOG_FORMAT", "xml")
    with pytest.raises(ImproperlyConfigured, match="DJANGO_LOG_FORMAT='xml'"):
        runpy.run_path(str(BASE_SETTINGS))


{%- if cookiecutter.use_celery == "y" %}


def test_worker_log_lines_carry_the_tasks_tenant(celery_worker, tenant):
    queue, log_path = celery_worker
    with tenant_context(tenant):
        assert tenant_ping.apply_async(queue=queue).get(timeout=60) == "tenant_acme"
    assert re.search(r"\[tenant_acme:\w*\] {{ cookiecutter.project_slug }}\.lifecycle\.tasks tenant_ping attempt", log_path.read_text())
{%- endif %}


# --- Sentry ------------------------------------------------------------------------------------------------


class CapturingTransport(Transport):
    """Keeps the events in memory instead of sending them."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict] = []

    def capture_envelope(self, envelope) -> None:  # type: ignore[no-untyped-def]
        self.events.extend(event for item in envelope.items if (event := item.get_event()) is not None)


def boom(request):
    raise RuntimeError("boom in a tenant request")


urlpatterns = [path("boom/", boom)]


@pytest.fixture
def sentry_events():
    transport = CapturingTransport()
    observability.sentry_init(
        "https://public@sentry.invalid/1", transport=transport, default_integrations=False,
        auto_enabling_integrations=False,
    )  # fmt: skip
    yield transport.events
    sentry_sdk.get_global_scope().set_client(None)


def test_sentry_is_set_up_by_production_settings_only_with_a_dsn(monkeypatch):
    calls = []
    monkeypatch.setattr(observability, "sentry_init", lambda dsn, **options: calls.append(dsn))
    production_settings(monkeypatch)
    assert calls == []
    production_settings(monkeypatch, SENTRY_DSN="https://key@sentry.example/7")
    assert calls == ["https://key@sentry.example/7"]


def test_sentry_events_are_tagged_with_the_tenant(settings, sentry_events, tenant, other_tenant):
    settings.ROOT_URLCONF = __name__
    response = Client(HTTP_HOST="acme.localhost", raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    with tenant_context(other_tenant):
        sentry_sdk.capture_message("outside a request, in globex")
    connection.set_schema_to_public()
    sentry_sdk.capture_message("outside any tenant")

    errors = [e for e in sentry_events if e.get("exception", {}).get("values", [{}])[-1].get("type") == "RuntimeError"]
    assert errors, sentry_events
    assert errors[0]["tags"] == {"tenant": "acme", "schema": "tenant_acme", "tenant_domain": "acme.localhost"}
    messages = {event["message"]: event["tags"] for event in sentry_events if event.get("message")}
    assert messages["outside a request, in globex"] == {"tenant": "globex", "schema": "tenant_globex"}
    assert messages["outside any tenant"]["schema"] == "public"
