"""tenants_doctor --citus: the fleet as built has no cross-schema foreign key (tenant tables refer to users without
one, bookings migration 0004), so nothing blocks; a key added to every schema is one finding with the number of
schemas; a foreign key added to a committed tenant schema is reported and disappears when removed; exit codes 0, 1
and 2 and the JSON shape."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from {{ cookiecutter.project_slug }}.lifecycle import citus as citus_module
from {{ cookiecutter.project_slug }}.lifecycle.citus import CITUS_KINDS, citus_blockers
from {{ cookiecutter.project_slug }}.lifecycle.management.commands import tenants_doctor as command_module
from {{ cookiecutter.project_slug }}.tenancy.models import SpareSchema, Tenant

from .test_doctor import doctor, sql
from conftest import committed_tenants

FINDING_KEYS = {"kind", "table", "name", "references", "schemas", "examples", "blocks", "detail", "hint", "source"}


def doctor_json(*args):
    code, output = doctor("--citus", *args, "--format", "json")
    return code, json.loads(output[: output.rindex("}") + 1])


def fleet_schemas():
    """Tenant and spare schema names, read here rather than from the module under test."""
    tenants = Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True)
    return sorted({*tenants, *SpareSchema.objects.values_list("schema_name", flat=True)})


def cross_schema_foreign_keys(schema):
    """{(table, constraint, referenced schema.table)} of foreign keys from `schema` to other schemas."""
    rows = sql(
        """SELECT c.relname, con.conname, rn.nspname || '.' || rc.relname
             FROM pg_constraint con
             JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_class rc ON rc.oid = con.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
            WHERE con.contype = 'f' AND n.nspname = %s AND rn.nspname <> %s""",
        [schema, schema],
    )
    return set(rows)


def schemas_with_constraint(constraint, schemas):
    return sorted(
        row[0]
        for row in sql(
            """SELECT n.nspname FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE con.conname = %s AND n.nspname = ANY(%s)""",
            [constraint, schemas],
        )
    )


def by_pattern(findings):
    return {(f.kind, f.table, f.name, f.references): f for f in findings}


# --- what the project has today, and a key to the user table in every schema -----------------------------

PROBE = ("bookings_booking", "citus_probe_user_fk", "public.accounts_user")


@pytest.fixture
def user_key_everywhere(tenant):
    """The foreign key every tenant schema had before bookings migration 0004, from bookings' `created_by` to the
    public user table, added to every tenant and spare schema in this test's transaction; returns the schemas."""
    connection.set_schema_to_public()
    schemas = fleet_schemas()
    for schema in schemas:
        sql(f'ALTER TABLE "{schema}".bookings_booking ADD CONSTRAINT citus_probe_user_fk FOREIGN KEY (created_by_id) '
            "REFERENCES public.accounts_user (id) NOT VALID")  # fmt: skip
    return schemas


@pytest.mark.django_db
def test_the_fleet_as_built_has_no_cross_schema_foreign_key_and_nothing_blocks(tenant):
    connection.set_schema_to_public()
    schemas = fleet_schemas()
    assert len(schemas) > 2  # acme, globex and the spare pool
    assert {schema: cross_schema_foreign_keys(schema) for schema in schemas} == {schema: set() for schema in schemas}
    assert [f for f in citus_blockers() if f.blocks] == []
    code, output = doctor("--citus")
    assert code == 0, output
    assert f"{len(schemas)} tenant/spare schema(s) checked: 0 blocking pattern(s)" in output


@pytest.mark.django_db
def test_a_key_in_every_schema_is_found_once_with_its_schema_count(user_key_everywhere):
    schemas = user_key_everywhere
    assert all(cross_schema_foreign_keys(schema) == {PROBE} for schema in schemas)
    findings = by_pattern(citus_blockers())
    _, constraint, referenced = PROBE
    finding = findings[("foreign_key_to_other_schema", *PROBE)]
    having = schemas_with_constraint(constraint, schemas)
    assert finding.schemas == len(having) == len(schemas) >= 3
    assert list(finding.examples) == having[:3]
    assert finding.blocks is True
    assert f"{referenced} would have to become a Citus reference table" in finding.detail
    assert f"create_reference_table('{referenced}')" in finding.hint
    assert finding.source.startswith("https://docs.citusdata.com/")
    # One finding per pattern, not one per schema.
    assert [f for f in findings.values() if f.kind == "foreign_key_to_other_schema"] == [finding]


