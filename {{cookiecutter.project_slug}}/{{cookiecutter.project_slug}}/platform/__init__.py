"""The public site on the public schema's host: landing page, sign-up, the platform admin.

Owns the sign-up use case (`services.user_signup`: an account and its first tenant on the chosen plan, then a
one-time login to the tenant's host), its form and views, the platform admin's pages for tenants, spare
schemas, plans and subscriptions (`admin.py`), and the return from the billing provider (`views.billing_done`).
Where sign-up is decided: `services.user_signup`.
May import: `lifecycle`, `accounts`, `billing`, `tenancy`, `audit`, `errors`. Nothing imports it but the URL
configuration.
"""
