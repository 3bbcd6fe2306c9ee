"""Products tasks: thin wrappers around services, run by the worker in the tenant they were sent from."""

from .services import low_stock_flag
from config.celery_app import IDEMPOTENT, app


@app.task(name="products.flag_low_stock", **IDEMPOTENT)
def flag_low_stock() -> dict[str, int]:
    """Update the products' low-stock flags (settings.PRODUCTS_LOW_STOCK_THRESHOLD); return the changes.

    Returns {"flagged": n, "cleared": m}: products newly flagged and products whose flag was removed.
    A tenant task; safe to run as often as wanted (a second run changes nothing), so it is delivered at
    least once and retried when the database connection is lost (config.celery_app.IDEMPOTENT).
    """
    flagged, cleared = low_stock_flag()
    return {"flagged": flagged, "cleared": cleared}
