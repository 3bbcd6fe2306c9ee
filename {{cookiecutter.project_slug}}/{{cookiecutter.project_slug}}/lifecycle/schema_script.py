"""Building a tenant schema from a replayable script instead of running every migration.

Running every migration into a new schema costs hundreds of milliseconds for a small project (more
than stock django-tenants when the pool is empty, since the fleet executor prepares each migration
for a group). The script is what `pg_dump --schema=<spare> --inserts` writes for a current spare
schema (migrated, no tenant data): tables, sequences, indexes, constraints, triggers, the rows
migrations left (django_migrations, content types) and the sequence positions, with the spare's name
replaced by a placeholder. Replaying it is one statement.

A script is stored (tenancy.SchemaScript) only after a check: it is replayed into a scratch schema in a
transaction that is rolled back, and the catalog of that schema (fleet.verification.catalog_read with
data: every table, column, index, constraint, sequence, trigger and view, the recorded migrations and
content types, sequence positions) must equal the spare's. It is keyed on the migration set on disk and
the server's major version (`script_key`): after a deploy changes migrations, no script matches, schemas
are built by migrations again, and the next pool refill captures a new one.

`schema_script_ensure()` captures one when missing (called by spare_pool_fill); `schema_script_current()`
returns the current one or None; `schema_script_replay(script, schema)` builds a schema from it. Without
pg_dump of the server's major version, nothing is captured and schemas are built by migrations.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets

from django.db import connection, transaction
from django.utils import timezone

from ..fleet.plan import current_graph, is_current, read_applied
from ..fleet.verification import Difference, catalog_diff, catalog_read
from ..tenancy.models import SchemaScript, SpareSchema
from .pgtools import LOCK_WAIT_TIMEOUT, BackupError, pg_binary, pg_run, server_version

logger = logging.getLogger(__name__)

PLACEHOLDER = "__lifecycle_schema__"
SCRATCH_PREFIX = "script_check_"
# pg_dump lines that are not part of the schema: session settings (they would change this connection's
# search_path), psql meta-commands (\restrict), comments, and the CREATE SCHEMA the replay issues itself.
_SKIPPED_LINE = re.compile(r"^(--|\\|SET |SELECT pg_catalog\.set_config\(|CREATE SCHEMA )")


def script_key() -> str:
    """A sha256 hex digest of the migrations on disk (forward plan and squashes) and the server's major version."""
    loader, plan = current_graph()
    squashes = sorted(
        (f"{app}.{name}", sorted(migration.replaces)) for (app, name), migration in loader.replacements.items()
    )
    material = json.dumps([server_version()[0], [f"{app}.{name}" for app, name in plan], squashes])
    return hashlib.sha256(material.encode()).hexdigest()


def script_from_dump(dump: str, schema: str) -> str:
    """`dump` (pg_dump's plain output for `schema` alone) as a replayable script: settings, meta-commands,
    comments and CREATE SCHEMA left out, every reference to `schema` (quoted or not) written as PLACEHOLDER."""
    lines = [line for line in dump.splitlines() if line.strip() and not _SKIPPED_LINE.match(line)]
    pattern = rf"(?<![\w$])(?:\"{re.escape(schema)}\"|{re.escape(schema)})\."
    return re.sub(pattern, f"{PLACEHOLDER}.", "\n".join(lines)) + "\n"


def schema_script_replay(script: str, schema: str) -> None:
    """CREATE SCHEMA `schema` and replay `script` into it, in one statement in the caller's transaction.

    `schema` must be a validated name (tenant_<slug>, spare_<hex>). Raises what PostgreSQL raises when the
    script fails (the caller's transaction then rolls back the schema).
    """
    quoted = connection.ops.quote_name(schema)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {quoted};\n" + script.replace(PLACEHOLDER, quoted))


def schema_script_current() -> str | None:
    """The stored script for the current `script_key()`, or None."""
    return SchemaScript.objects.filter(key=script_key()).values_list("script", flat=True).first()


def schema_script_check(script: str, reference: str) -> list[Difference]:
    """Replay `script` into a scratch schema and return how its catalog (with data: migrations, content types,
    sequence positions) differs from schema `reference`'s; nothing is kept (a rolled-back savepoint)."""
    scratch = f"{SCRATCH_PREFIX}{secrets.token_hex(6)}"
    with transaction.atomic():
        schema_script_replay(script, scratch)
        catalogs = catalog_read([reference, scratch], data=True)
        transaction.set_rollback(True)
    return catalog_diff(scratch, catalogs[reference], catalogs[scratch])


def schema_script_capture(schema: str) -> str:
    """pg_dump schema `schema` (plain SQL, rows as INSERTs, no owners or privileges) and return it as a script.

    Raises BackupError when pg_dump of the server's major version is missing or fails.
    """
    result = pg_run(
        pg_binary("pg_dump"),
        [f"--schema={schema}", "--inserts", "--no-owner", "--no-privileges", "--no-password",
         f"--lock-wait-timeout={LOCK_WAIT_TIMEOUT}"],
        action=f"capturing the schema script from {schema}",
    )  # fmt: skip
    return script_from_dump(result.stdout, schema)


def schema_script_ensure() -> bool:
    """Make sure a checked script for the current migrations is stored; return whether one is.

    When missing, captures it from the oldest current spare (locked against claims meanwhile), checks it
    (schema_script_check) and stores it in place of the script of other migrations (one row). Without a
    current spare, or when pg_dump is unavailable or the check finds a difference (logged as an error), stores
    nothing and returns False: schemas are then built by migrations.
    """
    key = script_key()
    if SchemaScript.objects.filter(key=key).exists():
        return True
    with transaction.atomic():
        spares = list(SpareSchema.objects.order_by("id").values_list("pk", "schema_name"))
        applied, _ = read_applied([name for _, name in spares])
        source = None
        for spare_id, name in spares:
            # Locked until the script is stored: a claim skips this spare and takes another meanwhile.
            locked = SpareSchema.objects.select_for_update(skip_locked=True).filter(pk=spare_id)
            if is_current(applied[name]) and list(locked.values_list("pk", flat=True)):
                source = name
                break
        if source is None:
            return False
        try:
            script = schema_script_capture(source)
        except BackupError as exc:
            logger.warning("no schema script captured; new schemas are built by migrations: %s", exc)
            return False
        differences = schema_script_check(script, source)
        if differences:
            shown = "; ".join(str(difference) for difference in differences[:5])
            logger.error("the schema script captured from %s differs from it; not used: %s", source, shown)
            return False
        # One row, replaced in place: a recapture after a deploy moves no sequence (migrate_schemas ends with the
        # pool's top-up, and its result is compared with stock django-tenants' catalog, sequence positions included).
        kept = SchemaScript.objects.order_by("id").values_list("pk", flat=True).first()
        if kept is None:
            SchemaScript.objects.create(key=key, script=script)
        else:
            SchemaScript.objects.exclude(pk=kept).delete()
            SchemaScript.objects.filter(pk=kept).update(key=key, script=script, created=timezone.now())
    logger.info("schema script captured from %s (%d characters)", source, len(script))
    return True
