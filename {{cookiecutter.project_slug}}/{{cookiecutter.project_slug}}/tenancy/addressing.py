"""Where a tenant lives: its base path and its absolute URLs, in the project's routing mode.

settings.TENANCY_ROUTING (read on every call, so tests may override it) decides:

- "domain" (default): each tenant on a host of its own. Base path "", base URL
  `<scheme>://<primary domain>[:<port>]`, e.g. `http://acme.localhost:8000`.
- "path": one public host; tenant `acme` under `/<settings.TENANCY_PATH_PREFIX>/acme`. Base path
  `/<prefix>/acme`, base URL `<scheme>://<public host>[:<port>]/<prefix>/acme`, e.g.
  `http://localhost:8000/clinic/acme`. A custom domain the tenant may also have keeps routing by host
  (tenancy.middleware), but links the project produces use the public host.

Every absolute tenant URL the project produces (emails, Celery reminders, the tenant picker and switcher, the
sign-up redirect, commands printing URLs) is built here, so apps never branch on the mode. Inside a request
on a tenant, `reverse()` and templates already produce the right paths (the routing middleware sets the script
prefix); these functions are for URLs that leave the request: another tenant, another host, an email.

Scheme, host and port come from the settings and the database, never from a request: scheme
settings.ACCOUNT_DEFAULT_HTTP_PROTOCOL ("http" or "https"), port settings.TENANCY_PUBLIC_PORT (0 or the
scheme's default port: none in the URL), the public host the public tenant's primary domain
(settings.TENANCY_BASE_DOMAIN when it has none). A Host header (its host or its port) never decides where an
emailed link leads. Only a redirect answering a request may pass that `request`: its scheme and the port of
its Host header are used instead (the browser already talks to this server there, e.g. a test server on
a random port), never its host name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.urls import get_script_prefix, reverse
from django_tenants.utils import get_public_schema_name

from ..errors import NotFound, shown
from .models import Domain

if TYPE_CHECKING:
    from .models import Tenant

ROUTING_MODES = ("domain", "path")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class TenantUnaddressable(NotFound):
    """In domain mode, the tenant has no domain, so no URL leads to it (a tenant being created or adopted)."""


def routing_mode() -> str:
    """settings.TENANCY_ROUTING: "domain" (missing setting: the default) or "path".

    Raises ImproperlyConfigured naming the value for anything else.
    """
    mode = getattr(settings, "TENANCY_ROUTING", "domain")
    if mode not in ROUTING_MODES:
        raise ImproperlyConfigured(f"TENANCY_ROUTING is {shown(mode)}; accepted: {', '.join(ROUTING_MODES)}")
    return str(mode)


def path_prefix() -> str:
    """settings.TENANCY_PATH_PREFIX (default "t"): the first path segment of tenant URLs in path mode, no slashes."""
    return str(getattr(settings, "TENANCY_PATH_PREFIX", "t") or "t").strip("/")


def _origin(host: str, *, request: HttpRequest | None = None, port: int | None = None) -> str:
    """`<scheme>://<host>[:<port>]`: scheme and port from the settings, or from `request` when given; `port`
    given replaces the port. A port that is the scheme's default is left out."""
    if request is not None:
        scheme = request.scheme or "http"
        _host, request_port = split_domain_port(request.get_host())
        chosen = int(request_port) if request_port else 0
    else:
        scheme = str(getattr(settings, "ACCOUNT_DEFAULT_HTTP_PROTOCOL", "http"))
        chosen = int(getattr(settings, "TENANCY_PUBLIC_PORT", 0) or 0)
    if port is not None:
        chosen = port
    shown_port = f":{chosen}" if chosen and chosen != _DEFAULT_PORTS.get(scheme) else ""
    return f"{scheme}://{host}{shown_port}"


def public_host() -> str:
    """The public host's name: the public tenant's primary domain, settings.TENANCY_BASE_DOMAIN when it has none.

    One query."""
    domain = (
        Domain.objects.filter(tenant__schema_name=get_public_schema_name(), is_primary=True)
        .values_list("domain", flat=True)
        .first()
    )
    return domain or str(settings.TENANCY_BASE_DOMAIN)


def public_base_url(*, request: HttpRequest | None = None, port: int | None = None) -> str:
    """Absolute URL of the public host, no trailing slash: `<scheme>://<public host>[:<port>]` (module docstring).

    `port`: this port instead (commands told which port the server listens on, e.g. seed_demo --port)."""
    return _origin(public_host(), request=request, port=port)


def public_url(path: str, *, request: HttpRequest | None = None) -> str:
    """Absolute URL of `path` (starting with "/", query allowed) on the public host, in both modes: links in
    emails and redirects from tenants to the public site's account pages.

    Raises ValueError when `path` does not start with "/".
    """
    _check_path(path)
    return public_base_url(request=request) + path


def tenant_base_path(tenant: Tenant) -> str:
    """The path prefix of `tenant`'s pages on its base URL: "" in domain mode, "/<prefix>/<slug>" in path mode
    (no trailing slash). No query: prepend it to a path for a link on the same host."""
    if routing_mode() == "path":
        return f"/{path_prefix()}/{tenant.slug}"
    return ""


