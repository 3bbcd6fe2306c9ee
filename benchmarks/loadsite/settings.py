"""Benchmark settings: config.settings.production with the routing middleware chosen by $BENCH_ROUTING.

Only what a benchmark over plain HTTP on 127.0.0.1 needs differs from production:

- MIDDLEWARE[0] is the project's TenantRoutingMiddleware ($BENCH_ROUTING=project, the default) or django-tenants'
  stock TenantMainMiddleware ($BENCH_ROUTING=stock); nothing else differs between the two;
- ROOT_URLCONF adds the benchmark views (benchmarks/loadsite/urls.py) to the project's tenant URLs;
- no HTTPS redirect (the benchmark speaks plain HTTP) and plain static files storage (no collectstatic);
- database connections carry application_name $BENCH_APPLICATION_NAME, so the benchmark finds their backends,
  and live for CONN_MAX_AGE=600 s: every worker thread keeps one connection across tenants for the whole run.

Required environment, as for production: DJANGO_SECRET_KEY, DATABASE_URL, and REDIS_URL in a bake with Celery.
"""

from benchmarks.loadsite import (
    APPLICATION_NAME_ENV,
    PROJECT_MIDDLEWARE,
    ROUTING_CHOICES,
    ROUTING_ENV,
    STOCK_MIDDLEWARE,
)
from config.settings.production import *  # noqa: F403
from config.settings.production import DATABASES, MIDDLEWARE, env

BENCH_ROUTING = env(ROUTING_ENV, default="project")
if BENCH_ROUTING not in ROUTING_CHOICES:
    raise ValueError(f"${ROUTING_ENV} is {BENCH_ROUTING!r}; expected one of {', '.join(ROUTING_CHOICES)}")
if MIDDLEWARE[0] != PROJECT_MIDDLEWARE:
    raise ValueError(f"MIDDLEWARE[0] is {MIDDLEWARE[0]!r}, not the project's {PROJECT_MIDDLEWARE!r}")
MIDDLEWARE = [STOCK_MIDDLEWARE if BENCH_ROUTING == "stock" else PROJECT_MIDDLEWARE, *MIDDLEWARE[1:]]

ROOT_URLCONF = "benchmarks.loadsite.urls"

SECURE_SSL_REDIRECT = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

DATABASES["default"]["CONN_MAX_AGE"] = 600
DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = env(APPLICATION_NAME_ENV, default="bench-web")
