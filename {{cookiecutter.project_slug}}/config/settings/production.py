"""Production settings: every secret comes from the environment, with no default.

Required: DJANGO_SECRET_KEY, DATABASE_URL{% if cookiecutter.use_celery == "y" %}, REDIS_URL{% endif %}.
Tenant hosts are `<slug>.{{ cookiecutter.domain_name }}`; DJANGO_ALLOWED_HOSTS adds more.
"""

from .base import *  # noqa: F403
from .base import database_settings, env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
TENANCY_BASE_DOMAIN = env("TENANCY_BASE_DOMAIN", default="{{ cookiecutter.domain_name }}")
ALLOWED_HOSTS = [TENANCY_BASE_DOMAIN, f".{TENANCY_BASE_DOMAIN}", *env.list("DJANGO_ALLOWED_HOSTS", default=[])]

DATABASES = database_settings(env("DATABASE_URL"))
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)

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
SECURE_CONTENT_TYPE_NOSNIFF = True

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
{%- if cookiecutter.use_celery == "y" %}

REDIS_URL = env("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
{%- endif %}
