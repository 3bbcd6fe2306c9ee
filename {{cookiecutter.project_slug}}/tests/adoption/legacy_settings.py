"""Settings of a stand-in for a single-tenant Django app, used to build legacy databases for the adoption
tests: the project's tenant apps and Django's own auth_user, all in the public schema of LEGACY_DATABASE_URL.

`python manage.py migrate --skip-checks --settings=tests.adoption.legacy_settings` builds one.
"""

import environ

env = environ.Env()

SECRET_KEY = "legacy-single-tenant-app"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    # The admin's tables without its autodiscovery: the project's admin modules import its services, and those
    # the platform apps (billing, audit) that a single-tenant app does not have.
    "django.contrib.admin.apps.SimpleAdminConfig",
    "django.contrib.sessions",
    "django.contrib.messages",
    "{{ cookiecutter.project_slug }}.products",
    "{{ cookiecutter.project_slug }}.customers",
    "{{ cookiecutter.project_slug }}.bookings",
]
DATABASES = {"default": env.db("LEGACY_DATABASE_URL")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
# The test settings' hasher, so the adopted users' passwords check in the project's tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
