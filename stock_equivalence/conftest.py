"""Fixtures of the stock-equivalence harness: the small and the full comparison, each built once per run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from django.db import connection

from . import sabotage
from .harness import LATEST, Comparison, FleetSpec, comparison

# The small release is products 0004-0006 and accounts 0004 (release.py).
SMALL_FLEET = FleetSpec(
    tenants={"vm-current": [LATEST], "vm-behind": [("products", "0005_release_tags")], "vm-old": [], "vm-broken": []}
)
FULL_FLEET = FleetSpec(
    tenants={
        "vm-current": [LATEST],
        "vm-behind": [("products", "0010_release_sale_index")],  # one behind: 0011
        "vm-rolled": [LATEST, ("products", "0005_release_tags"), ("products", "0006_release_alter")],
        "vm-old": [],  # none of the release
        "vm-broken": [],  # loses a middle row of django_migrations
    },
    # Spare schemas: half of the squashed pair applied; three behind (0009, 0010, 0011); none of the release.
    spares=[[("products", "0009_release_sale")], [("products", "0008_release_separate")]],
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "verify_migrations: the full migrate_schemas-against-stock matrix")
    try:
        sabotage.requested()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def _built(spec: FleetSpec, *, full: bool, blocker) -> Iterator[Comparison]:  # type: ignore[no-untyped-def]
    stack = contextlib.ExitStack()
    with blocker.unblock():
        built = stack.enter_context(comparison(spec, full=full))
    try:
        yield built
    finally:
        with blocker.unblock():
            stack.close()


@pytest.fixture(scope="package")
def small(django_db_setup, django_db_blocker) -> Iterator[Comparison]:  # type: ignore[no-untyped-def]
    """The small release on the small fleet, migrated by stock django-tenants (harness.comparison)."""
    yield from _built(SMALL_FLEET, full=False, blocker=django_db_blocker)


@pytest.fixture(scope="package")
def full(django_db_setup, django_db_blocker) -> Iterator[Comparison]:  # type: ignore[no-untyped-def]
    """The full release on the full fleet, migrated by stock django-tenants (harness.comparison)."""
    yield from _built(FULL_FLEET, full=True, blocker=django_db_blocker)


@pytest.fixture(scope="package")
def squashed(full, django_db_blocker) -> Comparison:  # type: ignore[no-untyped-def]
    """The full fleet against the full release plus a squashed migration replacing 0009 and 0010."""
    with django_db_blocker.unblock():
        return full.with_variant("squashed")


@pytest.fixture(autouse=True)
def _committed(django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Database access outside any test transaction: the harness works on databases of its own."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        yield
