"""Plan limits and subscription rules in plain Python (no Django): limit names, the plan-limit errors, and what
a subscription's state allows (tenancy.domain.access_for decides access; this module names the limits)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..errors import Forbidden, InvalidValue, shown


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
        return min(100, round(self.share * 100))

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
