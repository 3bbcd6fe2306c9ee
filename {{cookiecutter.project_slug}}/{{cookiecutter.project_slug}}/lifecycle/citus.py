"""What stands between the tenant schemas and Citus schema-based sharding (`tenants_doctor --citus`).

Citus 12+ can turn each tenant schema into a *distributed schema* (`SELECT citus_schema_distribute('tenant_x')`,
or `citus.enable_schema_based_sharding = on` for schemas created afterwards): the tables of a distributed schema
become colocated distributed tables without a shard key, and the whole schema lives on one node and moves as a
unit. This module reads PostgreSQL's catalog (read-only: it changes nothing and needs no Citus) and reports the
objects in the tenant schemas that the Citus documentation says are not supported there:

- `foreign_key_to_other_schema`: a tenant table with a foreign key to a table in another schema (here: tenant
  tables pointing at `public.accounts_user`). Foreign keys must be declared between two local tables, two
  colocated distributed tables, or a distributed table and a *reference table*; foreign keys across distributed
  schemas are not supported; data shared by tenants lives in reference tables in a separate schema. So the
  referenced table must become a reference table (`create_reference_table`) or the foreign key be dropped; when
  the referenced table is itself in a tenant schema, only dropping it helps.
  Sources: https://docs.citusdata.com/en/stable/develop/reference_ddl.html (Adding/Removing Constraints),
  https://docs.citusdata.com/en/stable/develop/reference_workarounds.html (Schema-based sharding SQL
  compatibility: "Foreign keys across distributed schemas aren't supported"),
  https://docs.citusdata.com/en/v12.1/get_started/concepts.html (Sharding models: "No foreign keys across
  distributed schemas"; "Data sharing across tenants: using reference tables (in a separate schema)").
- `foreign_key_from_other_schema`: a table outside the tenant schemas (public, another application's schema) with a
  foreign key to a tenant table: a foreign key across distributed schemas as well, and none of the combinations
  the documentation allows has a distributed table as the referenced side of a local or reference table. Drop it.
  Same sources.
- `small_sequence` (a caveat, not a blocker): a sequence narrower than bigint in a tenant schema (an `integer`
  identity or serial column, such as Django's AutoField in contrib apps). Citus encodes the node identifier in
  the values a sequence generates on each node; that does not work for sequences smaller than BIGINT, and inserts
  on worker nodes may fail: change the column to bigint, or send inserts through the coordinator.
  Source: https://docs.citusdata.com/en/stable/develop/reference_workarounds.html (Limitations, General).

Tables in distributed schemas are "colocated distributed tables without a shard key":
https://docs.citusdata.com/en/stable/develop/api_udf.html (citus_schema_distribute) and
https://docs.citusdata.com/en/stable/develop/api_guc.html (citus.enable_schema_based_sharding).

Not checked, because they cannot arise before Citus is installed or do not apply to how the project builds
schemas: a schema that already holds distributed or reference tables cannot be distributed
(https://docs.citusdata.com/en/stable/get_started/tutorial_microservices.html); creating a distributed schema and
its tables in one SQL statement is not supported (reference_workarounds.html, above); tenants migrate each schema
with separate statements.

Findings are grouped by pattern (kind, table, constraint or sequence, referenced table), not by schema: 10,000
identical tenant schemas give one finding with `schemas == 10000` and a few example schema names. The check runs
three catalog queries whatever the number of schemas (`nspname = ANY(%s)` over the list).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django_tenants.utils import get_public_schema_name

from ..tenancy.models import SpareSchema, Tenant

DOCS_REFERENCE_DDL = "https://docs.citusdata.com/en/stable/develop/reference_ddl.html"
DOCS_WORKAROUNDS = "https://docs.citusdata.com/en/stable/develop/reference_workarounds.html"
# Example schema names a finding carries (the count says how many schemas share the pattern).
EXAMPLES = 3

# kind: (title in reports, whether it blocks citus_schema_distribute; caveats do not change the exit code)
CITUS_KINDS: dict[str, tuple[str, bool]] = {
    "foreign_key_to_other_schema": ("Foreign keys from tenant tables to tables in other schemas", True),
    "foreign_key_from_other_schema": ("Foreign keys from tables outside the tenant schemas to tenant tables", True),
    "small_sequence": ("Sequences narrower than bigint in tenant schemas (caveat)", False),
}


@dataclass(frozen=True)
class CitusBlocker:
    """One pattern that Citus schema-based sharding does not support, shared by `schemas` tenant schemas.

    kind: a key of CITUS_KINDS; table: the table holding the object, unqualified when it is in the tenant schemas
    (the same name in each), schema-qualified otherwise; name: the constraint or sequence; references: the
    referenced table (schema-qualified; `<tenant schema>.<table>` for a table in the tenant schemas) or, for a
    sequence, the column it feeds; schemas: how many tenant schemas have the pattern; examples: up to EXAMPLES of
    them, sorted; blocks: False for caveats; detail and hint: one line each for people; source: the Citus
    documentation page the rule comes from.
    """

    kind: str
    table: str
    name: str
    references: str
    schemas: int
    examples: tuple[str, ...]
    blocks: bool
    detail: str
    hint: str
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "table": self.table,
            "name": self.name,
            "references": self.references,
            "schemas": self.schemas,
            "examples": list(self.examples),
            "blocks": self.blocks,
            "detail": self.detail,
            "hint": self.hint,
            "source": self.source,
        }


def tenant_schema_names() -> list[str]:
    """The schemas that would be distributed: every tenant's schema and every registered spare schema, sorted
    (the public schema excluded). Schemas that do not exist are ignored by the check."""
    public = get_public_schema_name()
    names = set(Tenant.objects.exclude(schema_name=public).values_list("schema_name", flat=True))
    names.update(SpareSchema.objects.values_list("schema_name", flat=True))
    return sorted(names)


_FOREIGN_KEYS_OUT = """
SELECT c.relname, con.conname, rn.nspname, rc.relname, rn.nspname = ANY(%(schemas)s), count(*),
       (array_agg(n.nspname::text ORDER BY n.nspname))[1:%(examples)s::int]
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class rc ON rc.oid = con.confrelid
  JOIN pg_namespace rn ON rn.oid = rc.relnamespace
 WHERE con.contype = 'f' AND con.conparentid = 0 AND n.nspname = ANY(%(schemas)s) AND rn.oid <> n.oid
 GROUP BY c.relname, con.conname, rn.nspname, rc.relname
