"""The project's migrate_schemas against stock django-tenants on the small release: three entry paths.

Each test migrates a fresh copy of the starting fleet (conftest.SMALL_FLEET) by one path; every schema
must then equal what django-tenants' StandardExecutor built from the same start, table by table, index
by index, row by row of django_migrations and django_content_type (harness.py).
"""

from .harness import INCONSISTENT_ERROR, project_migrate


def test_bare_migrate_schemas_builds_what_stock_builds_and_leaves_an_inconsistent_schema_alone(small):
    with small.clone("bare"):
        output, error = project_migrate("--noinput", "--continue-on-error")
        assert error is not None and small.fleet.broken in str(error) and INCONSISTENT_ERROR in str(error), output
        small.check("migrate_schemas --noinput --continue-on-error")


def test_one_tenant_by_slug_is_built_as_stock_builds_it_and_no_other_schema_changes(small):
    schema = small.fleet.tenants["vm-old"]
    with small.clone("slug"):
        _, error = project_migrate("--tenant=vm-old")
        others = [name for name in small.fleet.schemas if name != schema]
        small.check("migrate_schemas --tenant=vm-old", untouched=others, error=error)


def test_parallel_workers_build_what_stock_builds(small):
    with small.clone("parallel", without_broken=True):
        _, error = project_migrate("--noinput", "--parallel", "2")
        small.check("migrate_schemas --noinput --parallel 2", error=error)
