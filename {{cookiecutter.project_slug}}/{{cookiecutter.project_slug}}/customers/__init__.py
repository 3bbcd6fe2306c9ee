"""Customers (tenant app): the people and companies a tenant does business with, in the tenant's schema.

Shape: CRUD with rules. Field rules (names, email, phone) are plain Python in `domain.py`; `services.py`
writes through the ORM (the only writer) and `selectors.py` reads. No repository: the one cross-row rule,
a unique email, is a unique index the service turns into a clear error. One rule for the three tenant
apps: a repository (`repositories.py`, a Protocol with an ORM implementation and an in-memory fake) exists
where a use case's rule reads other rows and is worth testing without the database; elsewhere services.py
and selectors.py work on the ORM directly.
May import: `accounts` (email rules, the tenant admin site), `tenancy`, `errors`.
"""
