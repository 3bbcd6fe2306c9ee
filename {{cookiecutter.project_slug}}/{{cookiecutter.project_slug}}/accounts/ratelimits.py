"""Rate limits of the endpoints people can abuse: sign-up, the platform admin's login, invitations, login tokens.

Counters live in the project's cache (CACHES["default"], Redis in development and production), through
django-ratelimit's counting functions (`django_ratelimit.core.get_usage`). While Redis is down or frozen,
config.redis_cache.ResilientRedisCache keeps keys starting with settings.RATELIMIT_CACHE_PREFIX in a
per-process LocMemCache (settings.CACHE_LOCAL_KEY_PREFIXES), so every limit still holds per process.
django-allauth's own views (login, password reset, email management) are limited by allauth itself
(settings.ACCOUNT_RATE_LIMITS), in the same cache.

Why django-ratelimit, not django-axes: the limits here are mostly not about logins (sign-ups creating
schemas, invitation links, login-token crossings, invitation emails), and django-ratelimit counts any
request under any key in a named cache with one small public function, while django-axes only tracks
`authenticate()` failures (and, with its database handler, writes a row per attempt). django-ratelimit's
decorator is not used: it answers 403 (`Ratelimited` is a PermissionDenied) and knows no Retry-After, so
`Limit` wraps `get_usage` and the views answer 429 with Retry-After themselves (`too_many_requests`).
The app is not in INSTALLED_APPS: its only use there is a system check that refuses LocMemCache (the
per-process fallback and the test cache) and warns on every cache class it does not list.

Each limit's rate is a setting (`"<count>/<period>"`, period `s`, `m`, `h` or `d` with an optional
multiplier, e.g. `"5/10m"`; config/settings/base.py, "Rate limits"; docs/security.md). Windows are
django-ratelimit's fixed windows (each key's window starts at its own offset), so a burst across a window's
end may reach twice the count; Retry-After says when the current window ends. Keys hold the client IP as
django-allauth sees it (settings.ALLAUTH_TRUSTED_PROXY_COUNT behind a proxy), so both libraries count the
same address. Cache keys carry the schema (the cache's KEY_FUNCTION): limits on a tenant host count per
tenant host; the public host's (sign-up, platform admin) count for the whole site.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from http import HTTPStatus
from typing import Any

from allauth.account import app_settings as allauth_account_settings
from allauth.account.adapter import get_adapter
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage

View = Callable[..., HttpResponse]
# django-ratelimit's key: a name it knows ("ip", "user", "post:<field>", ...) or a function (group, request) -> str.
Key = str | Callable[[str, HttpRequest], str]


def client_ip(request: HttpRequest) -> str:
    """The client's IP address as django-allauth determines it (REMOTE_ADDR, or X-Forwarded-For behind
    settings.ALLAUTH_TRUSTED_PROXY_COUNT proxies). settings.RATELIMIT_IP_META_KEY names this function, so
    django-ratelimit's "ip" key is the same address. Raises PermissionDenied (403) when there is none."""
    return str(get_adapter(request).get_client_ip(request))


def ip_and_posted(field: str) -> Callable[[str, HttpRequest], str]:
    """A key function: the client IP plus the POSTed `field` (an account's login), lowercased and trimmed,
    so `Boss@Example.com ` and `boss@example.com` count as one account."""

    def key(group: str, request: HttpRequest) -> str:
        return f"{client_ip(request)}|{request.POST.get(field, '').strip().lower()}"

    return key


def value_key(value: str) -> Callable[[str, HttpRequest], str]:
    """A key function counting under `value` itself (an account's email), whatever the request."""

    def key(group: str, request: HttpRequest) -> str:
        return value.strip().lower()

    return key


@dataclass(frozen=True)
class Limit:
    """One rate limit: the counter `group` (one per endpoint and purpose) at the rate in setting `setting`.

    `hit` counts a request and tells whether it went over; `reached` only looks (for limits that count
    failures after the fact, `failed`). Both return the seconds to wait (at least 1) when the request is
    to be refused, else None. A rate of None in the setting turns the limit off.
    """

    group: str
    setting: str

    def rate(self) -> str | None:
        return getattr(settings, self.setting)  # type: ignore[no-any-return]

    def _usage(self, request: HttpRequest, key: Key, increment: bool) -> dict[str, Any] | None:
        return get_usage(request, group=self.group, key=key, rate=self.rate(), increment=increment)  # type: ignore[no-any-return]

    def hit(self, request: HttpRequest, *, key: Key = "ip") -> int | None:
        """Count this request under `key`; return seconds to wait when it is over the limit, else None."""
        usage = self._usage(request, key, increment=True)
        return _wait(usage) if usage is not None and usage["should_limit"] else None

    def reached(self, request: HttpRequest, *, key: Key = "ip") -> int | None:
        """Without counting: return seconds to wait when `key` has used up the limit already, else None."""
        usage = self._usage(request, key, increment=False)
        return _wait(usage) if usage is not None and usage["count"] >= usage["limit"] else None

    def failed(self, request: HttpRequest, *, key: Key = "ip") -> None:
        """Count one failure under `key` (a wrong password, a refused token)."""
        self._usage(request, key, increment=True)


