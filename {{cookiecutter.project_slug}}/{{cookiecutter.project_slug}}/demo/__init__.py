"""Demo data: the tenants acme and globex with products, customers and bookings, for `make dev` and tests.

Owns `seed.demo_seed` and the `seed_demo` command, and nothing else: no other package imports it.
May import: every app's services (it writes only through them), `lifecycle`, `accounts`, `tenancy`.
"""
