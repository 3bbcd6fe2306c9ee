"""Routing state kept per process: the host name -> tenant directory, and bounded schema wandering per connection.

**Directory.** TenantRoutingMiddleware resolves a request's host through `directory`, an LRU of
settings.TENANCY_ROUTING_CACHE_SIZE host names (unknown ones included, so a flood of random Host headers
costs one query per name, not per request). Every save or delete of a Tenant or Domain calls
`tenants_changed`, which empties this process's directory and increments TENANTS_VERSION_KEY in Redis
when the project has Redis (settings.REDIS_URL); other processes read that counter once per request
(one Redis GET, no SQL) and empty theirs when it moved. Without Redis, or while Redis is unreachable,
entries expire after settings.TENANCY_ROUTING_CACHE_SECONDS instead. Routing costs at most one SQL
statement per request (TenantDirectory.route): for a known host the `SET search_path` django-tenants
issues before the request's first query (settings.TENANT_LIMIT_SET_CALLS), for an unknown one a lookup
that sets the search path in the same statement. The stock middleware issues three (a `SET search_path`
to public, the domain lookup, then the tenant's `SET search_path`).

**Wandering connections.** PostgreSQL keeps catalog entries for every schema a backend touched, for the
life of the connection: a persistent connection (CONN_MAX_AGE, a Celery worker) that serves thousands of
tenants grows by hundreds of megabytes (../shared/docs/BENCHMARKS.md: 258 MB after 2,000 tenants,
1.46 GB after 10,000). `connection_schema_visited` counts the distinct schemas each database connection
served and closes it after settings.TENANCY_CONNECTION_MAX_SCHEMAS; Django opens a fresh one on the next
query.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django_tenants.utils import get_public_schema_name

if TYPE_CHECKING:
    from .models import Tenant

logger = logging.getLogger(__name__)

TENANTS_VERSION_KEY = "tenancy:tenants-version"
_UNREACHABLE = b"unreachable"  # version while Redis does not answer: entries then expire by age


@dataclass
class _Entry:
    tenant: Tenant | None
    loaded: float


class TenantDirectory:
    """Host name (normalised, see TenantRoutingMiddleware.hostname_from_request) -> Tenant, per process.

    Thread-safe. `lookup` returns a copy of the cached tenant (the middleware sets `domain_url` on it), or
    None for a host no domain names. `queries` counts database lookups made to fill it.
    """

    def __init__(self) -> None:
        self._items: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._version: bytes | None = None
        self._redis: Any = None
        self._redis_url: str | None = None
        self.queries = 0

    def clear(self) -> None:
        """Forget every host (this process only; `tenants_changed` tells the others)."""
        with self._lock:
            self._items.clear()

    def _shared_version(self) -> bytes | None:
        """TENANTS_VERSION_KEY from Redis; None without Redis, _UNREACHABLE when Redis does not answer."""
        url = getattr(settings, "REDIS_URL", "") or ""
        if not url:
            return None
        if self._redis is None or self._redis_url != url:
            import redis

            self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
            self._redis_url = url
        try:
            value = self._redis.get(TENANTS_VERSION_KEY)
        except Exception:  # any Redis failure: fall back to expiry by age, never fail the request
            return _UNREACHABLE
        return value if isinstance(value, bytes) else b"0"

    _MISS = object()

    def _cached(self, hostname: str) -> Any:
        """The cached tenant (a copy) or None for `hostname`, or _MISS when it must be looked up."""
        version = self._shared_version()
        # With a shared version, entries live until it moves; otherwise for TENANCY_ROUTING_CACHE_SECONDS.
        max_age = None if version not in (None, _UNREACHABLE) else float(settings.TENANCY_ROUTING_CACHE_SECONDS)
        with self._lock:
            # While Redis does not answer, keep the last version seen: entries expire by age meanwhile.
            if version != self._version and version is not _UNREACHABLE:
                self._items.clear()
                self._version = version
            entry = self._items.get(hostname)
            if entry is not None and (max_age is None or time.monotonic() - entry.loaded < max_age):
                self._items.move_to_end(hostname)
                return copy.copy(entry.tenant)
        return self._MISS

    def _store(self, hostname: str, tenant: Tenant | None, loaded: float) -> None:
        with self._lock:
            self._items[hostname] = _Entry(tenant=copy.copy(tenant), loaded=loaded)
            self._items.move_to_end(hostname)
            while len(self._items) > int(settings.TENANCY_ROUTING_CACHE_SIZE):
                self._items.popitem(last=False)

    def lookup(self, hostname: str) -> Tenant | None:
        """The tenant whose Domain is `hostname` (a copy), or None. Costs no SQL when cached (at most one
        Redis GET); on a miss one ORM query of the public schema (call it with the connection there)."""
        cached = self._cached(hostname)
        if cached is not self._MISS:
            return cached
        loaded = time.monotonic()
        tenant = self._query(hostname)
        self._store(hostname, tenant, loaded)
        return copy.copy(tenant)

    def _query(self, hostname: str) -> Tenant | None:
        from .models import Domain

        self.queries += 1
        domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
        return domain.tenant if domain is not None else None

    def route(self, hostname: str, connection: Any) -> Tenant | None:
        """Resolve `hostname` for a request and point `connection` at the tenant's schema, in at most one
        SQL statement: none when the host is cached (the `SET search_path` comes with the first query), and
        on a miss one statement that both looks the domain up and sets the search path (`set_config`).

        Returns the tenant (a copy), or None for an unknown host. `connection` is django-tenants' database
        wrapper; it is left set to the tenant (`set_tenant`).
        """
        cached = self._cached(hostname)
        if cached is not self._MISS:
            if cached is not None:
                connection.set_tenant(cached)
            return cached
        loaded = time.monotonic()
        tenant = self._query_and_switch(hostname, connection)
        self._store(hostname, tenant, loaded)
        return tenant

    def _query_and_switch(self, hostname: str, connection: Any) -> Tenant | None:
        """One statement: the tenant of `hostname` from the public schema's tables (schema-qualified, so the
        connection's current search path does not matter), with the search path set to that tenant's schema
        and public in the same SELECT. django-tenants is then told the path is set (TENANT_LIMIT_SET_CALLS),
        so it does not issue its own `SET search_path` before the request's first query."""
        from .models import Domain, Tenant

        self.queries += 1
        quote = connection.ops.quote_name
        public = get_public_schema_name()
        columns = [field.column for field in Tenant._meta.concrete_fields]
        # Quoted names of our own tables and columns; the host is a parameter.
        sql = (
            "SELECT "  # noqa: S608
            + ", ".join(f"t.{quote(column)}" for column in columns)
            + ", set_config('search_path', CASE WHEN t.schema_name = %s THEN quote_ident(%s)"
            " ELSE quote_ident(t.schema_name) || ',' || quote_ident(%s) END, false)"
            f" FROM {quote(public)}.{quote(Domain._meta.db_table)} d"
            f" JOIN {quote(public)}.{quote(Tenant._meta.db_table)} t ON t.id = d.tenant_id"
            " WHERE d.domain = %s"
        )
        connection.ensure_connection()
        # The driver's own cursor: Django's would first issue django-tenants' `SET search_path`.
        with connection.connection.cursor() as cursor:
            cursor.execute(sql, [public, public, public, hostname])
            row = cursor.fetchone()
        if row is None:
            connection.set_schema_to_public()  # the search path is untouched: the next query sets it
            return None
        tenant = Tenant.from_db(connection.alias, [field.attname for field in Tenant._meta.concrete_fields], row[:-1])
        connection.set_tenant(tenant)
        expected = [tenant.schema_name] if tenant.schema_name == public else [tenant.schema_name, public]
        if connection._get_cursor_search_paths() == expected:  # no PG_EXTRA_SEARCH_PATHS to add
            connection.search_path_set_schemas = expected
        return tenant