def _wait(usage: dict[str, Any]) -> int:
    return max(1, int(usage["time_left"]))


# Sign-ups reaching the service (valid forms), per client IP: each one provisions a tenant schema.
SIGNUP = Limit("signup", "RATE_LIMIT_SIGNUP")
# Failed logins to the platform admin (/admin/ on the public host), per client IP and account.
ADMIN_LOGIN_FAILURES = Limit("admin-login-failed", "RATE_LIMIT_ADMIN_LOGIN_FAILURES")
# Requests to invitation links (/invitations/<token>/, GET and POST), per client IP.
INVITATION = Limit("invitation", "RATE_LIMIT_INVITATION")
# Wrong passwords given to accept an invitation with an existing account, per invited account.
INVITATION_PASSWORD_FAILURES = Limit("invitation-password-failed", "RATE_LIMIT_INVITATION_PASSWORD_FAILURES")
# Invitations sent (POST /members/), per inviting member: each one sends an email.
INVITATION_SEND = Limit("invitation-send", "RATE_LIMIT_INVITATION_SEND")
# Refused one-time login tokens (/accounts/token/<token>/), per client IP.
LOGIN_TOKEN_FAILURES = Limit("login-token-refused", "RATE_LIMIT_LOGIN_TOKEN_FAILURES")
# One-time login tokens issued by switching workspaces (POST /accounts/switch/), per user.
LOGIN_TOKEN_ISSUE = Limit("login-token-issue", "RATE_LIMIT_LOGIN_TOKEN_ISSUE")


def too_many_requests(request: HttpRequest, *, retry_after: int, message: str) -> HttpResponse:
    """The refusal of a rate-limited request: 429 with `Retry-After: <seconds>`, `Cache-Control: no-store`,
    and the page 429.html saying `message` (what was refused) and how long to wait."""
    context = {"message": message, "retry_after": retry_after, "retry_minutes": math.ceil(retry_after / 60)}
    response = render(request, "429.html", context, status=HTTPStatus.TOO_MANY_REQUESTS)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


def rate_limited(
    limit: Limit, *, message: str, key: Key = "ip", methods: tuple[str, ...] = ("POST",)
) -> Callable[[View], View]:
    """Decorate a view: each request with one of `methods` counts against `limit` under `key`; one over
    the limit gets `too_many_requests` (429) and the view is not called. Other methods are not counted."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if request.method in methods:
                wait = limit.hit(request, key=key)
                if wait is not None:
                    return too_many_requests(request, retry_after=wait, message=message)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def failures_limited(
    limit: Limit,
    *,
    message: str,
    failed: Callable[[HttpRequest, HttpResponse], bool],
    key: Key = "ip",
    methods: tuple[str, ...] = ("POST",),
) -> Callable[[View], View]:
    """Decorate a view whose failures are limited (a login): once `key` has as many failures as `limit`
    allows, every request with one of `methods` gets `too_many_requests` (429), a right password included,
    until the window ends. A response for which `failed(request, response)` is true counts as one failure."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if request.method in methods:
                wait = limit.reached(request, key=key)
                if wait is not None:
                    return too_many_requests(request, retry_after=wait, message=message)
            response = view(request, *args, **kwargs)
            if failed(request, response):
                limit.failed(request, key=key)
            return response

        return wrapper

    return decorate


# The period of each rate in an allauth rate list ("10/m/ip,5/300s/key" -> "m", "300s").
_PERIOD = re.compile(r"\d+/(\d*(?:\.\d+)?[smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(period: str) -> int:
    return math.ceil(float(period[:-1] or 1) * _UNIT_SECONDS[period[-1]])


# django-allauth's views (their URL names) and the rate-limit actions that guard them (settings.ACCOUNT_RATE_LIMITS).
_ALLAUTH_ACTIONS = {
    "account_login": "login",
    "account_reset_password": "reset_password",
    "account_reset_password_from_key": "reset_password_from_key",
    "account_email": "manage_email",
    "account_change_password": "change_password",
    "account_confirm_email": "confirm_email",
    "account_reauthenticate": "reauthenticate",
}


def allauth_handler429(request: HttpRequest) -> HttpResponse:
    """django-allauth's 429 page (it calls `handler429` of settings.ROOT_URLCONF): the project's 429.html with a
    Retry-After of the longest period among the rates of the action refused (an upper bound: allauth counts
    in sliding windows and does not say when one frees up); 60 s when the action is not known."""
    match = getattr(request, "resolver_match", None)
    action = _ALLAUTH_ACTIONS.get(getattr(match, "url_name", "") or "", "")
    rates = (allauth_account_settings.RATE_LIMITS.get(action) or "") if action else ""
    wait = max((_seconds(period) for period in _PERIOD.findall(rates)), default=60)
    return too_many_requests(request, retry_after=wait, message="Too many attempts from your address or account.")
