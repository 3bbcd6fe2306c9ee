"""Load check settings: config.settings.production, with only what a check over plain HTTP on 127.0.0.1 needs:

- ROOT_URLCONF adds the marker view (loadcheck/loadsite/urls.py) to the project's tenant URLs;
- no HTTPS redirect (the check speaks plain HTTP) and plain static files storage (no collectstatic);
- database connections carry application_name $LOADCHECK_APPLICATION_NAME and live for CONN_MAX_AGE=600 s:
  each worker process keeps its TENANCY_CONNECTION_SLOTS connections (production: 16, each serving the tenants
  whose hosts hash to it) across tenants for the whole run.

The routing middleware is the project's, as in production. Required environment, as for production:
DJANGO_SECRET_KEY, DATABASE_URL{% if cookiecutter.use_celery == "y" %}, REDIS_URL{% endif %}.
"""

from config.settings.production import *  # noqa: F403
from config.settings.production import DATABASES, env
from loadcheck.loadsite import APPLICATION_NAME_ENV

ROOT_URLCONF = "loadcheck.loadsite.urls"

SECURE_SSL_REDIRECT = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

DATABASES["default"]["CONN_MAX_AGE"] = 600
DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = env(APPLICATION_NAME_ENV, default="loadcheck-web")
