"""Plans, plan limits and subscriptions (public schema): the plan catalogue, each tenant's subscription, the
limits the services enforce, and the billing providers (`none`, Stripe) with their webhook events.
Stripe: `stripe_provider.py` (Checkout and customer portal sessions, STRIPE_PRICE_IDS), `stripe_events.py` (the
webhook events applied once, in order); the endpoint itself is `platform.webhooks`.
May import: Django, the `stripe` library, `errors`, `audit` (plan changes are audited) and `tenancy` (the tenant
row, the access rules); `platform`, `lifecycle`, `accounts`, `demo` and the Billing page build on it.
"""
