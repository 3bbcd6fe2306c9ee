"""Stock equivalence: the project's migrate_schemas builds, schema by schema, what django-tenants' own builds.

A starting fleet in mixed states is migrated twice, in two copies of one database: by django-tenants'
StandardExecutor per schema, and by one entry path of the project's `migrate_schemas`; every schema's
catalog and migration rows must then be equal (harness.py): a small release on three paths
(test_stock_equivalence.py), the full release on every path (test_stock_equivalence_matrix.py, marker
`verify_migrations`) and the Celery executor with a real worker (test_celery_executor.py).
MIGRATION_SABOTAGE (sabotage.py) breaks the project's executor on purpose: the harness must then fail.

This is the template's proof, not a bake's: it lives in the template repository and runs inside a fresh
default bake, copied to its tests/stock_equivalence/ (`make verify-migrations` at the template root, and
the template test tests/test_verify_migrations.py). It finds the bake's package at run time (project.py).
"""
