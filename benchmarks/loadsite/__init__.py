"""A benchmark-only site: the bake's load check site (loadcheck.loadsite) with a choice of routing middleware and
one more view that reads every tenant table.

Used by benchmarks/routing.py through `DJANGO_SETTINGS_MODULE=benchmarks.loadsite.settings`; never by the project
itself, so production code has no benchmark endpoint. The marker row, its path and the response headers are the
load check's (loadcheck/loadsite), so the load check's `drive` reads this site's answers. No Django imports here:
the benchmark harness reads the constants below before Django is set up.
"""

from loadcheck.loadsite import APPLICATION_NAME_ENV, BACKEND_HEADER, MARKER_PATH, MARKER_SKU, WORKER_HEADER

from benchmarks.project import PACKAGE

__all__ = ["APPLICATION_NAME_ENV", "BACKEND_HEADER", "MARKER_PATH", "MARKER_SKU", "WORKER_HEADER"]

SETTINGS_MODULE = "benchmarks.loadsite.settings"
# Read by loadsite/settings.py: "project" (MIDDLEWARE as the project has it) or "stock".
ROUTING_ENV = "BENCH_ROUTING"
ROUTING_CHOICES = ("project", "stock")
STOCK_MIDDLEWARE = "django_tenants.middleware.main.TenantMainMiddleware"
PROJECT_MIDDLEWARE = f"{PACKAGE}.tenancy.middleware.TenantRoutingMiddleware"
TABLES_PATH = "/__tables__/"