"""

_FOREIGN_KEYS_IN = """
SELECT n.nspname, c.relname, con.conname, rc.relname, count(*),
       (array_agg(rn.nspname::text ORDER BY rn.nspname))[1:%(examples)s::int]
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class rc ON rc.oid = con.confrelid
  JOIN pg_namespace rn ON rn.oid = rc.relnamespace
 WHERE con.contype = 'f' AND con.conparentid = 0 AND rn.nspname = ANY(%(schemas)s)
   AND NOT n.nspname = ANY(%(schemas)s)
 GROUP BY n.nspname, c.relname, con.conname, rc.relname
"""

# Sequences narrower than bigint; the column they feed through an identity ('i') or OWNED BY / serial ('a')
# dependency, when there is one.
_SMALL_SEQUENCES = """
SELECT coalesce(t.relname, ''), seq.relname, coalesce(a.attname, ''), coalesce(d.deptype::text, ''),
       format_type(s.seqtypid, NULL), count(*), (array_agg(n.nspname::text ORDER BY n.nspname))[1:%(examples)s::int]
  FROM pg_sequence s
  JOIN pg_class seq ON seq.oid = s.seqrelid
  JOIN pg_namespace n ON n.oid = seq.relnamespace
  LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = seq.oid
                       AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
  LEFT JOIN pg_class t ON t.oid = d.refobjid
  LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
 WHERE n.nspname = ANY(%(schemas)s) AND s.seqtypid <> 'bigint'::regtype
 GROUP BY 1, 2, 3, 4, 5