directory = TenantDirectory()


def tenants_changed(**_: Any) -> None:
    """Announce that tenants or domains changed: empty this process's directory at once, and once the
    transaction commits (at once outside one) empty it again and increment TENANTS_VERSION_KEY in Redis
    (when the project has Redis), so that every other web process and Celery worker empties its caches
    before its next request or task. Announcing before the commit would let them reload the old rows.

    Connected to post_save / post_delete of Tenant and Domain; call it after bulk changes that skip
    signals (QuerySet.update, raw SQL). Never raises: a Redis outage must not fail a tenant change
    (other processes then see it within TENANCY_ROUTING_CACHE_SECONDS).
    """
    directory.clear()
    transaction.on_commit(_announce, robust=True)


def _announce() -> None:
    directory.clear()
    url = getattr(settings, "REDIS_URL", "") or ""
    if not url:
        return
    try:
        import redis

        redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).incr(TENANTS_VERSION_KEY)
    except Exception:
        logger.warning("could not announce a tenant change through Redis; other processes see it within %s s",
                       settings.TENANCY_ROUTING_CACHE_SECONDS)  # fmt: skip


def connect_signals() -> None:
    """Call tenants_changed on every save and delete of a Tenant or Domain (from TenancyConfig.ready)."""
    from .models import Domain, Tenant

    for model in (Tenant, Domain):
        post_save.connect(tenants_changed, sender=model, dispatch_uid=f"tenants_changed_save_{model.__name__}")
        post_delete.connect(tenants_changed, sender=model, dispatch_uid=f"tenants_changed_delete_{model.__name__}")


def connection_schema_visited(connection: Any, schema_name: str) -> bool:
    """Record that the open database `connection` served `schema_name`; close the connection once it has
    served more than settings.TENANCY_CONNECTION_MAX_SCHEMAS distinct schemas (0 turns this off).
    Returns whether it was closed. Call it between requests or tasks, never inside a transaction.
    """
    limit = int(settings.TENANCY_CONNECTION_MAX_SCHEMAS)
    raw = getattr(connection, "connection", None)
    if not limit or raw is None or schema_name == get_public_schema_name():
        return False
    if getattr(connection, "_tenancy_raw_id", None) != id(raw):
        connection._tenancy_raw_id = id(raw)
        connection._tenancy_schemas = set()
    visited: set[str] = connection._tenancy_schemas
    visited.add(schema_name)
    if len(visited) <= limit or connection.in_atomic_block:
        return False
    logger.info("closing a database connection that served %s schemas (TENANCY_CONNECTION_MAX_SCHEMAS)", len(visited))
    connection.close()
    connection._tenancy_raw_id = None
    return True
