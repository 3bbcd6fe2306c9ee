"""The system check tenancy.E007 (tenancy/checks.py): settings.MIDDLEWARE keeps the project's CSRF middleware,
which stands in for Django's (so Django's deploy check security.W003, which looks for Django's class by name, is
silenced in config/settings/base.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.checks import run_checks

from {{ cookiecutter.project_slug }}.tenancy.checks import CSRF_MIDDLEWARE

DJANGO_CSRF = "django.middleware.csrf.CsrfViewMiddleware"
SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"


def _replaced(old: str, new: list[str]) -> list[str]:
    middleware = list(settings.MIDDLEWARE)
    index = middleware.index(old)
    return [*middleware[:index], *new, *middleware[index + 1 :]]


def _e007(messages: list[Any]) -> list[str]:
    return [message.msg for message in messages if message.id == "tenancy.E007"]


def test_the_project_settings_pass_the_csrf_check_and_the_deploy_checks_without_w003() -> None:
    messages = run_checks(include_deployment_checks=True)
    assert CSRF_MIDDLEWARE in settings.MIDDLEWARE
    assert _e007(messages) == []
    assert "security.W003" in settings.SILENCED_SYSTEM_CHECKS
    w003 = [message for message in messages if message.id == "security.W003"]
    assert w003, "Django's deploy check no longer warns: the silencing can go"
    assert all(message.is_silenced() for message in w003)


@pytest.mark.parametrize(
    ("middleware", "expected"),
    [
        (lambda: _replaced(CSRF_MIDDLEWARE, []), "has no CSRF protection"),
        (lambda: _replaced(CSRF_MIDDLEWARE, [DJANGO_CSRF]), "has no CSRF protection"),
        (lambda: _replaced(CSRF_MIDDLEWARE, [CSRF_MIDDLEWARE, DJANGO_CSRF]), "CsrfViewMiddleware as well"),
        (lambda: _replaced(SESSIONS, []), f"without {SESSIONS!r} before it"),
        (lambda: [CSRF_MIDDLEWARE, *_replaced(CSRF_MIDDLEWARE, [])], "TenantRoutingMiddleware' before it"),
    ],
    ids=["missing", "django-s-instead", "both", "no-sessions", "before-routing"],
)
def test_the_csrf_check_refuses_middleware_without_the_project_s_csrf_protection(
    settings: Any, middleware: Any, expected: str
) -> None:
    settings.MIDDLEWARE = middleware()
    errors = _e007(run_checks())
    assert errors, settings.MIDDLEWARE
    assert any(expected in error for error in errors), errors