"""


def citus_blockers(schemas: Sequence[str] | None = None) -> list[CitusBlocker]:
    """What in the tenant schemas Citus schema-based sharding does not support, grouped by pattern.

    schemas: the schema names to check (names that do not exist are ignored); None: `tenant_schema_names()`,
    every tenant and spare schema. Returns CitusBlockers sorted by kind (the order of CITUS_KINDS), then by
    number of schemas (most first), table and name; an empty list when nothing stands in the way. Three catalog
    queries on the default connection, whatever the number of schemas; nothing is written.

    Raises ValueError when `schemas` contains the public schema (it holds the shared tables, which would become
    reference or local tables, never a distributed schema); database errors (django.db.DatabaseError) propagate.
    """
    names = tenant_schema_names() if schemas is None else sorted(set(schemas))
    public = get_public_schema_name()
    if public in names:
        raise ValueError(f"the public schema ({public}) holds the shared tables and is not a tenant schema")
    if not names:
        return []
    params: dict[str, Any] = {"schemas": names, "examples": EXAMPLES}
    with connection.cursor() as cursor:
        cursor.execute(_FOREIGN_KEYS_OUT, params)
        out_rows = cursor.fetchall()
        cursor.execute(_FOREIGN_KEYS_IN, params)
        in_rows = cursor.fetchall()
        cursor.execute(_SMALL_SEQUENCES, params)
        sequence_rows = cursor.fetchall()
    found = [
        *(_foreign_key_out(*row) for row in out_rows),
        *(_foreign_key_in(*row) for row in in_rows),
        *(_small_sequence(*row) for row in sequence_rows),
    ]
    order = list(CITUS_KINDS)
    return sorted(found, key=lambda b: (order.index(b.kind), -b.schemas, b.table, b.name, b.references))


def _foreign_key_out(
    table: str, constraint: str, ref_schema: str, ref_table: str, ref_in_tenants: bool, count: int, examples: list[str]
) -> CitusBlocker:
    if ref_in_tenants:
        references = f"<tenant schema>.{ref_table}"
        detail = (
            f"{table}.{constraint} references {ref_table} in another tenant schema ({ref_schema}): "
            "foreign keys across distributed schemas are not supported"
        )
        hint = "drop the foreign key (a table in a distributed schema cannot be a reference table)"
    else:
        references = f"{ref_schema}.{ref_table}"
        detail = (
            f"{table}.{constraint} references {references}, outside the tenant schema: "
            f"{references} would have to become a Citus reference table"
        )
        hint = f"SELECT create_reference_table('{references}') on the coordinator, or drop the foreign key"
    return CitusBlocker(
        kind="foreign_key_to_other_schema", table=table, name=constraint, references=references, schemas=count,
        examples=tuple(examples), blocks=True, detail=detail, hint=hint, source=DOCS_REFERENCE_DDL,
    )  # fmt: skip


def _foreign_key_in(
    schema: str, table: str, constraint: str, ref_table: str, count: int, examples: list[str]
) -> CitusBlocker:
    qualified = f"{schema}.{table}"
    return CitusBlocker(
        kind="foreign_key_from_other_schema", table=qualified, name=constraint,
        references=f"<tenant schema>.{ref_table}", schemas=count, examples=tuple(examples), blocks=True,
        detail=f"{qualified}.{constraint} references {ref_table} inside tenant schemas: foreign keys across "
        "distributed schemas are not supported",
        hint="drop the foreign key (enforce the reference in the application)", source=DOCS_WORKAROUNDS,
    )  # fmt: skip


def _small_sequence(
    table: str, sequence: str, column: str, dependency: str, type_name: str, count: int, examples: list[str]
) -> CitusBlocker:
    use = {"i": "identity column", "a": "serial / owned column"}.get(dependency, "sequence owned by no column")
    target = f"{table}.{column}" if table else "-"
    return CitusBlocker(
        kind="small_sequence", table=table or "-", name=sequence, references=target, schemas=count,
        examples=tuple(examples), blocks=False,
        detail=f"{type_name} sequence {sequence} ({use} {target}): Citus encodes the node in generated values only "
        "for bigint sequences; inserts on worker nodes may fail",
        hint="alter the column (and sequence) to bigint, or route inserts through the coordinator",
        source=DOCS_WORKAROUNDS,
    )  # fmt: skip
