"""System checks for settings that would break tenant isolation or the tenant lifecycle (`manage.py check`, run at
every start)."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

POOLER_MODES = ("", "session", "transaction")
# The longest grace period accepted (100 years): datetime arithmetic with far longer ones overflows.
GRACE_DAYS_MAX = 36500


@register(Tags.database, deploy=False)
def pooler_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """tenancy.E001-E003: a connection pooler declared in settings must keep each client's search_path.

    django-tenants switches schemas with a session-level `SET search_path`, issued once per request
    (TENANT_LIMIT_SET_CALLS). A pooler in session mode hands each client one server connection for its
    whole session, so that is safe. A pooler in transaction mode (PgBouncer's pool_mode = transaction)
    hands out a server connection per transaction: without restoring the client's search_path on it, a
    query runs in whatever schema the previous client of that server connection left, i.e. another
    tenant's. PgBouncer restores parameters listed in its `track_extra_parameters` (since 1.20) when the
    server reports their changes. Django also needs DISABLE_SERVER_SIDE_CURSORS with transaction pooling
    (Django docs, "Transaction pooling and server-side cursors").
    """
    mode = str(getattr(settings, "TENANCY_POOLER_MODE", "") or "").lower()
    if mode not in POOLER_MODES:
        return [
            Error(
                f"TENANCY_POOLER_MODE {mode!r} is not known; accepted: '' (no pooler), 'session', 'transaction'",
                id="tenancy.E001",
            )
        ]
    errors: list[Error] = []
    if mode == "transaction" and not getattr(settings, "TENANCY_POOLER_TRACKS_SEARCH_PATH", False):
        errors.append(
            Error(
                "a transaction-mode connection pooler (TENANCY_POOLER_MODE = 'transaction') that does not restore "
                "each client's search_path would run queries in another tenant's schema",
                hint="Use PgBouncer's session mode, or make it track search_path (track_extra_parameters = "
                "search_path, on a server that reports search_path) and set TENANCY_POOLER_TRACKS_SEARCH_PATH = True.",
                id="tenancy.E002",
            )
        )
    if mode == "transaction":
        for alias, database in settings.DATABASES.items():
            if not database.get("DISABLE_SERVER_SIDE_CURSORS"):
                errors.append(
                    Error(
                        f"database {alias!r} goes through a transaction-mode pooler but keeps server-side cursors",
                        hint="Set DISABLE_SERVER_SIDE_CURSORS = True for it (Django docs: transaction pooling and "
                        "server-side cursors).",
                        id="tenancy.E003",
                    )
                )
    return errors


@register(deploy=False)
def billing_grace_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """tenancy.E004: settings.BILLING_GRACE_DAYS, the days an overdue tenant keeps full access before it becomes
    read-only (tenancy.models.billing_grace), must be a number from 0 to GRACE_DAYS_MAX."""
    value = getattr(settings, "BILLING_GRACE_DAYS", 7)
    try:
        days = float(value)
    except (TypeError, ValueError):
        days = math.nan
    if isinstance(value, bool) or not math.isfinite(days) or not 0 <= days <= GRACE_DAYS_MAX:
        return [
            Error(
                f"BILLING_GRACE_DAYS {value!r} is not accepted; expected a number of days from 0 to "
                f"{GRACE_DAYS_MAX} (decimals allowed, e.g. 0.5; 0: read-only as soon as a payment is overdue)",
                id="tenancy.E004",
            )
        ]
    return []
