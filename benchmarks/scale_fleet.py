"""Growing a fleet fast for benchmarks/scale.py: schemas replayed from the project's checked schema script, verified
against a tenant provisioned the normal way.

`fleet_grow(size, marked, jobs=..., verify_sample=...)` brings the database to `size` tenants (public aside): one
tenant provisioned by `tenant_create` from a spare schema built by migrations, every other one's schema replayed from
the schema script (lifecycle/schema_script.py) on several connections at once, with its migration summary and its
tenant, domain and subscription rows in bulk; a sample must have the normally provisioned schema's catalog, data
included (fleet.verification), every schema must record every migration and hold the tenant apps' tables; then each
gets a marker row for routed requests (benchmarks.harness.mark_tenants).

Everything here is for benchmarks; nothing of it runs in the project or its tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from loadcheck.harness import MarkedTenant, chunks, expect_schemas_complete, progress

from benchmarks.harness import mark_tenants
from benchmarks.migrate_fleet import BenchmarkError, console
from benchmarks.project import from_project
from benchmarks.provisioning import drop_spares, spare_count

SLUG_FORMAT = "sbench-{:05d}"
NAME_FORMAT = "Scale benchmark {:05d}"
REFERENCE_SLUG = "sbench-reference-{:05d}"  # the tenant provisioned the normal way at each size
SCHEMA_PREFIX = "tenant_sbench_"  # tenancy.domain.schema_name_for: the slug's hyphens become underscores
# Schemas replayed per transaction and connection: creating a relation takes a lock slot until commit, a schema has
# dozens of relations, and the slots are shared by every connection (max_locks_per_transaction x max_connections).
SCHEMAS_PER_TRANSACTION = 20
T = TypeVar("T")


@dataclass
class Growth:
    """How one size was reached: tenants added and seconds by step (reported, not figures)."""

    size: int
    added: int
    reference: float = 0.0  # the one tenant provisioned the normal way (its spare built by migrations)
    replay: float = 0.0  # schemas from the schema script, with their migration summaries
    rows: float = 0.0  # tenant, domain and subscription rows
    verify: float = 0.0  # the sample's catalogs, every schema's migrations and tables
    markers: float = 0.0  # one marker row per new schema
    verified: str = ""

    @property
    def total(self) -> float:
        return self.reference + self.replay + self.rows + self.verify + self.markers


def schema_script_ready() -> str:
    """Return the project's checked schema script for the migrations on disk, capturing it when missing (a full
    spare pool first: lifecycle.provisioning.spare_pool_fill captures it from a current spare). Raises
    BenchmarkError when none can be had (no pg_dump of the server's major version, or the check failed)."""
    schema_script_current, schema_script_ensure = from_project(
        "lifecycle.schema_script", "schema_script_current", "schema_script_ensure"
    )
    spare_pool_fill = from_project("lifecycle.provisioning", "spare_pool_fill")

    script = schema_script_current()
    if script is None:
        spare_pool_fill()
        schema_script_ensure()
        script = schema_script_current()
    if script is None:
        raise BenchmarkError(
            "no checked schema script could be captured (lifecycle/schema_script.py: pg_dump of the server's major "
            "version is needed, TENANCY_PG_BIN_DIR); the log above says why"
        )
    return script


def reference_tenant_create(slug: str) -> str:
    """Provision tenant `slug` the normal way, from a spare schema built by migrations: the pool is emptied, one
    spare built (`spare_create`), then `tenant_create` claims it. Returns its schema name; raises BenchmarkError
    when the spare was not claimed."""
    spare_create = from_project("lifecycle.provisioning", "spare_create")
    tenant_create = from_project("lifecycle.services", "tenant_create")

    drop_spares()
    spare_create()
    tenant = tenant_create(name=f"Scale reference {slug}", slug=slug)
    if spare_count():
        raise BenchmarkError(f"tenant_create({slug!r}) left the spare schema unclaimed: not the normal warm path")
    return str(tenant.schema_name)


def replay_schemas(script: str, schemas: Sequence[str], jobs: int) -> None:
    """Build every schema in `schemas` from the schema script (`schema_script_replay`, then its migration summary:
    `state_watch`, as lifecycle.provisioning.schema_build does), SCHEMAS_PER_TRANSACTION per transaction, on `jobs`
    connections at once (one thread each, each closing its connection at the end). Raises BenchmarkError with the
    first failure; Ctrl-C lets each thread finish its transaction, then stops."""
    from django.db import connection, transaction

    schema_script_replay = from_project("lifecycle.schema_script", "schema_script_replay")
    state_watch = from_project("fleet.state", "state_watch")

    parts = list(chunks(schemas, SCHEMAS_PER_TRANSACTION))
    lock = threading.Lock()
    stop = threading.Event()
    failures: list[BaseException] = []
    done: list[int] = []

    def worker() -> None:
        try:
            while not stop.is_set():
                with lock:
                    if not parts:
                        return
                    part = parts.pop()
                with transaction.atomic():
                    for schema in part:
                        schema_script_replay(script, schema)
                    state_watch(list(part), lock_timeout_ms=None)
                with lock:
                    done.append(len(part))
        except BaseException as exc:
            failures.append(exc)
            stop.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, name=f"scale-replay-{n}") for n in range(jobs)]
    with progress() as bar:
        task = bar.add_task(f"replaying the schema script into {len(schemas):,} schemas", total=len(schemas))
        for thread in threads:
            thread.start()
        try:
            while any(thread.is_alive() for thread in threads):
                time.sleep(0.2)
                bar.update(task, completed=sum(done))
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    if failures:
        raise BenchmarkError(f"replaying the schema script failed: {failures[0]!r}") from failures[0]


