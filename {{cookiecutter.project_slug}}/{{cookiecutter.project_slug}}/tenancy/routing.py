"""Routing state kept per process: the host name -> tenant directory, and bounded schema wandering per connection.

**Directory.** TenantRoutingMiddleware resolves a request's host through `directory`, an LRU of
settings.TENANCY_ROUTING_CACHE_SIZE host names (unknown ones included, so a flood of random Host headers
costs one lookup per name, not per request). Each entry holds the routing version it was loaded at
(tenancy.models.RoutingVersion): database triggers on the tenant and domain tables bump it in the writing
transaction, whatever wrote the rows (ORM save, QuerySet.update, raw SQL, psql, a restore, another host),
and every request reads it in the same statement that sets the search path. The first request that
starts after a change commits therefore routes by the new state, in every process, with or without
Redis. Routing costs one SQL statement per request for a known host (version and search path together)
and one for an unknown one (the domain lookup, which reads the version and sets the search path too);
two on the request after a change. The stock middleware issues three (a `SET search_path` to public, the
domain lookup, then the tenant's `SET search_path`).

**Path routing** (settings.TENANCY_ROUTING = "path") keeps tenant slugs in the same directory, keyed `/<slug>`
(no host name starts with a slash), with the same versions: a request for `/<prefix>/<slug>/...` costs one
statement when its host and slug are known (TenantDirectory.route_path), and one more after a change.

**Wandering connections.** PostgreSQL keeps catalog entries for every schema a backend touched, for the
life of the connection: a persistent connection (CONN_MAX_AGE, a Celery worker) that serves thousands of
tenants grows by hundreds of megabytes (measured on PostgreSQL 15: 258 MB after 2,000 tenants,
1.46 GB after 10,000). `connection_schema_visited` counts the distinct schemas each database connection
served and closes it after settings.TENANCY_CONNECTION_MAX_SCHEMAS; Django opens a fresh one on the next
query.

**Connection slots.** A backend's first query in a schema it has not met yet costs about three times a warm
one (catalog entries are read for every table and index the query plans over). With one connection per
server thread, every thread meets every hot tenant: 8 threads over 2,000 hot hosts meet 16,000 schemas, and
once a thread's connection passes TENANCY_CONNECTION_MAX_SCHEMAS it is closed and starts meeting them again.
With settings.TENANCY_CONNECTION_SLOTS = N (> 0), each server process keeps N database connections for
requests and serves a host on the slot its name hashes to (ConnectionSlots), so each connection meets about
1/N of the hot hosts and stays warm for them; while another request holds that slot, the request runs on the
thread's own connection once it has waited SLOT_WAIT_SECONDS for it.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models.signals import post_delete, post_save
from django_tenants.utils import get_public_schema_name

if TYPE_CHECKING:
    # app loading: celery_tenancy imports this module before the models are ready
    from .models import Tenant

logger = logging.getLogger(__name__)

NO_VERSION = -1  # the version row is missing: every request looks its host up
# Seconds a request waits for its host's connection slot while another request holds it (ConnectionSlots.lease)
# before it runs on its thread's own connection: a few typical requests' time (a routed page takes 1-5 ms).
SLOT_WAIT_SECONDS = 0.02


@dataclass
class _Entry:
    tenant: Tenant | None
    version: int


def _fetch_one(connection: Any, sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    connection.ensure_connection()
    # The driver's own cursor: Django's would first issue django-tenants' `SET search_path`.
    with connection.connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return tuple(row) if row is not None else None


def _search_path_mark(tenant: Tenant | None, connection: Any) -> None:
    """Point django-tenants at `tenant` (public for None) and tell it the search path is already set
    (TENANT_LIMIT_SET_CALLS), so it issues no `SET search_path` of its own."""
    if tenant is None:
        connection.set_schema_to_public()  # the search path is untouched: the next query sets it
        return
    connection.set_tenant(tenant)
    public = get_public_schema_name()
    expected = [tenant.schema_name] if tenant.schema_name == public else [tenant.schema_name, public]
    if connection._get_cursor_search_paths() == expected:  # no PG_EXTRA_SEARCH_PATHS to add
        connection.search_path_set_schemas = expected


def routing_version_switch(tenant: Tenant | None, connection: Any) -> int:
    """Read the routing version (tenancy.models.RoutingVersion) and point `connection` (django-tenants' database
    wrapper) at `tenant`'s schema and public, in one statement that replaces django-tenants' `SET search_path`;
    for None the search path is left to the next query (public). Returns the version, NO_VERSION when the row
    is missing. For web requests (TenantDirectory.route) and Celery tasks (tenancy.celery_tenancy)."""
    # app loading: celery_tenancy imports this module before the models are ready
    from .models import RoutingVersion

    quote = connection.ops.quote_name
    public = get_public_schema_name()
    table = f"{quote(public)}.{quote(RoutingVersion._meta.db_table)}"
    if tenant is None:
        row = _fetch_one(connection, f"SELECT (SELECT version FROM {table} WHERE id = 1)", [])  # noqa: S608
    else:
        schema = quote(tenant.schema_name)
        path = schema if tenant.schema_name == public else f"{schema},{quote(public)}"
        sql = f"SELECT (SELECT version FROM {table} WHERE id = 1), set_config('search_path', %s, false)"  # noqa: S608
        row = _fetch_one(connection, sql, [path])
    _search_path_mark(tenant, connection)
    return NO_VERSION if row is None or row[0] is None else int(row[0])


class TenantDirectory:
    """Host name (normalised, see TenantRoutingMiddleware.hostname_from_request) -> Tenant, and in path routing
    `/<slug>` -> Tenant (never the public tenant), per process.

    Thread-safe. Entries are valid for one routing version (tenancy.models.RoutingVersion, bumped by database
    triggers with every committed change to tenants or domains); the version is read with every `route`, in
    the statement that sets the search path, so no write path can leave an entry stale. `queries` counts the
    domain (and slug) lookups made to fill it.
    """

    def __init__(self) -> None:
        self._items: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.queries = 0

    def clear(self) -> None:
        """Forget every host (this process only; the routing version tells the others)."""
        with self._lock:
            self._items.clear()

    def _cached(self, hostname: str) -> _Entry | None:
        with self._lock:
            entry = self._items.get(hostname)
            if entry is not None:
                self._items.move_to_end(hostname)
            return entry

    def _store(self, hostname: str, tenant: Tenant | None, version: int) -> None:
        with self._lock:
            self._items[hostname] = _Entry(tenant=copy.copy(tenant), version=version)
            self._items.move_to_end(hostname)
            while len(self._items) > int(settings.TENANCY_ROUTING_CACHE_SIZE):
                self._items.popitem(last=False)

    def lookup(self, hostname: str) -> Tenant | None:
        """The tenant whose Domain is `hostname` (a copy), or None, for code outside a request (call it with the
        connection in the public schema). One query for the routing version, and one ORM query on a miss."""
        version = self._version_read()
        entry = self._cached(hostname)
        if entry is not None and entry.version == version:
            return copy.copy(entry.tenant)
        # app loading: celery_tenancy imports this module before the models are ready
        from .models import Domain

        self.queries += 1
        domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
        tenant = domain.tenant if domain is not None else None
        self._store(hostname, tenant, version)
        return copy.copy(tenant)

    @staticmethod
    def _version_read() -> int:
        # app loading: celery_tenancy imports this module before the models are ready
        from .models import RoutingVersion

        value = RoutingVersion.objects.filter(id=1).values_list("version", flat=True).first()
        return NO_VERSION if value is None else int(value)

    def route(self, hostname: str, connection: Any) -> Tenant | None:
        """Resolve `hostname` for a request and point `connection` at the tenant's schema, in one SQL statement
        while the host's entry is current: it reads the routing version and sets the search path together. When
        the version moved, or the host is not cached, one more (or only one) statement looks the domain up,
        reads the version and sets the search path (`set_config`).

        Returns the tenant (a copy), or None for an unknown host. `connection` is django-tenants' database
        wrapper; it is left set to the tenant (`set_tenant`), or to public for an unknown host.
        """
        entry = self._cached(hostname)
        if entry is not None and routing_version_switch(entry.tenant, connection) == entry.version:
            return copy.copy(entry.tenant)
        tenant, version = self._query_and_switch(hostname, connection)
        self._store(hostname, tenant, version)
        return tenant

    def route_path(self, hostname: str, slug: str, connection: Any) -> tuple[Tenant | None, bool]:
        """Resolve a path-routed request, `/<prefix>/<slug>/...` on host `hostname`, and point `connection` at the
        tenant's schema, in one SQL statement while both entries (the host's, the slug's) are current.

        The host decides first: the public tenant's host serves the tenant with `slug` (None for an unknown
        slug or the public tenant's own); another tenant's host (a custom domain) serves that tenant, as in
        domain routing; an unknown host serves nobody. Returns (tenant or None, whether the slug chose it); the
        tenant is a copy. Cached entries are checked against the routing version read in the statement that
        sets the search path; otherwise one statement (_query_and_switch_path) looks both up, reads the
        version and sets the search path.
        """
        host = self._cached(hostname)
        by_slug = self._cached(_slug_key(slug))
        if host is not None and by_slug is not None:
            tenant, by_path = _path_target(host.tenant, by_slug.tenant)
            version = routing_version_switch(tenant, connection)
            if version == host.version == by_slug.version:
                return copy.copy(tenant), by_path
        host_tenant, slug_tenant, version = self._query_and_switch_path(hostname, slug, connection)
        self._store(hostname, host_tenant, version)
        self._store(_slug_key(slug), slug_tenant, version)
        tenant, by_path = _path_target(host_tenant, slug_tenant)
        return copy.copy(tenant), by_path

    def _query_and_switch(self, hostname: str, connection: Any) -> tuple[Tenant | None, int]:
        """One statement: the routing version and the tenant of `hostname` from the public schema's tables
        (schema-qualified, so the connection's current search path does not matter), with the search path set
        to that tenant's schema and public in the same SELECT. Returns (tenant or None, version)."""
        # app loading: celery_tenancy imports this module before the models are ready
        from .models import Domain, Tenant

        self.queries += 1
        quote = connection.ops.quote_name
        public = get_public_schema_name()
        # Quoted names of our own tables and columns; the host is a parameter.
        sql = (
            f"SELECT {_version_column(connection)}, {_tenant_columns('t', connection)}, "  # noqa: S608
            f"{_search_path_switch('t.schema_name')}"
            " FROM (SELECT 1) one"
            f" LEFT JOIN ({quote(public)}.{quote(Domain._meta.db_table)} d"
            f" JOIN {quote(public)}.{quote(Tenant._meta.db_table)} t ON t.id = d.tenant_id) ON d.domain = %s"
        )
        row = _fetch_one(connection, sql, [public, public, public, hostname])
        assert row is not None  # one row always: the version, and the tenant's columns or NULLs
        version = NO_VERSION if row[0] is None else int(row[0])
        tenant = _tenant_from(row[1:-1], connection)
        _search_path_mark(tenant, connection)
        return tenant, version

    def _query_and_switch_path(
        self, hostname: str, slug: str, connection: Any
    ) -> tuple[Tenant | None, Tenant | None, int]:
        """One statement: the routing version, the tenant of `hostname` (a Domain row) and the tenant whose slug is
        `slug` (never the public tenant), with the search path set to the tenant route_path serves (the slug's
        on the public tenant's host, else the host's). Returns (host's tenant, slug's tenant, version)."""
        # app loading: celery_tenancy imports this module before the models are ready
        from .models import Domain, Tenant

        self.queries += 1
        quote = connection.ops.quote_name
        public = get_public_schema_name()
        tenants = f"{quote(public)}.{quote(Tenant._meta.db_table)}"
        # Quoted names of our own tables and columns; the host and slug are parameters.
        sql = (
            f"SELECT {_version_column(connection)}, {_tenant_columns('h', connection)}, "  # noqa: S608
            f"{_tenant_columns('s', connection)}, "
            f"{_search_path_switch('x.schema_name')}"
            " FROM (SELECT 1) one"
            f" LEFT JOIN ({quote(public)}.{quote(Domain._meta.db_table)} d"
            f" JOIN {tenants} h ON h.id = d.tenant_id) ON d.domain = %s"
            f" LEFT JOIN {tenants} s ON s.slug = %s AND s.schema_name <> %s"
            # the schema served: the slug's on the public tenant's host, else the host's (_path_target)
            " CROSS JOIN LATERAL (SELECT CASE WHEN h.schema_name = %s THEN s.schema_name ELSE h.schema_name END"
            " AS schema_name) x"
        )
        row = _fetch_one(connection, sql, [public, public, public, hostname, slug, public, public])
        assert row is not None  # one row always: the version, and both tenants' columns or NULLs
        version = NO_VERSION if row[0] is None else int(row[0])
        width = len(Tenant._meta.concrete_fields)
        host_tenant = _tenant_from(row[1 : 1 + width], connection)
        slug_tenant = _tenant_from(row[1 + width : 1 + 2 * width], connection)
        tenant, _by_path = _path_target(host_tenant, slug_tenant)
        _search_path_mark(tenant, connection)
        return host_tenant, slug_tenant, version


def _slug_key(slug: str) -> str:
    """The directory key of a tenant slug (path routing): `/<slug>`, which no host name can be."""
    return f"/{slug}"


def _path_target(host_tenant: Tenant | None, slug_tenant: Tenant | None) -> tuple[Tenant | None, bool]:
    """The tenant a path-routed request serves (TenantDirectory.route_path), and whether its slug chose it."""
    if host_tenant is not None and host_tenant.schema_name == get_public_schema_name():
        return slug_tenant, True
    return host_tenant, False


def _version_column(connection: Any) -> str:
    """SQL reading the routing version (NULL when its row is missing)."""
    # app loading: celery_tenancy imports this module before the models are ready
    from .models import RoutingVersion

    quote = connection.ops.quote_name
    table = f"{quote(get_public_schema_name())}.{quote(RoutingVersion._meta.db_table)}"
    return f"(SELECT version FROM {table} WHERE id = 1)"  # noqa: S608  # quoted names of our own table


def _tenant_columns(alias: str, connection: Any) -> str:
    """SQL selecting every concrete column of the tenant table aliased `alias`, in field order."""
    # app loading: celery_tenancy imports this module before the models are ready
    from .models import Tenant

    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in Tenant._meta.concrete_fields)


