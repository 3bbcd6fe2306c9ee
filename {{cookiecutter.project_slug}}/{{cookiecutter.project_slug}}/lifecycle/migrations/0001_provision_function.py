"""The PL/pgSQL function of warm-pool provisioning (lifecycle.services._provision_fast): one call claims a current
spare schema, renames it and inserts the tenant, its domain, subscription, owner (when new), membership and
audit events, so a provisioning from the pool costs one statement instead of some thirty.

Rows arrive as JSON objects of column values built by the models (lifecycle.services._row) and are inserted with
jsonb_populate_record, so every column the model has is written; ids come from the tables' identity sequences.
`lifecycle_tenant_provision(...)` decides nothing the Python side could not: when anything is unusual (slug,
schema or domain taken, no plan, a member limit of 0, no current spare) it writes nothing and says so, and
Python takes the ORM path, which raises the precise error or builds the schema by migrations.
"""

from django.db import migrations

PROVISION = """
CREATE OR REPLACE FUNCTION lifecycle_tenant_provision(
    lock_namespace integer,
    plan_migrations text[],
    squashes jsonb,
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
LANGUAGE plpgsql AS $fn$
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
    tenant_id bigint;
    now_at timestamptz := (tenant_row->>'created')::timestamptz;
BEGIN
    -- Few statements, each planned again after every schema change (a rename invalidates cached plans).
    -- The provisioning lock of this schema, for this transaction (lifecycle.provisioning.LOCK_NAMESPACE).
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
        SELECT s.id, s.schema_name, to_regclass(format('%I.django_migrations', s.schema_name)) IS NOT NULL AS usable
            INTO spare FROM tenancy_spareschema s WHERE NOT (s.id = ANY(skipped))
            ORDER BY s.id LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN jsonb_build_object('outcome', 'no_spare', 'stale', to_jsonb(stale));
        END IF;
        IF spare.usable THEN
            -- fleet.plan.is_current with recorded_with_replacements: a squash counts when all it replaces is
            -- recorded; one partly recorded makes the schema not current.
            EXECUTE format($check$
                WITH recorded AS (SELECT coalesce(array_agg(app || '.' || name), '{}') AS names FROM %I.django_migrations)
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
            EXIT WHEN spare_current;
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
            || jsonb_build_object('id', nextval(pg_get_serial_sequence('tenancy_domain', 'id')), 'tenant_id', tenant_id))
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
                              'stale', to_jsonb(stale));
END
$fn$;
"""

DROP = """
DROP FUNCTION IF EXISTS lifecycle_tenant_provision(integer, text[], jsonb, jsonb, jsonb, text, jsonb, text, text, text,
    jsonb, jsonb, jsonb, jsonb);
"""


class Migration(migrations.Migration):
    # PL/pgSQL resolves the tables it names when it runs, not when the function is created: no dependency on the
    # accounts, billing and audit migrations, so unrecording one of theirs never makes a schema's history
    # inconsistent on this function's account (tests/test_doctor.py repairs such a schema).
    dependencies = [
        ("tenancy", "0004_tenant_billing_state"),
    ]

    operations = [migrations.RunSQL(PROVISION, DROP)]
