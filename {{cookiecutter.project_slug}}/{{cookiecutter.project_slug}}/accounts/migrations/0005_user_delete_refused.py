"""A user's row is never deleted: the database refuses it.

Tenant schemas refer to users by id without foreign keys (bookings migration 0004 says why), so nothing else
would stop a deletion from leaving those ids pointing nowhere. accounts.services.user_delete keeps the row as an
anonymous tombstone instead; any other path (`User.delete()`, a queryset's `delete()`, SQL) fails with SQLSTATE
23001 (restrict_violation, an IntegrityError in Django) naming that function, and changes nothing. TRUNCATE,
which only the test database's flush uses, is not a row deletion and is not refused.
"""

from django.db import migrations

REFUSE = """
CREATE FUNCTION accounts_user_delete_refuse() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'user % (id %) cannot be deleted: tenant schemas may refer to it; '
        'accounts.services.user_delete deletes a user and keeps the row as an anonymous tombstone', OLD.email, OLD.id
        USING ERRCODE = 'restrict_violation';
END
$fn$;
CREATE TRIGGER accounts_user_delete_refuse BEFORE DELETE ON accounts_user
    FOR EACH ROW EXECUTE FUNCTION accounts_user_delete_refuse();
"""

ALLOW = """
DROP TRIGGER IF EXISTS accounts_user_delete_refuse ON accounts_user;
DROP FUNCTION IF EXISTS accounts_user_delete_refuse();
"""


class Migration(migrations.Migration):
    dependencies = [
{%- if cookiecutter.use_drf == "y" %}
        ("accounts", "0004_apikey"),
{%- else %}
        ("accounts", "0003_team_accounts"),
{%- endif %}
    ]

    operations = [migrations.RunSQL(REFUSE, ALLOW)]