@pytest.mark.django_db
def test_sequences_narrower_than_bigint_are_caveats_that_name_their_column(tenant):
    connection.set_schema_to_public()
    narrow = {
        row[0]
        for row in sql(
            # pg_sequences lists identity sequences too (information_schema.sequences leaves them out).
            "SELECT sequencename FROM pg_sequences WHERE schemaname = %s AND data_type <> 'bigint'::regtype",
            [tenant.schema_name],
        )
    }
    found = {f.name: f for f in citus_blockers([tenant.schema_name]) if f.kind == "small_sequence"}
    assert set(found) == narrow
    for finding in found.values():
        assert finding.blocks is False
        assert finding.examples == (tenant.schema_name,)
        assert finding.references.startswith(f"{finding.table}.")


@pytest.mark.django_db
def test_the_check_runs_three_queries_whatever_the_number_of_schemas():
    schemas = fleet_schemas()
    with CaptureQueriesContext(connection) as few:
        citus_blockers(schemas[:1])
    with CaptureQueriesContext(connection) as many:
        citus_blockers([*schemas, *(f"tenant_missing_{i}" for i in range(500))])
    assert len(few.captured_queries) == len(many.captured_queries) == 3


@pytest.mark.django_db
def test_the_public_schema_is_refused_and_no_schemas_means_no_findings():
    with pytest.raises(ValueError, match="public"):
        citus_blockers(["public", "tenant_acme"])
    assert citus_blockers([]) == []


# --- a committed throwaway tenant: the check can fail, and recovers -------------------------


def test_a_foreign_key_added_to_a_committed_tenant_schema_is_reported_then_gone(django_db_setup, django_db_blocker):
    with committed_tenants(django_db_blocker, ["citusprobe"]) as schemas, django_db_blocker.unblock():
        schema = schemas[0]
        connection.set_schema_to_public()
        baseline = by_pattern(citus_blockers([schema]))
        sql(f'CREATE TABLE "{schema}".citus_probe (id bigint PRIMARY KEY, tenant_id bigint '
            "CONSTRAINT citus_probe_tenant_fk REFERENCES public.tenancy_tenant (id))")  # fmt: skip
        sql(f'CREATE TABLE "{schema}".citus_probe_small (id integer GENERATED BY DEFAULT AS IDENTITY)')
        sql(f'CREATE TABLE public.citus_probe_in (probe_id bigint CONSTRAINT citus_probe_in_fk REFERENCES "{schema}"'
            ".citus_probe (id))")  # fmt: skip
        try:
            added = {key: f for key, f in by_pattern(citus_blockers([schema])).items() if key not in baseline}
            out = added.pop(("foreign_key_to_other_schema", "citus_probe", "citus_probe_tenant_fk",
                             "public.tenancy_tenant"))  # fmt: skip
            assert (out.schemas, out.examples, out.blocks) == (1, (schema,), True)
            assert "citus_probe.citus_probe_tenant_fk references public.tenancy_tenant" in out.detail
            into = added.pop(("foreign_key_from_other_schema", "public.citus_probe_in", "citus_probe_in_fk",
                              "<tenant schema>.citus_probe"))  # fmt: skip
            assert (into.schemas, into.blocks) == (1, True)
            small = added.pop(("small_sequence", "citus_probe_small", "citus_probe_small_id_seq",
                               "citus_probe_small.id"))  # fmt: skip
            assert small.blocks is False
            assert "identity column" in small.detail
            assert added == {}
            # The whole fleet: the probe pattern is counted once, in its one schema.
            fleet = by_pattern(citus_blockers())
            assert fleet[("foreign_key_to_other_schema", "citus_probe", "citus_probe_tenant_fk",
                          "public.tenancy_tenant")].examples == (schema,)  # fmt: skip
            code, document = doctor_json()
            assert code == 1
            assert any(f["name"] == "citus_probe_tenant_fk" for f in document["findings"])
        finally:
            sql("DROP TABLE IF EXISTS public.citus_probe_in")
            sql(f'DROP TABLE IF EXISTS "{schema}".citus_probe, "{schema}".citus_probe_small')
        assert by_pattern(citus_blockers([schema])) == baseline
        assert not any(f.name.startswith("citus_probe") for f in citus_blockers())


