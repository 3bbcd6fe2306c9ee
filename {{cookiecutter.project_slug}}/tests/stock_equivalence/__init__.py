"""Stock equivalence: the project's migrate_schemas builds, schema by schema, what django-tenants' own builds.

A starting fleet in mixed states is migrated twice, in two copies of one database: by django-tenants'
StandardExecutor per schema, and by one entry path of the project's `migrate_schemas`; every schema's
catalog and migration rows must then be equal (harness.py). The default run has a small release and three
paths (test_stock_equivalence.py); `make verify-migrations` runs the full release against every path
(test_stock_equivalence_matrix.py, marker `verify_migrations`). MIGRATION_SABOTAGE (sabotage.py) breaks
the project's executor on purpose: the harness must then fail.
"""
