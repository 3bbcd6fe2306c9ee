"""Tenant schemas keep no foreign key to the public schema's user table.

A foreign key adds two triggers to the table it refers to. Every tenant schema's keys to `accounts_user`
(bookings' `created_by` and the tenant admin log's `user`) therefore added four triggers to that one table,
40,000 at 10,000 tenants. Each new schema (every spare the pool builds) changes that table, and every
connection then rebuilds its list of the table's triggers when it next uses the table. On 2 cores a warm-pool
provisioning took 8.3 ms p50 with the table's 26 triggers and 24.1 ms with 40,026, and deleting a user row
checked every schema's keys in one transaction, which overflows PostgreSQL's lock table past a few thousand
tenants.

Both columns keep their values and indexes. The ids stay valid without the keys because a user's row is never
deleted: accounts migration 0005 refuses it, and accounts.services.user_delete keeps the row as a tombstone.
The admin log is Django's model, so its key is dropped here, by the name the catalog gives it, and put back by
Django's own builder when this migration is reversed. Runs in tenant schemas only (bookings is a tenant app).
"""

from django.conf import settings
from django.db import migrations, models


def _admin_log_user_keys(apps, schema_editor):
    """(LogEntry model, names of the foreign keys from the admin log in the migrated schema to the user table)."""
    log_entry = apps.get_model("admin", "LogEntry")
    user = apps.get_model(settings.AUTH_USER_MODEL)
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        # Unqualified names resolve through the search path: the tenant's admin log, the public user table.
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = to_regclass(%s) "
            "AND confrelid = to_regclass(%s) ORDER BY conname",
            [quote(log_entry._meta.db_table), quote(user._meta.db_table)],
        )
        return log_entry, [name for (name,) in cursor.fetchall()]


def admin_log_user_key_drop(apps, schema_editor):
    log_entry, names = _admin_log_user_keys(apps, schema_editor)
    table = schema_editor.quote_name(log_entry._meta.db_table)
    for name in names:
        schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {schema_editor.quote_name(name)}")


def admin_log_user_key_create(apps, schema_editor):
    log_entry, names = _admin_log_user_keys(apps, schema_editor)
    if not names:
        field = log_entry._meta.get_field("user")
        schema_editor.execute(schema_editor._create_fk_sql(log_entry, field, "_fk_%(to_table)s_%(to_column)s"))


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0003_booking_reminder_sent_at"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="booking",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="Who recorded the booking (a global user, public schema).",
                null=True,
                on_delete=models.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(admin_log_user_key_drop, admin_log_user_key_create, elidable=False),
    ]