def _search_path_switch(schema: str) -> str:
    """SQL setting the search path to the schema the SQL expression `schema` names, and public (public alone
    for the public schema); nothing for NULL. Takes three parameters, each the public schema's name."""
    return (
        f"CASE WHEN ({schema}) IS NULL THEN NULL ELSE set_config('search_path', CASE WHEN ({schema}) = %s"
        f" THEN quote_ident(%s) ELSE quote_ident({schema}) || ',' || quote_ident(%s) END, false) END"
    )


def _tenant_from(values: tuple[Any, ...], connection: Any) -> Tenant | None:
    """The Tenant whose concrete field values (in field order) are `values`, or None when they are NULLs."""
    # app loading: celery_tenancy imports this module before the models are ready
    from .models import Tenant

    names = [field.attname for field in Tenant._meta.concrete_fields]
    if values[names.index("id")] is None:
        return None
    return Tenant.from_db(connection.alias, names, list(values))


directory = TenantDirectory()


def tenants_changed(**_: Any) -> None:
    """Empty this process's directory now and again when the transaction commits: a fast path for the process
    that made a change. Nothing depends on it: every other process (and this one) follows the routing version
    that database triggers move with every committed change (see the module docstring).

    Connected to post_save / post_delete of Tenant and Domain.
    """
    directory.clear()
    transaction.on_commit(directory.clear, robust=True)


