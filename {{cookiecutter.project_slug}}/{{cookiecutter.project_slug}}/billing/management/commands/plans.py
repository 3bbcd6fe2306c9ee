"""plans: the plan catalogue as a table or JSON."""

import io
import json
from typing import Any

from django.core.management.base import CommandParser
from rich.console import Console
from rich.table import Table

from ....tenancy.management.base import ProjectCommand, add_noinput_argument
from ...domain import Limit
from ...models import Plan

LIMIT_COLUMNS = {
    Limit.MEMBERS: "members",
    Limit.PRODUCTS: "products",
    Limit.CUSTOMERS: "customers",
    Limit.BOOKINGS_PER_MONTH: "bookings/month",
    Limit.STORAGE_MB: "storage MB",
}


def plan_row(plan: Plan) -> dict[str, Any]:
    """A plan as `plans --format json` prints it."""
    return {
        "code": plan.code,
        "name": plan.name,
        "price_monthly": str(plan.price_monthly),
        "price_yearly": str(plan.price_yearly),
        "currency": plan.currency,
        "trial_days": plan.trial_days,
        "limits": {limit.value: plan.allowed(limit) for limit in Limit},
        "features": list(plan.features or []),
        "offered": plan.offered,
        "default": plan.is_default,
    }


class Command(ProjectCommand):
    help = (
        "List the plans in catalogue order: code, name, monthly and yearly price with the currency, trial days, "
        "the limits (members, products, customers, bookings created per calendar month, media storage in MB of "
        "1,000,000 bytes; 'unlimited' when empty), whether sign-up and the Billing page offer the plan, and the "
        "default plan (sign-up's preselected plan, marked *). --format json prints a list of objects with keys "
        "code, name, price_monthly and price_yearly (decimal strings), currency, trial_days, limits (an object "
        "with keys members, products, customers, bookings_per_month, storage_mb: a number, or null for unlimited), "
        "features, offered, default. Plans are edited in the platform admin. Exit codes: 0, 2 bad usage."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format", choices=["table", "json"], default="table", help="Output format (json: a list of plan objects)."
        )
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        plans = list(Plan.objects.all())
        if options["format"] == "json":
            self.stdout.write(json.dumps([plan_row(plan) for plan in plans], indent=2))
            return
        table = Table(title=f"{len(plans)} plan(s); * the default plan")
        for column in ("code", "name", "monthly", "yearly", "trial days", *LIMIT_COLUMNS.values(), "offered"):
            table.add_column(column)
        for plan in plans:
            limits = [_limit(plan.allowed(limit)) for limit in LIMIT_COLUMNS]
            table.add_row(
                f"{plan.code}{' *' if plan.is_default else ''}",
                plan.name,
                f"{plan.price_monthly} {plan.currency}",
                f"{plan.price_yearly} {plan.currency}",
                str(plan.trial_days),
                *limits,
                "yes" if plan.offered else "no",
            )
        buffer = io.StringIO()
        Console(file=buffer, width=200).print(table)
        self.stdout.write(buffer.getvalue().rstrip())


def _limit(allowed: int | None) -> str:
    return "unlimited" if allowed is None else str(allowed)
