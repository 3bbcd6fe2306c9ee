"""Plans, subscriptions and processed webhook events; the seeded plans; every existing tenant's subscription; and
the trigger that copies each subscription's state onto its tenant row.

The trigger (AFTER INSERT, UPDATE or DELETE of a billing_subscription row) writes status, past_due_since,
current_period_end and trial_end to tenancy_tenant's billing_* columns whatever wrote the subscription (ORM,
QuerySet.update, raw SQL, a restore). Writing the tenant row moves the routing version (tenancy migration 0003),
so every process's routing and Celery caches follow a subscription change with their next request or task. A
write that leaves those four values as they were (a plan change, a Stripe id) does not touch the tenant row, so
it does not empty every process's routing directory.
"""

import django.db.models.deletion
from django.db import migrations, models


FUNCTION = """
CREATE FUNCTION billing_subscription_to_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    differs boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.tenant_id = NEW.tenant_id AND (OLD.status, OLD.past_due_since,
            OLD.current_period_end, OLD.trial_end) IS NOT DISTINCT FROM (NEW.status, NEW.past_due_since,
            NEW.current_period_end, NEW.trial_end) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.tenant_id <> NEW.tenant_id) THEN
        EXECUTE format('UPDATE %I.tenancy_tenant SET billing_status = ''active'', billing_past_due_since = NULL,'
                       ' billing_period_end = NULL, billing_trial_end = NULL WHERE id = $1 AND (billing_status,'
                       ' billing_past_due_since, billing_period_end, billing_trial_end) IS DISTINCT FROM'
                       ' (''active'', NULL, NULL, NULL)', TG_TABLE_SCHEMA)
            USING OLD.tenant_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        -- Only a real change writes the tenant row: an UPDATE, even of no row, would move the routing version.
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.tenancy_tenant WHERE id = $1 AND (billing_status,'
                       ' billing_past_due_since, billing_period_end, billing_trial_end) IS DISTINCT FROM'
                       ' ($2, $3, $4, $5))', TG_TABLE_SCHEMA)
            INTO differs USING NEW.tenant_id, NEW.status, NEW.past_due_since, NEW.current_period_end, NEW.trial_end;
        IF differs THEN
            EXECUTE format('UPDATE %I.tenancy_tenant SET billing_status = $2, billing_past_due_since = $3,'
                           ' billing_period_end = $4, billing_trial_end = $5 WHERE id = $1', TG_TABLE_SCHEMA)
                USING NEW.tenant_id, NEW.status, NEW.past_due_since, NEW.current_period_end, NEW.trial_end;
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""
TRIGGER = (
    "CREATE TRIGGER billing_subscription_to_tenant AFTER INSERT OR UPDATE OR DELETE ON billing_subscription "
    "FOR EACH ROW EXECUTE FUNCTION billing_subscription_to_tenant()"
)

# The seeded catalogue; prices in USD. Edit plans in the platform admin, not here (this runs once).
PLANS = [
    {
        "code": "free", "name": "Free", "price_monthly": "0", "price_yearly": "0", "trial_days": 0,
        "max_members": 2, "max_products": 10, "max_customers": 50, "max_bookings_per_month": 100,
        "max_storage_mb": 50, "features": [], "is_default": True, "position": 0,
    },
    {
        "code": "starter", "name": "Starter", "price_monthly": "19", "price_yearly": "190", "trial_days": 14,
        "max_members": 5, "max_products": 500, "max_customers": 2000, "max_bookings_per_month": 2000,
        "max_storage_mb": 1000, "features": ["api"], "is_default": False, "position": 1,
    },
    {
        "code": "pro", "name": "Pro", "price_monthly": "49", "price_yearly": "490", "trial_days": 14,
        "max_members": 50, "max_products": None, "max_customers": None, "max_bookings_per_month": None,
        "max_storage_mb": 10000, "features": ["api", "custom_domain"], "is_default": False, "position": 2,
    },
]  # fmt: skip


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Create the plans, and give every tenant that exists (the public one excepted) a subscription: on Pro, the
    plan without product, customer or booking limits, so an upgraded project blocks none of its tenants."""
    plan_model = apps.get_model("billing", "Plan")
    subscription_model = apps.get_model("billing", "Subscription")
    tenant_model = apps.get_model("tenancy", "Tenant")
    plans = {row["code"]: plan_model.objects.create(**row) for row in PLANS}
    tenants = tenant_model.objects.exclude(schema_name="public")
    subscription_model.objects.bulk_create(
        subscription_model(tenant=tenant, plan=plans["pro"], status="active") for tenant in tenants
    )


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('tenancy', '0004_tenant_billing_state'),
    ]

    operations = [
        migrations.CreateModel(
            name='Plan',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.SlugField(help_text="Stable identifier, e.g. 'pro'.", max_length=30, unique=True)),
                ('name', models.CharField(max_length=100)),
                ('price_monthly', models.DecimalField(decimal_places=2, default=0, max_digits=10)),
                ('price_yearly', models.DecimalField(decimal_places=2, default=0, max_digits=10)),
                ('currency', models.CharField(default='USD', help_text='ISO 4217 code, e.g. USD or EUR.', max_length=3)),
                ('trial_days', models.PositiveSmallIntegerField(default=0, help_text='Days of free trial when subscribing.')),
                ('max_members', models.PositiveIntegerField(blank=True, help_text='Empty: unlimited.', null=True)),
                ('max_products', models.PositiveIntegerField(blank=True, help_text='Empty: unlimited.', null=True)),
                ('max_customers', models.PositiveIntegerField(blank=True, help_text='Empty: unlimited.', null=True)),
                ('max_bookings_per_month', models.PositiveIntegerField(blank=True, help_text='Bookings created per calendar month. Empty: unlimited.', null=True)),
                ('max_storage_mb', models.PositiveIntegerField(blank=True, help_text='Media storage in MB (1,000,000 bytes). Empty: unlimited.', null=True)),
                ('features', models.JSONField(blank=True, default=list, help_text='Feature flags, e.g. ["api", "custom_domain"].')),
                ('is_default', models.BooleanField(default=False, help_text='The plan sign-up starts on when none is chosen.')),
                ('offered', models.BooleanField(default=True, help_text='Shown at sign-up and on the Billing page.')),
                ('position', models.PositiveSmallIntegerField(default=0, help_text='Order in lists.')),
            ],
            options={
                'ordering': ['position', 'code'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('is_default', True)), fields=('is_default',), name='billing_plan_one_default')],
            },
        ),
        migrations.CreateModel(
            name='Subscription',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('trialing', 'Trialing'), ('active', 'Active'), ('past_due', 'Past Due'), ('canceled', 'Canceled')], default='active', max_length=20)),
                ('interval', models.CharField(choices=[('month', 'Month'), ('year', 'Year')], default='month', max_length=5)),
                ('trial_end', models.DateTimeField(blank=True, null=True)),
                ('current_period_end', models.DateTimeField(blank=True, help_text='Also the next invoice date.', null=True)),
                ('past_due_since', models.DateTimeField(blank=True, null=True)),
                ('cancel_at_period_end', models.BooleanField(default=False)),
                ('provider', models.CharField(default='none', help_text='"none" or "stripe".', max_length=20)),
                ('stripe_customer_id', models.CharField(blank=True, db_index=True, max_length=255)),
                ('stripe_subscription_id', models.CharField(blank=True, db_index=True, max_length=255)),
                ('stripe_state_at', models.BigIntegerField(default=0)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('plan', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='subscriptions', to='billing.plan')),
                ('tenant', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='subscription', to='tenancy.tenant')),
            ],
        ),
        migrations.CreateModel(
            name='WebhookEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('provider', models.CharField(max_length=20)),
                ('event_id', models.CharField(max_length=255)),
                ('type', models.CharField(max_length=100)),
                ('created', models.BigIntegerField(help_text="The event's own time (seconds since the epoch).")),
                ('received', models.DateTimeField(auto_now_add=True)),
                ('outcome', models.CharField(blank=True, max_length=300)),
            ],
            options={
                'ordering': ['-received'],
                'constraints': [models.UniqueConstraint(fields=('provider', 'event_id'), name='billing_webhookevent_once')],
            },
        ),
        migrations.RunSQL([FUNCTION, TRIGGER], reverse_sql=[
            "DROP TRIGGER billing_subscription_to_tenant ON billing_subscription",
            "DROP FUNCTION billing_subscription_to_tenant()",
        ]),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
