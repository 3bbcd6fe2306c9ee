"""PL/pgSQL functions of warm-pool provisioning (lifecycle.services._provision_fast): one call claims a current
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
    plan record;
    owner_id bigint;
    owner_address text;
    skipped bigint[] := '{}';
    stale text[] := '{}';
    spare record;
    recorded text[];
    new_tenant bigint;
    now_at timestamptz := (tenant_row->>'created')::timestamptz;
BEGIN
    -- The provisioning lock of this schema, for this transaction (lifecycle.provisioning.LOCK_NAMESPACE).
    PERFORM pg_advisory_xact_lock(lock_namespace, hashtext(schema));
    IF EXISTS (SELECT 1 FROM tenancy_tenant WHERE slug = tenant_row->>'slug' OR schema_name = schema)
       OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = schema)
       OR EXISTS (SELECT 1 FROM tenancy_domain WHERE domain = domain_row->>'domain') THEN
        RETURN jsonb_build_object('outcome', 'taken');
    END IF;
    IF plan_code IS NOT NULL THEN
        SELECT id, trial_days, max_members INTO plan FROM billing_plan WHERE code = plan_code;
    ELSE
        SELECT id, trial_days, max_members INTO plan FROM billing_plan WHERE is_default;
        IF NOT FOUND THEN
            SELECT id, trial_days, max_members INTO plan FROM billing_plan ORDER BY position, code LIMIT 1;
        END IF;
    END IF;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('outcome', 'unusual');
    END IF;
    IF owner_email IS NOT NULL AND plan.max_members < 1 THEN
        RETURN jsonb_build_object('outcome', 'unusual');
    END IF;
    IF owner_email IS NOT NULL THEN
        SELECT id, email INTO owner_id, owner_address FROM accounts_user WHERE lower(email) = lower(owner_email);
    END IF;

    -- The oldest current spare (lifecycle.provisioning.spare_claim); stale ones are skipped and reported.
    LOOP
        SELECT id, schema_name INTO spare FROM tenancy_spareschema WHERE NOT (id = ANY(skipped))
            ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN jsonb_build_object('outcome', 'no_spare', 'stale', to_jsonb(stale));
        END IF;
        IF to_regclass(format('%I.django_migrations', spare.schema_name)) IS NOT NULL THEN
            EXECUTE format('SELECT array_agg(app || %L || name) FROM %I.django_migrations', '.', spare.schema_name)
                INTO recorded;
            recorded := coalesce(recorded, '{}');
            -- fleet.plan.recorded_with_replacements: a squash counts when all it replaces is recorded; one
            -- partly recorded makes the schema not current.
            IF NOT EXISTS (
                SELECT 1 FROM jsonb_each(squashes) AS squash
                WHERE (SELECT count(*) FROM jsonb_array_elements_text(squash.value) AS replaced
                       WHERE replaced = ANY(recorded)) NOT IN (0, jsonb_array_length(squash.value))
            ) AND plan_migrations <@ (recorded || ARRAY(
                SELECT squash.key FROM jsonb_each(squashes) AS squash
                WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(squash.value) AS replaced
                                  WHERE replaced <> ALL(recorded))
            )) THEN
                EXIT;
            END IF;
        END IF;
        skipped := skipped || spare.id;
        stale := stale || spare.schema_name::text;
    END LOOP;
    DELETE FROM tenancy_spareschema WHERE id = spare.id;
    EXECUTE format('ALTER SCHEMA %I RENAME TO %I', spare.schema_name, schema);

    new_tenant := nextval(pg_get_serial_sequence('tenancy_tenant', 'id'));
    INSERT INTO tenancy_tenant
        SELECT * FROM jsonb_populate_record(NULL::tenancy_tenant, tenant_row || jsonb_build_object('id', new_tenant));
    INSERT INTO tenancy_domain SELECT * FROM jsonb_populate_record(NULL::tenancy_domain, domain_row || jsonb_build_object(
        'id', nextval(pg_get_serial_sequence('tenancy_domain', 'id')), 'tenant_id', new_tenant));
    INSERT INTO billing_subscription SELECT * FROM jsonb_populate_record(NULL::billing_subscription,
        subscription_row || jsonb_build_object(
            'id', nextval(pg_get_serial_sequence('billing_subscription', 'id')),
            'tenant_id', new_tenant,
            'plan_id', plan.id,
            'status', CASE WHEN plan.trial_days > 0 THEN status_trialing ELSE status_active END,
            'trial_end', CASE WHEN plan.trial_days > 0 THEN now_at + make_interval(days => plan.trial_days) END,
            'current_period_end', CASE WHEN plan.trial_days > 0 THEN now_at + make_interval(days => plan.trial_days) END
        ));
    IF owner_email IS NOT NULL THEN
        IF owner_id IS NULL THEN
            owner_id := nextval(pg_get_serial_sequence('accounts_user', 'id'));
            owner_address := new_owner_row->>'email';
            INSERT INTO accounts_user
                SELECT * FROM jsonb_populate_record(NULL::accounts_user, new_owner_row || jsonb_build_object('id', owner_id));
        END IF;
        INSERT INTO accounts_membership SELECT * FROM jsonb_populate_record(NULL::accounts_membership,
            membership_row || jsonb_build_object(
                'id', nextval(pg_get_serial_sequence('accounts_membership', 'id')),
                'tenant_id', new_tenant, 'user_id', owner_id));
        INSERT INTO audit_auditevent SELECT * FROM jsonb_populate_record(NULL::audit_auditevent,
            membership_audit_row || jsonb_build_object(
                'id', nextval(pg_get_serial_sequence('audit_auditevent', 'id')),
                'tenant_id', new_tenant,
                'target', left('membership of ' || owner_address, 300),
                'detail', (membership_audit_row->'detail') || jsonb_build_object('email', owner_address)));
    END IF;
    INSERT INTO audit_auditevent SELECT * FROM jsonb_populate_record(NULL::audit_auditevent,
        tenant_audit_row || jsonb_build_object(
            'id', nextval(pg_get_serial_sequence('audit_auditevent', 'id')),
            'tenant_id', new_tenant,
            'detail', (tenant_audit_row->'detail') || jsonb_build_object('spare_schema', spare.schema_name)));
    RETURN jsonb_build_object('outcome', 'created', 'tenant_id', new_tenant, 'spare', spare.schema_name,
                              'stale', to_jsonb(stale));
END
$fn$;
"""

DROP = """
DROP FUNCTION IF EXISTS lifecycle_tenant_provision(integer, text[], jsonb, jsonb, jsonb, text, jsonb, text, text, text,
    jsonb, jsonb, jsonb, jsonb);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0004_tenant_billing_state"),
        ("accounts", "0003_team_accounts"),
        ("billing", "0001_initial"),
        ("audit", "0001_initial"),
    ]

    operations = [migrations.RunSQL(PROVISION, DROP)]