# --- the command ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_citus_reports_blockers_as_a_table_and_exits_1(user_key_everywhere):
    table, constraint, referenced = PROBE
    code, output = doctor("--citus")
    assert code == 1
    assert f"{len(user_key_everywhere)} tenant/spare schema(s) checked" in output
    assert "(foreign_key_to_other_schema)" in output
    line = next(line for line in output.splitlines() if constraint[:20] in line)
    assert table in line
    assert f" {len(user_key_everywhere)} " in line
    assert referenced in output
    assert "block Citus schema-based sharding" in output
    assert "https://docs.citusdata.com/" in output


@pytest.mark.django_db
def test_citus_json_has_ok_schema_count_and_findings_by_pattern(user_key_everywhere):
    code, document = doctor_json()
    assert code == 1
    assert set(document) == {"ok", "schemas_checked", "findings"}
    assert document["ok"] is False
    assert document["schemas_checked"] == len(user_key_everywhere)
    assert document["findings"]
    for finding in document["findings"]:
        assert set(finding) == FINDING_KEYS
        assert finding["kind"] in CITUS_KINDS
        assert 1 <= len(finding["examples"]) <= min(3, finding["schemas"])
    constraints = {(f["table"], f["name"]) for f in document["findings"] if f["kind"] == "foreign_key_to_other_schema"}
    assert constraints == {PROBE[:2]}


@pytest.mark.django_db
def test_citus_exits_0_when_nothing_blocks(monkeypatch):
    # A schema holding a bigint identity table and a foreign key inside the schema only (this transaction).
    sql("CREATE SCHEMA tenant_citus_clean; "
        "CREATE TABLE tenant_citus_clean.a (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY); "
        "CREATE TABLE tenant_citus_clean.b (a_id bigint REFERENCES tenant_citus_clean.a)")  # fmt: skip
    monkeypatch.setattr(command_module, "tenant_schema_names", lambda: ["tenant_citus_clean"])
    assert citus_module.citus_blockers(["tenant_citus_clean"]) == []
    code, output = doctor("--citus")
    assert code == 0, output
    assert "1 tenant/spare schema(s) checked: 0 blocking pattern(s), 0 caveat(s)" in output
    assert "Nothing blocks Citus schema-based sharding." in output
    code, document = doctor_json()
    assert (code, document) == (0, {"ok": True, "schemas_checked": 1, "findings": []})


@pytest.mark.django_db
def test_caveats_alone_do_not_fail_the_command(monkeypatch):
    sql("CREATE SCHEMA tenant_citus_small; CREATE TABLE tenant_citus_small.a (id integer GENERATED BY DEFAULT AS "
        "IDENTITY PRIMARY KEY)")  # fmt: skip
    monkeypatch.setattr(command_module, "tenant_schema_names", lambda: ["tenant_citus_small"])
    code, document = doctor_json()
    assert code == 0
    assert document["ok"] is True
    assert [(f["kind"], f["blocks"], f["references"]) for f in document["findings"]] == [
        ("small_sequence", False, "a.id")
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("args", [("--citus", "--fix"), ("--fix", "--citus", "--format", "json")])
def test_citus_with_fix_is_a_usage_error(args, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("the check ran although the usage was wrong")

    monkeypatch.setattr(command_module, "citus_blockers", must_not_run)
    monkeypatch.setattr(command_module, "fleet_repair", must_not_run)
    code, output = doctor(*args)
    assert code == 2
    assert "--citus" in output
    assert "--fix" in output
