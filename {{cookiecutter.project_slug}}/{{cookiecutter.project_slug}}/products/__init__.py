"""Products (tenant app): the catalogue of one tenant, products and categories, in the tenant's schema.

Shape: CRUD with rules. Field rules (SKU format, prices, names, image limits) are plain Python in
`domain.py`; `services.py` writes through the ORM (the only writer: views and admin forms call it) and
`selectors.py` reads. No repository: every rule checks the row being written or one unique column, which
the database enforces as well. One rule for the three tenant apps: a repository (`repositories.py`, a
Protocol with an ORM implementation and an in-memory fake) exists where a use case's rule reads other rows
and is worth testing without the database; elsewhere services.py and selectors.py work on the ORM
directly.
May import: `accounts` (the tenant admin site), `tenancy`, `errors`; never the fleet, lifecycle, adoption
or public-site packages (pyproject.toml [tool.importlinter]).
"""