def connect_signals() -> None:
    """Call tenants_changed on every save and delete of a Tenant or Domain (from TenancyConfig.ready)."""
    # app loading: celery_tenancy imports this module before the models are ready
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


class ConnectionSlots:
    """Per process: settings.TENANCY_CONNECTION_SLOTS database connections (django-tenants' wrappers of the
    default database) that requests borrow by affinity key, a host name or `<host>/<slug>` in path routing.

    `lease(key)` installs the connection of the key's slot, crc32(key) mod N, as the calling thread's default
    connection (`django.db.connection`) for one request and returns a SlotLease, whose `release()` puts the
    thread's own connection back. While another request holds that slot it waits, up to SLOT_WAIT_SECONDS;
    then, or when slots are off (0), it returns None and the request runs on the thread's own connection, as
    without slots. Each slot connection thus only ever serves its own keys' schemas, and a slow request
    delays the requests of its slot's other hosts by at most SLOT_WAIT_SECONDS (a sync worker, one request
    at a time, never waits). A slot connection is opened on first use and, like a thread's own, closed when a
    request starts or ends past CONN_MAX_AGE seconds, after an error that left it unusable, or after
    TENANCY_CONNECTION_MAX_SCHEMAS schemas (the middleware's connection_schema_visited); its next query opens
    it again.

    Thread-safe; one request holds a slot at a time. Sizing: up to N + T connections per server process to
    PostgreSQL (slots open only when keys reach them), each slot meeting about 1/N of the hot tenants, so hot
    tenants up to N x TENANCY_CONNECTION_MAX_SCHEMAS per process stay warm (docs/concepts.md).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)  # notified whenever a slot is given back
        self._connections: list[Any] = []
        self._busy: list[bool] = []

    def lease(self, key: str) -> SlotLease | None:
        """Borrow the slot of `key` (any str) for the calling thread, waiting up to SLOT_WAIT_SECONDS while
        another request holds it; None when slots are off or the slot stayed busy. Pair every lease with
        `release()` (try/finally)."""
        size = int(settings.TENANCY_CONNECTION_SLOTS)
        if size <= 0:
            return None
        index = _slot_index(key, size)
        with self._freed:
            if len(self._busy) != size:  # first use, or the setting changed (tests): resize
                self._resize(size)
            deadline = time.monotonic() + SLOT_WAIT_SECONDS
            while self._busy[index]:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._freed.wait(remaining)
                if index >= len(self._busy):  # resized meanwhile (tests)
                    return None
            self._busy[index] = True
            slot = self._connections[index]
            if slot is None:
                slot = connections.create_connection(DEFAULT_DB_ALIAS)
                slot.inc_thread_sharing()  # used by whichever server thread leases it, one at a time
                self._connections[index] = slot
        own = next((c for c in connections.all(initialized_only=True) if c.alias == DEFAULT_DB_ALIAS), None)
        connections[DEFAULT_DB_ALIAS] = slot
        lease = SlotLease(self, index, slot, own)
        try:
            # What Django's close_old_connections does for a thread's own connection when a request starts: a
            # slot idle past CONN_MAX_AGE, or broken, is closed here and opened afresh by the first query.
            slot.close_if_unusable_or_obsolete()
        except BaseException:
            lease.release()
            raise
        return lease

    def _resize(self, size: int) -> None:
        # Called with the lock held. Slots beyond the new size are closed unless leased (then dropped).
        for index in range(size, len(self._connections)):
            slot = self._connections[index]
            if slot is not None and not self._busy[index]:
                slot.close()
        kept = min(size, len(self._connections))
        self._connections = self._connections[:kept] + [None] * (size - kept)
        self._busy = self._busy[:kept] + [False] * (size - kept)

    def _give_back(self, index: int, slot: Any) -> None:
        with self._freed:
            kept = index < len(self._connections) and self._connections[index] is slot
            if kept:
                self._busy[index] = False
                self._freed.notify_all()
        if not kept:  # dropped by a resize while leased
            slot.close()

    def close_all(self) -> None:
        """Close every slot connection no request holds (they open again on their next lease)."""
        with self._lock:
            for slot, busy in zip(self._connections, self._busy, strict=True):
                if slot is not None and not busy:
                    slot.close()

    def slot_of(self, key: str) -> int | None:
        """The index of the slot `key` hashes to (the only one it is served on), None when slots are off."""
        size = int(settings.TENANCY_CONNECTION_SLOTS)
        return _slot_index(key, size) if size > 0 else None


def _slot_index(key: str, size: int) -> int:
    # The one rule that maps an affinity key to its slot, for lease and slot_of alike.
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % size


@dataclass
class SlotLease:
    """A slot connection lent to one thread for one request (ConnectionSlots.lease)."""

    slots: ConnectionSlots
    index: int
    connection: Any
    own: Any  # the thread's own default connection before the lease, None when it had none yet

    def release(self) -> None:
        """Close the slot connection if unusable or past CONN_MAX_AGE (what Django's close_old_connections does
        for a thread's own at the end of a request), put the thread's own connection back as its default,
        and free the slot."""
        try:
            self.connection.close_if_unusable_or_obsolete()
        finally:
            if self.own is not None:
                connections[DEFAULT_DB_ALIAS] = self.own
            else:
                del connections[DEFAULT_DB_ALIAS]
            self.slots._give_back(self.index, self.connection)


connection_slots = ConnectionSlots()
