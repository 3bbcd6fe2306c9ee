"""A benchmark-only site: the project's production settings and tenant URLs plus two views that read tenant rows.

Used by benchmarks/routing.py through
`DJANGO_SETTINGS_MODULE=benchmarks.loadsite.settings`; never by the project itself, so production code has no
benchmark endpoint. No Django imports here: the benchmark harness reads the constants below before Django is set up.
"""

from benchmarks.project import PACKAGE

SETTINGS_MODULE = "benchmarks.loadsite.settings"
# Environment variables read by loadsite/settings.py.
ROUTING_ENV = "BENCH_ROUTING"  # "project" (MIDDLEWARE as the project has it) or "stock"
APPLICATION_NAME_ENV = "BENCH_APPLICATION_NAME"  # PostgreSQL application_name of the server's connections
ROUTING_CHOICES = ("project", "stock")
STOCK_MIDDLEWARE = "django_tenants.middleware.main.TenantMainMiddleware"
PROJECT_MIDDLEWARE = f"{PACKAGE}.tenancy.middleware.TenantRoutingMiddleware"
# The marker row: products.Product with this SKU, its name the tenant's marker.
MARKER_SKU = "bench-marker"
MARKER_PATH = "/__marker__/"
TABLES_PATH = "/__tables__/"
# Response header naming the PostgreSQL backend pid that served the request (read from the driver, no SQL).
BACKEND_HEADER = "X-Bench-Backend"
# Response header naming the server process (pid) that served the request.
WORKER_HEADER = "X-Bench-Worker"
