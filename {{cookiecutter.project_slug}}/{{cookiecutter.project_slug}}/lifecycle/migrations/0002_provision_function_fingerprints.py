"""Warm-pool provisioning in fewer steps inside the database (lifecycle.services._provision_fast): the function of
migration 0001, changed in two ways.

- It runs with the search path of this migration (the public schema; `SET search_path FROM CURRENT`, as the
  functions of tenancy migration 0005) and is called by its qualified name, so the caller needs no
  `SET search_path` first: a provisioning from the pool is one statement on the wire, not two.
- A spare's migrations are checked against the migrations on disk by its summary in `tenancy_migrationstate`
  (fleet/state.py) when the caller already knows that summary's fingerprint to be current: `known_current`
  lists the fingerprints (md5 of the sorted "app.name" records) that this process found current before.
  Schemas with equal fingerprints record the same migrations, so such a spare is current without reading its
  `django_migrations`, which the connection has never opened (a spare is new to every connection that claims
  it). The summary counts only while it is trusted, by the same rule as fleet.state.state_read: the table
  still carries, enabled always, the trigger that computed it. Otherwise the spare's table is read and checked
  as before (fleet.plan.is_current), and a current spare's trusted fingerprint is returned as `fingerprint`
  for the caller to remember.

Everything else is 0001's: rows arrive as JSON objects of column values built by the models, the function
writes nothing and says so when anything is unusual, and Python then takes the ORM path.
"""

from importlib import import_module

from django.db import migrations

PREVIOUS = import_module(f"{__package__}.0001_provision_function")

