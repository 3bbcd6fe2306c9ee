"""Adopting a single-tenant database: its data becomes one tenant of this project (`adopt_single_tenant`).

The database is the legacy app's own: its tenant apps' tables sit in the public schema, with this
project's migrations for those apps recorded in `public.django_migrations`, next to a legacy user table
(`auth_user`) and Django's bookkeeping tables (content types, permissions, admin log, sessions).
Adoption, in ONE transaction after a pg_dump of the affected tables:

1. archive: the legacy user table and the tables of the shared apps the legacy app also had
   (contenttypes, auth, admin, sessions, ...) move to schema `legacy_<slug>` and their migration records
   are removed, so the public schema can be built as this project expects (its users table is
   `accounts_user`, its admin log refers to it);
2. migrate_public: the shared apps' migrations are applied to the public schema;
3. create_tenant: the public tenant (when missing), the tenant row and its domain;
4. move_tables: each tenant-app table moves to schema `tenant_<slug>` with ALTER TABLE ... SET SCHEMA,
   which carries its indexes, constraints and owned sequences (no row is copied);
5. migrate_tenant: in the new schema, the moved apps' migrations are recorded as applied and every other
   migration is applied in graph order, creating the tables the legacy database did not have;
6. import_users: legacy users become global accounts (adoption.legacy_users) with memberships;
7. repoint_references: columns of moved tables that referred to legacy users are rewritten to the accounts'
   ids and their foreign keys re-created against `accounts_user` as the models declare them (none for a
   `db_constraint=False` field, nor for the admin log, whose key bookings migration 0004 drops);
   many-to-many link tables lose the links to users left out and those a merge repeats, other tables refuse a
   merge that breaks a unique key;
   columns that referred to legacy content types (GenericForeignKeys) take the tenant's content type of the
   same app label and model (legacy ones the project lacks are added, as stale content types);
8. check_schema: the new schema's catalog (tables, columns, indexes, constraints, sequences, triggers) is
   compared with what django-tenants' stock path builds from the migration files (lifecycle.doctor.schema_drift);
   a missing or changed object aborts; objects the legacy app added (an index of its own) are kept.

Any error rolls everything back (PostgreSQL DDL is transactional). `adoption_step` names each step as it
starts, for progress output and fault injection in tests.

Where adoption is decided: `plan.adoption_plan` (what moves, what is refused) and `steps.tenant_adopt`.
May import: `lifecycle` (provisioning, backups, the doctor's catalog check), `fleet`, `accounts`, `tenancy`,
`errors`; nothing but its command imports it.
"""
