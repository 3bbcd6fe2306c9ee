"""Plan limits and subscription rules in plain Python (no Django): limit names, the plan-limit errors, and what
a subscription's state allows (tenancy.domain.access_for decides access; this module names the limits)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from ..errors import Conflict, Forbidden, InvalidValue, shown


class Limit(StrEnum):
    """A plan limit: the Plan column `max_<value>` holds it (None: unlimited)."""

    MEMBERS = "members"
    PRODUCTS = "products"
    CUSTOMERS = "customers"
    BOOKINGS_PER_MONTH = "bookings_per_month"
    STORAGE_MB = "storage_mb"


LIMIT_LABELS = {
    Limit.MEMBERS: "members",
    Limit.PRODUCTS: "products",
    Limit.CUSTOMERS: "customers",
    Limit.BOOKINGS_PER_MONTH: "bookings this month",
    Limit.STORAGE_MB: "MB of media storage",
}

# Share of a limit at which the dashboard warns (80 %), and at which it says the limit is reached (100 %).
WARN_AT = 0.8


class SubscriptionStatus(StrEnum):
    """The project's subscription states; Stripe's are mapped onto them (billing.stripe_events)."""

    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"


class Interval(StrEnum):
    MONTH = "month"
    YEAR = "year"


STATUS_LABELS = {
    SubscriptionStatus.TRIALING: "Trialing",
    SubscriptionStatus.ACTIVE: "Active",
    SubscriptionStatus.PAST_DUE: "Past due",
    SubscriptionStatus.CANCELED: "Canceled",
}


def parse_status(value: object) -> SubscriptionStatus:
    """The SubscriptionStatus named `value` (`trialing`, `active`, `past_due`, `canceled`); raises InvalidValue
    naming the value and the accepted ones."""
    try:
        return SubscriptionStatus(str(value))
    except ValueError:
        accepted = ", ".join(s.value for s in SubscriptionStatus)
        raise InvalidValue(f"status {shown(value)} is not accepted; expected one of: {accepted}") from None


def parse_interval(value: object) -> Interval:
    """The Interval named `value` (`month` or `year`); raises InvalidValue naming the value and the accepted ones."""
    try:
        return Interval(str(value))
    except ValueError:
        accepted = ", ".join(i.value for i in Interval)
        raise InvalidValue(f"interval {shown(value)} is not accepted; expected one of: {accepted}") from None


def parse_moment(value: object, *, what: str = "time") -> dt.datetime:
    """An aware datetime from ISO 8601 text `value` (`2025-03-01T12:00:00+01:00`, `2025-03-01 12:00`,
    `2025-03-01`); a time without an offset is UTC. Raises InvalidValue naming `what` and the value."""
    try:
        moment = dt.datetime.fromisoformat(str(value).strip()) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidValue(
            f"{what} {shown(value)} is not an ISO 8601 date and time; expected e.g. 2025-03-01T12:00:00+00:00, "
            "2025-03-01 12:00 (UTC) or 2025-03-01"
        )
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


class PlanLimitReached(Forbidden):
    """Creating one more thing would take the tenant over a limit of its plan; nothing was created.

    `code` is the machine-readable reason the API returns (403); `limit`, `plan`, `allowed` and `usage` name it.
    """

    code = "plan_limit_reached"

    def __init__(self, *, limit: Limit, plan: str, plan_name: str, allowed: int, usage: int) -> None:
        self.limit, self.plan, self.allowed, self.usage = limit, plan, allowed, usage
        label = LIMIT_LABELS[limit]
        super().__init__(
            f"The {plan_name} plan allows {allowed} {label}; this workspace has {usage}. "
            "Nothing was created: an owner can change the plan on the Billing page."
        )


class ProviderUnavailable(Conflict):
    """The billing provider cannot do this: provider `none` has no checkout (the platform admin changes plans),
    a tenant has no customer at the provider yet, or the provider refused or could not be reached."""


class UnknownPlan(InvalidValue):
    """A plan code names no plan of the catalogue."""


def unknown_plan(code: object, known: list[str]) -> UnknownPlan:
    """The UnknownPlan error for `code`, naming the plans that exist."""
    return UnknownPlan(f"plan {shown(code)} does not exist; expected one of: {', '.join(known) or '(no plans)'}")


@dataclass(frozen=True)
class LimitUsage:
    """One limit of a plan with the tenant's usage of it; `allowed` None is unlimited."""

    limit: Limit
    allowed: int | None
    usage: int

    @property
    def label(self) -> str:
        return LIMIT_LABELS[self.limit]

    @property
    def share(self) -> float:
        """Usage as a share of the limit (0.0 when unlimited; may exceed 1.0 after a downgrade)."""
        if self.allowed is None:
            return 0.0
        if self.allowed == 0:
            return 1.0 if self.usage == 0 else float("inf")
        return self.usage / self.allowed

    @property
    def percent(self) -> int:
        """The share as a whole percentage, capped at 100 (for a bar's width)."""
        return round(min(1.0, self.share) * 100)

    @property
    def over(self) -> bool:
        """Usage above the limit (possible after a downgrade): new creation is blocked until it fits."""
        return self.allowed is not None and self.usage > self.allowed

    @property
    def reached(self) -> bool:
        """No more can be created: usage at or above the limit."""
        return self.allowed is not None and self.usage >= self.allowed

    @property
    def warning(self) -> bool:
        """At or above WARN_AT of the limit."""
        return self.allowed is not None and self.share >= WARN_AT


def limit_check(*, limit: Limit, plan: str, plan_name: str, allowed: int | None, usage: int, adding: int = 1) -> None:
    """Raise PlanLimitReached when `usage` + `adding` would exceed `allowed` (None: unlimited).

    Units: counts of things, except Limit.STORAGE_MB whose `usage` and `adding` are bytes and `allowed` is MB
    (1 MB = 1,000,000 bytes)."""
    if allowed is None:
        return
    if limit is Limit.STORAGE_MB:
        if usage + adding > allowed * 1_000_000:
            raise PlanLimitReached(
                limit=limit, plan=plan, plan_name=plan_name, allowed=allowed, usage=-(-usage // 1_000_000)
            )
        return
    if usage + adding > allowed:
        raise PlanLimitReached(limit=limit, plan=plan, plan_name=plan_name, allowed=allowed, usage=usage)
