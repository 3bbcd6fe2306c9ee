"""Where the work in progress comes from, for the audit log: set at the edges, read by `audit_record`.

- web requests: `AuditContextMiddleware` (settings.MIDDLEWARE) keeps the request, whose logged-in user and
  client IP (django-allauth's adapter: REMOTE_ADDR, or X-Forwarded-For behind ALLAUTH_TRUSTED_PROXY_COUNT
  proxies) are read when an event is recorded;
- management commands: `origin_set("cli:<command>", os_user=...)` around the command
  (tenancy.management.base.ProjectCommand does it for every project command);
{%- if cookiecutter.use_celery == "y" %}
- Celery tasks: `task:<task name>` (celery_origin.py, on task_prerun / task_postrun).
{%- endif %}

Without any of them (a shell, a test) the origin is empty.
"""

from __future__ import annotations

import contextlib
import getpass
import ipaddress
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured, PermissionDenied

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse


@dataclass(frozen=True)
class Origin:
    """Where work comes from: `label` (web, cli:<command>, task:<name>), `os_user` for commands and,
    for a web request, the request itself (its user and client IP are read when needed)."""

    label: str = ""
    os_user: str = ""
    request: HttpRequest | None = None

    def user(self) -> Any:
        """The request's authenticated user, or None (no request, anonymous)."""
        user = getattr(self.request, "user", None)
        return user if user is not None and user.is_authenticated else None

    def ip_address(self) -> str | None:
        """The request's client IP (None without a request or when no valid address can be told)."""
        if self.request is None:
            return None
        from allauth.account.adapter import get_adapter  # reads allauth settings: imported once apps are loaded

        try:
            ip = get_adapter(self.request).get_client_ip(self.request)
        except (PermissionDenied, ImproperlyConfigured):
            ip = self.request.META.get("REMOTE_ADDR")
        try:
            return str(ipaddress.ip_address((ip or "").strip()))
        except ValueError:
            return None


_NONE = Origin()
_current: ContextVar[Origin] = ContextVar("audit_origin", default=_NONE)


def origin_current() -> Origin:
    """The origin of the work in progress (an empty Origin when no edge set one)."""
    return _current.get()


@contextlib.contextmanager
def origin_set(label: str, *, os_user: str = "", request: HttpRequest | None = None) -> Iterator[Origin]:
    """Make `label` (e.g. "cli:drop_schema"), `os_user` and `request` the origin while the block runs; the
    previous origin is restored afterwards (also on error)."""
    token = origin_push(Origin(label=label, os_user=os_user, request=request))
    try:
        yield _current.get()
    finally:
        origin_pop(token)


def origin_push(origin: Origin) -> Token[Origin]:
    """Make `origin` current until `origin_pop(token)`; for edges without a `with` block (Celery signals)."""
    return _current.set(origin)


def origin_pop(token: Token[Origin]) -> None:
    """Restore the origin that was current before `origin_push` returned `token`."""
    _current.reset(token)


def os_user() -> str:
    """The operating-system user running this process ("" when it cannot be told)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


@contextlib.contextmanager
def command_origin(name: str) -> Iterator[Origin]:
    """The origin of management command `name`: `cli:<name>` with the OS user."""
    with origin_set(f"cli:{name}", os_user=os_user()) as origin:
        yield origin


class AuditContextMiddleware:
    """Make each web request the audit origin ("web", its user and client IP) while it is handled."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with origin_set("web", request=request):
            return self.get_response(request)
