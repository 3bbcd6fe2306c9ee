"""Development settings: DEBUG on, tenant hosts under `*.localhost`.

`DATABASE_URL`{% if cookiecutter.use_celery == "y" %} and `REDIS_URL`{% endif %} must be set, in the environment or `.env`.
Importing these settings starts nothing: when one is not configured, the entry point
(manage.py{% if cookiecutter.use_celery == "y" %}, the Celery app{% endif %}) has started an embedded server and put its URL into
the environment first (config/devservices.py, environ_ensure).
"""

from .base import *  # noqa: F403
from .base import {% if cookiecutter.use_celery == "y" %}cache_settings, {% endif %}database_settings, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="django-insecure-local-only-change-me")
ALLOWED_HOSTS = ["localhost", ".localhost", "127.0.0.1", "[::1]"]
TENANCY_BASE_DOMAIN = env("TENANCY_BASE_DOMAIN", default="localhost")
# Links to the public host in emails (password reset, email confirmation): the port `make dev` serves on.
TENANCY_PUBLIC_PORT = env.int("TENANCY_PUBLIC_PORT", default=env.int("DEV_PORT", default=8000))

# Static files straight from the apps' folders; collectstatic is for production images.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True

DATABASE_URL = env("DATABASE_URL")
DATABASES = database_settings(DATABASE_URL)

EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
{%- if cookiecutter.use_celery == "y" %}

REDIS_URL = env("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
# A worker that lost its broker (`make services-down`) reconnects to the same URL (the port is kept,
# config/devservices.py) when Redis is back, trying after 2, 4, ... 30 s and then every 30 s, for as long as
# it takes: Celery's default gives up after 100 tries (about 45 min), and honcho then stops `make dev`.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-connection-max-retries
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Shared by every process; keys carry the tenant's schema (base.py, Cache).
CACHES = cache_settings(REDIS_URL)
# The console email backend prints from inside the worker: show it as INFO, not as a warning.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
{%- endif %}
