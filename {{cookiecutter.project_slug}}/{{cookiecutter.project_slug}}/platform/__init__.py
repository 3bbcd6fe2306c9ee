"""The public site on the public schema's host: landing page, sign-up, the platform admin.

Owns the sign-up use case (`services.user_signup`: an account and its first tenant, then a one-time login
to the tenant's host), its form and views, and the platform admin's pages for tenants and spare
schemas (`admin.py`). Where sign-up is decided: `services.user_signup`.
May import: `lifecycle`, `accounts`, `tenancy`, `errors`. Nothing imports it but the URL configuration.
"""
