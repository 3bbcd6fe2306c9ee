"""Plans, plan limits and subscriptions (public schema): the plan catalogue, each tenant's subscription, the
limits the services enforce, and the billing providers (`none`, Stripe) with their webhook events."""