def tenant_base_url(tenant: Tenant, *, request: HttpRequest | None = None, port: int | None = None) -> str:
    """Absolute URL of `tenant`'s home, no trailing slash (module docstring for scheme and port):
    domain mode `<scheme>://<primary domain>[:<port>]`, path mode `<scheme>://<public host>[:<port>]/<prefix>/<slug>`.

    `request`: only for a redirect answering it (its scheme and port are used); `port`: this port instead, as
    public_base_url. One query (the primary domain, or the public host). Raises TenantUnaddressable in domain
    mode when the tenant has no domain.
    """
    if routing_mode() == "path":
        return public_base_url(request=request, port=port) + tenant_base_path(tenant)
    domain = (
        Domain.objects.filter(tenant_id=tenant.pk)
        .order_by("-is_primary", "pk")
        .values_list("domain", flat=True)
        .first()
    )
    if domain is None:
        raise TenantUnaddressable(f"workspace {shown(tenant.slug)} has no domain, so no URL leads to it")
    return _origin(domain, request=request, port=port)


def tenant_base_urls(tenants: Iterable[Tenant]) -> dict[int, str | None]:
    """tenant_base_url of each of `tenants` (no request, the settings' port), keyed by primary key; None for a
    tenant no URL leads to (domain mode, no domain) instead of raising. For listings of many tenants: at most
    two queries in all (the public host; in domain mode the tenants' domains, none when they were prefetched as
    `domains`), where tenant_base_url costs one per tenant. The public tenant gets the public host's URL.
    """
    tenants = list(tenants)
    public = get_public_schema_name()
    if routing_mode() == "path":
        base = public_base_url()
        return {
            tenant.pk: base if tenant.schema_name == public else base + tenant_base_path(tenant) for tenant in tenants
        }
    if all("domains" in getattr(tenant, "_prefetched_objects_cache", {}) for tenant in tenants):
        domains = [domain for tenant in tenants for domain in tenant.domains.all()]
    else:
        domains = list(Domain.objects.filter(tenant_id__in=[tenant.pk for tenant in tenants]))
    # tenant_base_url's choice: the primary domain, else the oldest.
    chosen: dict[int, Domain] = {}
    for domain in sorted(domains, key=lambda domain: (not domain.is_primary, domain.pk)):
        chosen.setdefault(domain.tenant_id, domain)
    urls: dict[int, str | None] = {}
    for tenant in tenants:
        if tenant.schema_name == public:
            urls[tenant.pk] = public_base_url()  # one tenant at most
        else:
            urls[tenant.pk] = _origin(chosen[tenant.pk].domain) if tenant.pk in chosen else None
    return urls


def tenant_url(tenant: Tenant, path: str, *, request: HttpRequest | None = None) -> str:
    """Absolute URL of `path` (starting with "/", query allowed; a path of the tenant URLconf, without the base
    path: `reverse(..., urlconf=settings.ROOT_URLCONF)` outside a request on the tenant) on `tenant`:
    tenant_base_url(tenant) + path, e.g. `http://localhost/clinic/acme/products/` in path mode.

    Raises ValueError when `path` does not start with "/", TenantUnaddressable as tenant_base_url.
    """
    _check_path(path)
    return tenant_base_url(tenant, request=request) + path


def unprefixed_reverse(viewname: str, *, urlconf: str, kwargs: dict[str, object] | None = None) -> str:
    """The path of view `viewname` (with `kwargs`) in `urlconf` (a URLconf module's dotted path), without the
    script prefix of the current request: during a request on a tenant in path mode, reverse() puts
    `/<prefix>/<slug>` in front, which a path on the public host or on another tenant must not carry.
    Raises NoReverseMatch for an unknown view."""
    path = reverse(viewname, urlconf=urlconf, kwargs=kwargs)
    prefix = get_script_prefix()
    if prefix != "/" and path.startswith(prefix):
        path = "/" + path[len(prefix) :]
    return path


def public_reverse_url(viewname: str, *, kwargs: dict[str, object] | None = None, query: str = "") -> str:
    """Absolute URL of the public URLconf's (settings.PUBLIC_SCHEMA_URLCONF) view `viewname` on the public host,
    `query` (without "?") appended: public_url of its path, wherever this runs (a tenant's request in path mode
    included). Raises NoReverseMatch for an unknown view."""
    path = unprefixed_reverse(viewname, urlconf=settings.PUBLIC_SCHEMA_URLCONF, kwargs=kwargs)
    return public_url(path + (f"?{query}" if query else ""))


def tenant_reverse_url(
    tenant: Tenant,
    viewname: str,
    *,
    kwargs: dict[str, object] | None = None,
    query: str = "",
    request: HttpRequest | None = None,
) -> str:
    """Absolute URL of the tenant URLconf's view `viewname` (with `kwargs`) on `tenant`, `query` (without "?";
    "" for none) appended: tenant_url(tenant, <its path>). Works anywhere: in a request on this or another
    tenant (the script prefix the routing middleware set in path mode is not repeated), on the public host, in a
    Celery task or a command. Raises NoReverseMatch for an unknown view, TenantUnaddressable as tenant_base_url.
    """
    path = unprefixed_reverse(viewname, urlconf=settings.ROOT_URLCONF, kwargs=kwargs)
    return tenant_url(tenant, path + (f"?{query}" if query else ""), request=request)


def _check_path(path: str) -> None:
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"path {shown(path)} must be an absolute path starting with a single '/'")