PROVISION = """
CREATE FUNCTION lifecycle_tenant_provision(
    lock_namespace integer,
    plan_migrations text[],
    squashes jsonb,
    known_current text[],
    tenant_row jsonb,
    domain_row jsonb,
    plan_code text,
    subscription_row jsonb,
    status_trialing text,
    status_active text,
    owner_email text,
    new_owner_row jsonb,
    membership_row jsonb,
    membership_audit_row jsonb,
    tenant_audit_row jsonb
) RETURNS jsonb
LANGUAGE plpgsql
SET search_path FROM CURRENT AS $fn$
DECLARE
    schema text := tenant_row->>'schema_name';
    taken boolean;
    plan_id bigint;
    trial_days integer;
    max_members integer;
    owner_id bigint;
    owner_address text;
    owner_is_new boolean := false;
    skipped bigint[] := '{}';
    stale text[] := '{}';
    spare record;
    spare_current boolean;
    learned text;
    tenant_id bigint;
    now_at timestamptz := (tenant_row->>'created')::timestamptz;
BEGIN
    -- Few statements, each planned again after every schema change (a rename, or a spare created by another
    -- session, invalidates cached plans). The provisioning lock of this schema, for this transaction
    -- (lifecycle.provisioning.LOCK_NAMESPACE).
    PERFORM pg_advisory_xact_lock(lock_namespace, hashtext(schema));
    -- Slug, schema and domain free; the plan (given, else the default one, else the first); the owner if known.
    SELECT EXISTS (SELECT 1 FROM tenancy_tenant t WHERE t.slug = tenant_row->>'slug' OR t.schema_name = schema)
               OR EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = schema)
               OR EXISTS (SELECT 1 FROM tenancy_domain d WHERE d.domain = domain_row->>'domain'),
           p.id, p.trial_days, p.max_members, u.id, u.email
        INTO taken, plan_id, trial_days, max_members, owner_id, owner_address
        FROM (SELECT 1) AS one
        LEFT JOIN LATERAL (
            SELECT b.id, b.trial_days, b.max_members FROM billing_plan b
            WHERE plan_code IS NULL OR b.code = plan_code
            ORDER BY (plan_code IS NULL AND b.is_default) DESC, b.position, b.code LIMIT 1
        ) AS p ON true
        LEFT JOIN accounts_user u ON owner_email IS NOT NULL AND lower(u.email) = lower(owner_email);
    IF taken THEN
        RETURN jsonb_build_object('outcome', 'taken');
    END IF;
    IF plan_id IS NULL OR (owner_email IS NOT NULL AND max_members < 1) THEN
        RETURN jsonb_build_object('outcome', 'unusual');
    END IF;

    -- The oldest current spare (lifecycle.provisioning.spare_claim); stale ones are skipped and reported.
    LOOP
        SELECT s.id, s.schema_name, t.oid IS NOT NULL AS usable, summary.fingerprint
            INTO spare
            FROM tenancy_spareschema s
            CROSS JOIN LATERAL (SELECT to_regclass(format('%I.django_migrations', s.schema_name))::oid AS oid) AS t
            LEFT JOIN LATERAL (
                -- The summary, while the trigger that computed it is still on the table (fleet.state.state_read).
                SELECT m.fingerprint FROM tenancy_migrationstate m
                JOIN pg_catalog.pg_trigger tg ON tg.oid = m.trigger_oid::oid AND tg.tgrelid = m.table_oid::oid
                WHERE m.table_oid = t.oid::bigint AND tg.tgname = 'tenancy_migration_state' AND tg.tgenabled = 'A'
                      AND tg.tgfoid = to_regproc('tenancy_migration_state_track')::oid
                LIMIT 1
            ) AS summary ON true
            WHERE NOT (s.id = ANY(skipped))
            ORDER BY s.id LIMIT 1 FOR UPDATE OF s SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN jsonb_build_object('outcome', 'no_spare', 'stale', to_jsonb(stale));
        END IF;
        IF spare.usable AND spare.fingerprint = ANY(known_current) THEN
            EXIT;
        END IF;
        IF spare.usable THEN
            -- fleet.plan.is_current with recorded_with_replacements: a squash counts when all it replaces is
            -- recorded; one partly recorded makes the schema not current.
            EXECUTE format($check$
                WITH recorded AS (
                    SELECT coalesce(array_agg(app || '.' || name), '{}') AS names FROM %I.django_migrations
                )
                SELECT NOT EXISTS (
                    SELECT 1 FROM jsonb_each($2) AS squash
                    WHERE (SELECT count(*) FROM jsonb_array_elements_text(squash.value) AS replaced
                           WHERE replaced = ANY(recorded.names)) NOT IN (0, jsonb_array_length(squash.value))
                ) AND $1 <@ (recorded.names || ARRAY(
                    SELECT squash.key FROM jsonb_each($2) AS squash
                    WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(squash.value) AS replaced
                                      WHERE replaced <> ALL(recorded.names))
                ))
                FROM recorded
            $check$, spare.schema_name) INTO spare_current USING plan_migrations, squashes;
            IF spare_current THEN
                learned := spare.fingerprint;
                EXIT;
            END IF;
        END IF;
        skipped := skipped || spare.id;
        stale := stale || spare.schema_name::text;
    END LOOP;
    EXECUTE format('ALTER SCHEMA %I RENAME TO %I', spare.schema_name, schema);

    tenant_id := nextval(pg_get_serial_sequence('tenancy_tenant', 'id'));
    IF owner_email IS NOT NULL AND owner_id IS NULL THEN
        owner_is_new := true;
        owner_id := nextval(pg_get_serial_sequence('accounts_user', 'id'));
        owner_address := new_owner_row->>'email';
    END IF;
    -- Every row in one statement; ids from the tables' sequences, events in the order the ORM path writes them.
    WITH claimed AS (
        DELETE FROM tenancy_spareschema WHERE id = spare.id
    ), new_tenant AS (
        INSERT INTO tenancy_tenant
        SELECT * FROM jsonb_populate_record(NULL::tenancy_tenant, tenant_row || jsonb_build_object('id', tenant_id))
    ), new_domain AS (
        INSERT INTO tenancy_domain SELECT * FROM jsonb_populate_record(NULL::tenancy_domain, domain_row
            || jsonb_build_object('id', nextval(pg_get_serial_sequence('tenancy_domain', 'id')),
                                  'tenant_id', tenant_id))
    ), new_subscription AS (
        INSERT INTO billing_subscription SELECT * FROM jsonb_populate_record(NULL::billing_subscription,
            subscription_row || jsonb_build_object(
                'id', nextval(pg_get_serial_sequence('billing_subscription', 'id')),
                'tenant_id', tenant_id,
                'plan_id', plan_id,
                'status', CASE WHEN trial_days > 0 THEN status_trialing ELSE status_active END,
                'trial_end', CASE WHEN trial_days > 0 THEN now_at + make_interval(days => trial_days) END,
                'current_period_end', CASE WHEN trial_days > 0 THEN now_at + make_interval(days => trial_days) END))
    ), new_owner AS (
        INSERT INTO accounts_user
        SELECT * FROM jsonb_populate_record(NULL::accounts_user, new_owner_row || jsonb_build_object('id', owner_id))
        WHERE owner_is_new
    ), new_membership AS (
        INSERT INTO accounts_membership SELECT * FROM jsonb_populate_record(NULL::accounts_membership, membership_row
            || jsonb_build_object('id', nextval(pg_get_serial_sequence('accounts_membership', 'id')),
                                  'tenant_id', tenant_id, 'user_id', owner_id))
        WHERE owner_email IS NOT NULL
    )
    INSERT INTO audit_auditevent
    SELECT event.* FROM (
        SELECT 1 AS event_order, membership_audit_row || jsonb_build_object(
            'tenant_id', tenant_id,
            'target', left('membership of ' || owner_address, 300),
            'detail', (membership_audit_row->'detail') || jsonb_build_object('email', owner_address)) AS row_values
        WHERE owner_email IS NOT NULL
        UNION ALL
        SELECT 2, tenant_audit_row || jsonb_build_object(
            'tenant_id', tenant_id,
            'detail', (tenant_audit_row->'detail') || jsonb_build_object('spare_schema', spare.schema_name))
        ORDER BY 1
    ) AS ordered,
    LATERAL jsonb_populate_record(NULL::audit_auditevent, ordered.row_values
        || jsonb_build_object('id', nextval(pg_get_serial_sequence('audit_auditevent', 'id')))) AS event;
    RETURN jsonb_build_object('outcome', 'created', 'tenant_id', tenant_id, 'spare', spare.schema_name,
                              'stale', to_jsonb(stale), 'fingerprint', learned);
END
$fn$;
"""

DROP = """
DROP FUNCTION IF EXISTS lifecycle_tenant_provision(integer, text[], jsonb, text[], jsonb, jsonb, text, jsonb, text,
    text, text, jsonb, jsonb, jsonb, jsonb);
"""


class Migration(migrations.Migration):
    # tenancy 0005: the migration-state summaries the function reads (PL/pgSQL resolves them when it runs).
    dependencies = [
        ("lifecycle", "0001_provision_function"),
        ("tenancy", "0005_migration_state"),
    ]

    operations = [migrations.RunSQL([PREVIOUS.DROP, PROVISION], [DROP, PREVIOUS.PROVISION])]
