"""A load-check-only site: the project's production settings and tenant URLs plus a view that reads a tenant row.

Used by the load check (loadcheck/__main__.py) through `DJANGO_SETTINGS_MODULE=loadcheck.loadsite.settings`;
never by the project itself, so production code has no such endpoint. No Django imports here: the load check
reads the constants below before Django is set up.
"""

SETTINGS_MODULE = "loadcheck.loadsite.settings"
# Environment variable read by loadsite/settings.py: PostgreSQL application_name of the server's connections.
APPLICATION_NAME_ENV = "LOADCHECK_APPLICATION_NAME"
# The marker row: products.Product with this SKU, its name the tenant's marker.
MARKER_SKU = "loadcheck-marker"
MARKER_PATH = "/__marker__/"
# Response header naming the PostgreSQL backend pid that served the request (read from the driver, no SQL).
BACKEND_HEADER = "X-Loadcheck-Backend"
# Response header naming the server process (pid) that served the request.
WORKER_HEADER = "X-Loadcheck-Worker"
