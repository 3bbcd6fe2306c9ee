"""Production settings: every secret comes from the environment, with no default.

Required: DJANGO_SECRET_KEY, DATABASE_URL{% if cookiecutter.use_celery == "y" %}, REDIS_URL{% endif %}. Optional: SENTRY_DSN (error tracking).
Tenant hosts are `<slug>.{{ cookiecutter.domain_name }}`; DJANGO_ALLOWED_HOSTS adds more.
`.env` is not read unless DJANGO_READ_DOT_ENV_FILE=True (settings/base.py): its development secret key
never stands in for a missing DJANGO_SECRET_KEY.
"""

from .base import *  # noqa: F403
from .base import {% if cookiecutter.use_celery == "y" %}cache_settings, {% endif %}database_settings, env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
TENANCY_BASE_DOMAIN = env("TENANCY_BASE_DOMAIN", default="{{ cookiecutter.domain_name }}")
ALLOWED_HOSTS = [TENANCY_BASE_DOMAIN, f".{TENANCY_BASE_DOMAIN}", *env.list("DJANGO_ALLOWED_HOSTS", default=[])]

DATABASES = database_settings(env("DATABASE_URL"))
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# 16 connections per server process, each warm for about 1/16 of the hot tenants (docs/deployment.md).
TENANCY_CONNECTION_SLOTS = env.int("TENANCY_CONNECTION_SLOTS", default=16)

# HTTPS behind a proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Load balancers probe /healthz over plain HTTP by IP address.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Links in emails sent outside a request (none today) use https.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
# django-allauth rate-limits logins per client IP: behind the proxy that SECURE_PROXY_SSL_HEADER
# trusts, the client IP is the last address that proxy appended to X-Forwarded-For.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("ALLAUTH_TRUSTED_PROXY_COUNT", default=1)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
# Security headers on every response (tests/test_observability.py checks them): no MIME sniffing, no
# Referer towards other origins (another tenant's host included), no framing at all.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

STORAGES = {
    "default": {"BACKEND": "{{ cookiecutter.project_slug }}.tenancy.media.TenantMediaStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)

# Error tracking: with SENTRY_DSN set, errors of requests, commands and tasks go to Sentry, each tagged
# with its tenant (tenancy/observability.py). DJANGO_LOG_FORMAT=json makes the logs JSON lines (base.py).
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    from {{ cookiecutter.project_slug }}.tenancy.observability import sentry_init

    sentry_init(
        SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
{%- if cookiecutter.use_celery == "y" %}

REDIS_URL = env("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
# Shared by every process; keys carry the tenant's schema (base.py, Cache).
CACHES = cache_settings(REDIS_URL)
{%- endif %}
