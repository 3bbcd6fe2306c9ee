"""The project's migrate_schemas against stock django-tenants on the full release: every entry path.

`make verify-migrations` at the template root runs this module with the rest of the harness. Each
test migrates a fresh copy of the starting fleet (conftest.FULL_FLEET: up to date, behind, rolled back,
half of a squashed pair, at the shipped migrations, and one inconsistent tenant) by one path of the
project's command; every schema must then equal what django-tenants' StandardExecutor built from the same
start (harness.py). Paths that cannot skip the inconsistent tenant run on the copy without its tenant row.
The squashed migration (0009_squashed_0010_release_sale) has tests of its own, one per state a schema can be
in towards it: all it replaces applied, none, one of two.
"""

import pytest

from .harness import INCONSISTENT_ERROR, project_migrate, stock_migrate

pytestmark = pytest.mark.verify_migrations
ROLLBACK_TARGET = ("products", "0005_release_tags")


def test_bare_migrate_schemas_with_continue_on_error_builds_what_stock_builds(full):
    with full.clone("bare_continue"):
        output, error = project_migrate("--noinput", "--continue-on-error")
        assert error is not None and full.fleet.broken in str(error) and INCONSISTENT_ERROR in str(error), output
        full.check("migrate_schemas --noinput --continue-on-error")


def test_bare_migrate_schemas_as_make_migrate_runs_it_builds_what_stock_builds(full):
    with full.clone("bare", without_broken=True):
        _, error = project_migrate("--noinput")
        full.check("migrate_schemas --noinput", error=error)


def test_an_inconsistent_schema_stops_bare_migrate_schemas_before_any_schema_changes(full):
    with full.clone("refused"):
        _, error = project_migrate("--noinput")
        assert error is not None and full.fleet.broken in str(error) and INCONSISTENT_ERROR in str(error)
        full.check("migrate_schemas --noinput (refused)", untouched=full.fleet.schemas)


def test_shared_then_tenant_builds_what_stock_builds(full):
    with full.clone("shared_tenant", without_broken=True):
        _, error = project_migrate("--noinput", "--shared")
        if error is None:
            _, error = project_migrate("--noinput", "--tenant")
        full.check("migrate_schemas --shared; migrate_schemas --tenant", error=error)


def test_each_schema_by_name_builds_what_stock_builds(full):
    with full.clone("per_schema"):
        errors = []
        for schema in full.fleet.consistent:
            _, error = project_migrate("--noinput", "--schema", schema)
            errors += [error] if error else []
        full.check("migrate_schemas --schema <each schema>", error=errors[0] if errors else None)


def test_each_tenant_by_slug_builds_what_stock_builds_and_leaves_public_and_spares_alone(full):
    slugs = [slug for slug, schema in full.fleet.tenants.items() if schema != full.fleet.broken]
    with full.clone("per_slug"):
        errors = []
        for slug in slugs:
            _, error = project_migrate(f"--tenant={slug}")
            errors += [error] if error else []
        tenants = {full.fleet.tenants[slug] for slug in slugs}
        others = [schema for schema in full.fleet.schemas if schema not in tenants]
        full.check("migrate_schemas --tenant=<each slug>", untouched=others, error=errors[0] if errors else None)


def test_parallel_workers_build_what_stock_builds(full):
    with full.clone("parallel", without_broken=True):
        _, error = project_migrate("--noinput", "--parallel", "2")
        full.check("migrate_schemas --noinput --parallel 2", error=error)


def test_a_canary_first_then_the_rest_builds_what_stock_builds(full):
    with full.clone("canary", without_broken=True):
        _, error = project_migrate("--noinput", "--canary", "1")
        full.check("migrate_schemas --noinput --canary 1", error=error)


@pytest.mark.parametrize("executor", ["standard", "multiprocessing"])
def test_a_stock_executor_chosen_by_name_builds_what_stock_builds(full, executor):
    with full.clone(f"executor_{executor}", without_broken=True):
        _, error = project_migrate("--noinput", f"--executor={executor}")
        full.check(f"migrate_schemas --noinput --executor={executor}", error=error)


def test_rolling_one_tenant_back_and_forward_matches_stock_doing_the_same(full):
    schema = full.fleet.tenants["vm-current"]
    with full.clone("rollback_stock", template=full.stock):
        stock_migrate([schema], *ROLLBACK_TARGET)
        stock_migrate([schema])
        stock = full.snapshot()
    with full.clone("rollback_project", template=full.stock):
        _, error = project_migrate("--schema", schema, *ROLLBACK_TARGET)
        if error is None:
            _, error = project_migrate("--schema", schema)
        full.check(f"migrate_schemas --schema {schema} products 0005, then forward", error=error, reference=stock)


def test_a_schema_that_applied_every_replaced_migration_gets_the_squashed_one_recorded_as_stock_does(squashed):
    # Django records the squashed migration once all it replaces are applied (MigrationExecutor.check_replacements);
    # without that row the squashed migration is pending again once its `replaces` is removed.
    schema = squashed.fleet.tenants["vm-current"]
    with squashed.clone("squash_all_applied"):
        _, error = project_migrate("--noinput", "--schema", schema)
        squashed.check(f"migrate_schemas --schema {schema}", untouched=squashed.all_but(schema), error=error)


def test_applying_a_squashed_migration_records_what_stock_records(squashed):
    schema = squashed.fleet.tenants["vm-old"]
    with squashed.clone("squash_none_applied"):
        _, error = project_migrate("--noinput", "--schema", schema)
        squashed.check(f"migrate_schemas --schema {schema}", untouched=squashed.all_but(schema), error=error)


def test_a_schema_holding_half_of_a_squashed_pair_is_migrated_as_stock_migrates_it(squashed):
    schema = squashed.fleet.spares[0]  # products.0009_release_sale applied, 0010_release_sale_index not
    with squashed.clone("squash_half_applied"):
        _, error = project_migrate("--noinput", "--schema", schema)
        squashed.check(f"migrate_schemas --schema {schema}", untouched=squashed.all_but(schema), error=error)


def test_bare_migrate_schemas_with_a_squashed_migration_builds_what_stock_builds(squashed):
    with squashed.clone("squash_bare"):
        output, error = project_migrate("--noinput", "--continue-on-error")
        assert error is not None and squashed.fleet.broken in str(error), output
        squashed.check("migrate_schemas --noinput --continue-on-error (squashed release)")
