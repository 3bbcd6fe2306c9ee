"""subscription: show a tenant's subscription, or change its plan, status and dates."""

import json
from typing import Any

from django.core.management.base import CommandParser
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from ....tenancy.domain import access_for
from ....tenancy.management.base import ProjectCommand, add_noinput_argument, usage_error
from ....tenancy.models import Tenant, billing_grace
from ....tenancy.selectors import tenant_get_by_slug
from ...domain import STATUS_LABELS, SubscriptionStatus, parse_interval, parse_moment, parse_status
from ...models import Subscription
from ...services import plan_change, plan_get, subscription_of, subscription_snapshot, subscription_state_set

STATUSES = ", ".join(status.value for status in SubscriptionStatus)
DATE_OPTIONS = {"past_due_since": "--past-due-since", "period_end": "--period-end", "trial_end": "--trial-end"}


class Command(ProjectCommand):
    help = (
        "Show the subscription of tenant S (--tenant S; plan, status, interval, trial end, period end, past-due date, "
        "provider and the access it gives: full, read_only, suspended), or change it: --plan CODE moves the "
        "tenant to plan CODE at once (see `manage.py plans`; recorded in the audit log as billing.plan_change, "
        f"source cli); --status STATUS sets the status ({STATUSES}); --past-due-since, --period-end and "
        "--trial-end set those dates as ISO 8601 date-times (2025-03-01T12:00:00+00:00, or 2025-03-01 12:00 in "
        "UTC) or 'none' to clear one. Status past_due without --past-due-since counts from now; past_due since "
        "more than BILLING_GRACE_DAYS makes the tenant read-only, canceled with a past period end suspends it. "
        "Everything is checked before anything changes. --format json prints the subscription as an object. "
        "Exit codes: 0 done, 1 failure, 2 unknown slug, public tenant, unknown plan, bad status, interval or date."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tenant", dest="slug", metavar="S", required=True, help="Slug of the tenant, e.g. 'acme'."
        )
        parser.add_argument("--plan", metavar="CODE", help="Move the tenant to this plan, e.g. 'pro'.")
        parser.add_argument("--interval", metavar="INTERVAL", help="Billing interval: month or year.")
        parser.add_argument("--status", metavar="STATUS", help=f"New status: one of {STATUSES}.")
        for dest, flag in DATE_OPTIONS.items():
            parser.add_argument(
                flag, dest=dest, metavar="ISO-DATETIME",
                help="An ISO 8601 date-time (UTC when without an offset), or 'none' to clear it.",
            )  # fmt: skip
        parser.add_argument(
            "--format", choices=["table", "json"], default="table", help="Output format (json: one object)."
        )
        add_noinput_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        tenant = tenant_get_by_slug(slug=slug)
        if tenant is None:
            raise usage_error(f"no tenant with slug {slug!r}; see `manage.py list_tenants`")
        if tenant.schema_name == get_public_schema_name():
            raise usage_error(f"tenant {slug!r} is the public site: it has no subscription")
        # Every value is checked before anything changes.
        plan = plan_get(options["plan"]) if options["plan"] is not None else None
        interval = parse_interval(options["interval"]).value if options["interval"] is not None else None
        status = parse_status(options["status"]).value if options["status"] is not None else None
        dates = {dest: _moment(options[dest], flag) for dest, flag in DATE_OPTIONS.items() if options[dest] is not None}
        if interval is not None and plan is None:
            plan = subscription_of(tenant).plan
        changes: list[str] = []
        with transaction.atomic():
            before = subscription_of(tenant, lock=True)
            previous = (before.plan.code, before.interval, before.status)
            if plan is not None:
                plan_change(tenant=tenant, plan_code=plan.code, source="cli", interval=interval)
            if status is not None or dates:
                subscription_state_set(tenant=tenant, status=status, source="cli", **dates)
        subscription = subscription_of(tenant)
        for name, old, new in zip(("plan", "interval", "status"), previous, _state(subscription), strict=True):
            if old != new:
                changes.append(f"{name} {old} -> {new}")
        if options["format"] == "json":
            self.stdout.write(json.dumps(_as_json(tenant, subscription), indent=2))
            return
        if changes:
            self.stdout.write(self.style.SUCCESS(f"{tenant.slug}: {', '.join(changes)}"))
        self.stdout.write(_shown(tenant, subscription))


def _moment(value: str, flag: str) -> Any:
    if value.strip().lower() == "none":
        return None
    return parse_moment(value, what=flag)


def _state(subscription: Subscription) -> tuple[str, str, str]:
    return subscription.plan.code, subscription.interval, subscription.status


def _access(subscription: Subscription) -> str:
    return access_for(subscription_snapshot(subscription), now=timezone.now(), grace=billing_grace()).value


def _when(value: Any) -> str:
    return value.isoformat() if value is not None else "-"


def _as_json(tenant: Tenant, subscription: Subscription) -> dict[str, Any]:
    return {
        "tenant": tenant.slug,
        "plan": subscription.plan.code,
        "plan_name": subscription.plan.name,
        "status": subscription.status,
        "interval": subscription.interval,
        "trial_end": subscription.trial_end.isoformat() if subscription.trial_end else None,
        "current_period_end": (
            subscription.current_period_end.isoformat() if subscription.current_period_end else None
        ),
        "past_due_since": subscription.past_due_since.isoformat() if subscription.past_due_since else None,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "provider": subscription.provider,
        "access": _access(subscription),
    }


def _shown(tenant: Tenant, subscription: Subscription) -> str:
    label = STATUS_LABELS.get(subscription.status, subscription.status)  # type: ignore[call-overload]
    lines = [
        f"tenant          {tenant.slug} ({tenant.name})",
        f"plan            {subscription.plan.code} ({subscription.plan.name}), billed every {subscription.interval}",
        f"status          {subscription.status} ({label})",
        f"trial end       {_when(subscription.trial_end)}",
        f"period end      {_when(subscription.current_period_end)}",
        f"past due since  {_when(subscription.past_due_since)}",
        f"cancels at end  {'yes' if subscription.cancel_at_period_end else 'no'}",
        f"provider        {subscription.provider}",
        f"access          {_access(subscription)}",
    ]
    return "\n".join(lines)
