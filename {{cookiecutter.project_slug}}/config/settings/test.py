"""Test settings: fast password hashing, in-memory email.

`DATABASE_URL`{% if cookiecutter.use_celery == "y" %} and `REDIS_URL`{% endif %} must be set, in the environment or `.env`.
Importing these settings starts nothing: when one is not configured, the test run's plugin
(config/pytest_devservices.py) or manage.py has started an embedded server and put its URL
into the environment first (config/devservices.py, environ_ensure).
"""

import os

from .base import *  # noqa: F403
from .base import BASE_DIR, cache_settings, database_settings, env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY", default="django-insecure-test-only")
ALLOWED_HOSTS = ["localhost", ".localhost", "127.0.0.1", "testserver"]
TENANCY_BASE_DOMAIN = "localhost"

# Static files straight from the apps' folders; collectstatic is for production images.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
# Every test client builds the middleware again, and WhiteNoise would index every file the finders know (tens of
# thousands, the API docs' assets among them) each time: with autorefresh it looks a file up when it is requested.
WHITENOISE_AUTOREFRESH = True

DATABASE_URL = env("DATABASE_URL")
DATABASES = database_settings(DATABASE_URL)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# In memory (django.core.mail.outbox); the browser tests' server process writes files instead.
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
# Under pytest-xdist (make test) each worker writes files of its own: PYTEST_XDIST_WORKER is "gw0", "gw1", ...
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
EMAIL_FILE_PATH = env("DJANGO_EMAIL_FILE_PATH", default=str(BASE_DIR / f".pytest-server-mail{_WORKER}"))
# Test setup migrates the database, which fills the pool of spare schemas once per session;
# tests that need a refill call lifecycle.provisioning.spare_pool_fill themselves.
TENANCY_SPARE_SCHEMAS = 3
TENANCY_SPARE_REFILL = "off"
# Uploads land outside the project's media/ folder; tests that upload point MEDIA_ROOT at a temporary one.
MEDIA_ROOT = env("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / f".pytest-media{_WORKER}"))
# In-process cache with the tenant-aware key function of every environment (base.py, Cache): each test
# empties it (conftest.py), which on Redis would also empty the Celery broker's database.
{%- if cookiecutter.use_celery == "y" %}
# A server process started by a test may put its cache on a Redis of that test's own, with the settings of
# every other environment (TEST_CACHE_REDIS_URL; tests/test_redis_outage.py stops and freezes it).
CACHES = cache_settings(env("TEST_CACHE_REDIS_URL", default=""))
{%- else %}
CACHES = cache_settings()
{%- endif %}
{%- if cookiecutter.use_celery == "y" %}

REDIS_URL = env("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
{%- endif %}