def tenant_rows_create(slugs: Sequence[str], names: Sequence[str], schemas: Sequence[str]) -> None:
    """Insert active tenants (`slugs`, `names`, `schemas`, built already), their primary domains (the project's
    default for the slug) and subscriptions on the default plan, in one transaction, as provisioning leaves them."""
    from django.db import transaction

    Subscription = from_project("billing.models", "Subscription")
    default_plan = from_project("billing.services", "default_plan")
    default_domain_for = from_project("lifecycle.services", "default_domain_for")
    Domain, Tenant = from_project("tenancy.models", "Domain", "Tenant")

    with transaction.atomic():
        plan = default_plan()
        tenants = Tenant.objects.bulk_create(
            [
                Tenant(name=name, slug=slug, schema_name=schema, status=Tenant.Status.ACTIVE)
                for slug, name, schema in zip(slugs, names, schemas, strict=True)
            ],
            batch_size=1000,
        )
        Domain.objects.bulk_create(
            [Domain(domain=default_domain_for(tenant.slug), tenant=tenant, is_primary=True) for tenant in tenants],
            batch_size=1000,
        )
        Subscription.objects.bulk_create(
            [Subscription(tenant=tenant, plan=plan) for tenant in tenants], batch_size=1000
        )


def spread(items: Sequence[T], count: int) -> list[T]:
    """Up to `count` items of `items` evenly spread, the first and the last included."""
    if count >= len(items):
        return list(items)
    if count == 1:
        return [items[0]]
    return [items[round(index * (len(items) - 1) / (count - 1))] for index in range(count)]


def expect_same_as_provisioned(reference: str, schemas: Sequence[str]) -> None:
    """Raise BenchmarkError unless each schema in `schemas` has the catalog of `reference` (a schema provisioned the
    normal way), data included: fleet.verification's catalog comparison, as lifecycle/schema_script.py checks a
    script before storing it."""
    catalog_diff, catalog_read = from_project("fleet.verification", "catalog_diff", "catalog_read")

    catalogs = catalog_read([reference, *schemas], data=True)
    differences = [diff for schema in schemas for diff in catalog_diff(schema, catalogs[reference], catalogs[schema])]
    if not catalogs[reference] or differences:
        shown = "; ".join(str(difference) for difference in differences[:5]) or f"{reference} has no catalog"
        raise BenchmarkError(
            f"schemas built from the schema script differ from {reference}, provisioned the normal way: {shown}"
        )


def fleet_grow(size: int, marked: list[MarkedTenant], *, jobs: int, verify_sample: int) -> Growth:
    """Grow the fleet to `size` tenants (public aside): one provisioned the normal way, the rest replayed from the
    schema script on `jobs` connections, checked against it (`verify_sample` of them spread over the batch, data
    included; all: migrations and tables), then marked (appended to `marked`, which holds the replayed tenants
    made so far); the spare pool is filled at the end. Returns the time per step. Raises BenchmarkError when the
    fleet is that large already or a check fails."""
    spare_pool_fill = from_project("lifecycle.provisioning", "spare_pool_fill")
    schema_name_for = from_project("tenancy.domain", "schema_name_for")

    present = tenant_count()
    if present >= size:
        raise BenchmarkError(f"the database holds {present} tenants already; cannot grow to {size}")
    growth = Growth(size=size, added=size - present)
    started = time.perf_counter()
    reference = reference_tenant_create(REFERENCE_SLUG.format(size))
    script = schema_script_ready()  # captured again when claiming left the pool empty before the first size
    growth.reference = time.perf_counter() - started

    first = len(marked) + 1
    numbers = range(first, first + size - present - 1)
    slugs = [SLUG_FORMAT.format(number) for number in numbers]
    schemas = [schema_name_for(slug) for slug in slugs]
    if schemas:
        started = time.perf_counter()
        replay_schemas(script, schemas, jobs)
        growth.replay = time.perf_counter() - started

        started = time.perf_counter()
        tenant_rows_create(slugs, [NAME_FORMAT.format(number) for number in numbers], schemas)
        growth.rows = time.perf_counter() - started

        started = time.perf_counter()
        sample = spread(schemas, verify_sample)
        expect_same_as_provisioned(reference, sample)
        expect_schemas_complete(schemas)
        growth.verify = time.perf_counter() - started
        growth.verified = (
            f"{len(sample)} of {len(schemas):,} replayed schemas have the catalog of {reference} (data included); "
            "every one records every migration and holds the tenant apps' tables"
        )

        started = time.perf_counter()
        marked.extend(mark_tenants(slugs))
        growth.markers = time.perf_counter() - started
    spare_pool_fill()  # full, as a deploy finds it: a measured migrate_schemas would otherwise top it up
    per_tenant = 1000 * growth.total / growth.added
    console.print(
        f"grew to {size:,} tenants: {growth.added:,} added in {growth.total:.1f} s ({per_tenant:.0f} ms per tenant; "
        f"replay {growth.replay:.1f} s, rows {growth.rows:.1f} s, checks {growth.verify:.1f} s, markers "
        f"{growth.markers:.1f} s, the normally provisioned one {growth.reference:.1f} s)"
    )
    return growth


def tenant_count() -> int:
    """Tenants other than the public one."""
    from django_tenants.utils import get_public_schema_name

    Tenant = from_project("tenancy.models", "Tenant")

    return Tenant.objects.exclude(schema_name=get_public_schema_name()).count()


def tenant_schemas() -> list[str]:
    """Schema names of every tenant but the public one, sorted."""
    from django_tenants.utils import get_public_schema_name

    Tenant = from_project("tenancy.models", "Tenant")

    tenants = Tenant.objects.exclude(schema_name=get_public_schema_name()).order_by("schema_name")
    return list(tenants.values_list("schema_name", flat=True))
