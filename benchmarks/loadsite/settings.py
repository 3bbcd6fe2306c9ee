"""Benchmark settings: the load check's (loadcheck/loadsite/settings.py: production settings over plain HTTP,
connections with an application_name, kept for CONN_MAX_AGE=600 s) with the routing middleware chosen by
$BENCH_ROUTING:

- MIDDLEWARE[0] is the project's TenantRoutingMiddleware ($BENCH_ROUTING=project, the default) or django-tenants'
  stock TenantMainMiddleware ($BENCH_ROUTING=stock); nothing else differs between the two;
- ROOT_URLCONF adds the tables view (benchmarks/loadsite/urls.py) to the load check's URLs.

Required environment, as for production: DJANGO_SECRET_KEY, DATABASE_URL, and REDIS_URL in a bake with Celery.
"""

from loadcheck.loadsite.settings import *  # noqa: F403
from loadcheck.loadsite.settings import MIDDLEWARE, env

from benchmarks.loadsite import PROJECT_MIDDLEWARE, ROUTING_CHOICES, ROUTING_ENV, STOCK_MIDDLEWARE

BENCH_ROUTING = env(ROUTING_ENV, default="project")
if BENCH_ROUTING not in ROUTING_CHOICES:
    raise ValueError(f"${ROUTING_ENV} is {BENCH_ROUTING!r}; expected one of {', '.join(ROUTING_CHOICES)}")
if MIDDLEWARE[0] != PROJECT_MIDDLEWARE:
    raise ValueError(f"MIDDLEWARE[0] is {MIDDLEWARE[0]!r}, not the project's {PROJECT_MIDDLEWARE!r}")
MIDDLEWARE = [STOCK_MIDDLEWARE if BENCH_ROUTING == "stock" else PROJECT_MIDDLEWARE, *MIDDLEWARE[1:]]
ROOT_URLCONF = "benchmarks.loadsite.urls"
