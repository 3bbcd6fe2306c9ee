"""The plan catalogue, one subscription per tenant, and the webhook events already processed (public schema)."""

from django.db import models

from .domain import Interval, Limit, SubscriptionStatus


class Plan(models.Model):
    """A plan tenants subscribe to: prices, trial and limits (None: unlimited). Seeded by migration 0001 (free,
    starter, pro); edited in the platform admin; `manage.py plans` lists them."""

    code = models.SlugField(max_length=30, unique=True, help_text="Stable identifier, e.g. 'pro'.")
    name = models.CharField(max_length=100)
    price_monthly = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    price_yearly = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217 code, e.g. USD or EUR.")
    trial_days = models.PositiveSmallIntegerField(default=0, help_text="Days of free trial when subscribing.")
    max_members = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    max_products = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    max_customers = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    max_bookings_per_month = models.PositiveIntegerField(
        null=True, blank=True, help_text="Bookings created per calendar month. Empty: unlimited."
    )
    max_storage_mb = models.PositiveIntegerField(
        null=True, blank=True, help_text="Media storage in MB (1,000,000 bytes). Empty: unlimited."
    )
    features = models.JSONField(default=list, blank=True, help_text='Feature flags, e.g. ["api", "custom_domain"].')
    is_default = models.BooleanField(default=False, help_text="The plan sign-up starts on when none is chosen.")
    offered = models.BooleanField(default=True, help_text="Shown at sign-up and on the Billing page.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in lists.")

    class Meta:
        ordering = ["position", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="billing_plan_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def allowed(self, limit: Limit) -> int | None:
        """This plan's `limit` (None: unlimited)."""
        value: int | None = getattr(self, f"max_{limit.value}")
        return value

    def price(self, interval: str) -> object:
        """The price for `interval` ("month" or "year")."""
        return self.price_yearly if interval == Interval.YEAR else self.price_monthly


class Subscription(models.Model):
    """A tenant's subscription: its plan and state. A database trigger (migration 0001) copies status,
    past_due_since, current_period_end and trial_end onto the tenant row, which routing reads."""

    tenant = models.OneToOneField("tenancy.Tenant", on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(
        max_length=20,
        choices=[(s.value, s.value.replace("_", " ").title()) for s in SubscriptionStatus],
        default=SubscriptionStatus.ACTIVE.value,
    )
    interval = models.CharField(
        max_length=5, choices=[(i.value, i.value.title()) for i in Interval], default=Interval.MONTH.value
    )
    trial_end = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True, help_text="Also the next invoice date.")
    past_due_since = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    provider = models.CharField(max_length=20, default="none", help_text='"none" or "stripe".')
    stripe_customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    # Time (Stripe's `created`, seconds since the epoch) of the newest Stripe event applied: an older event
    # arriving late changes nothing (billing.stripe_events).
    stripe_state_at = models.BigIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant.slug} on {self.plan.code} ({self.status})"


class WebhookEvent(models.Model):
    """A provider event processed once: its id is stored with the change it made, so a replay is ignored."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    created = models.BigIntegerField(help_text="The event's own time (seconds since the epoch).")
    received = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-received"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="billing_webhookevent_once"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.type} {self.event_id}"
