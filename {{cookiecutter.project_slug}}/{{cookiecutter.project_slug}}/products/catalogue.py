"""The catalogue page's cache generation: every change to a product or category starts a new one.

The page is cached with `cache_page` (views.catalogue_view) under a key prefix naming the current
generation, so a change shows at once instead of after the cache timeout. Like every cache key, the
generation key is per tenant (settings.CACHES KEY_FUNCTION prefixes the schema name).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django_tenants.utils import schema_context

from .models import Category, Product

GENERATION_KEY = "products:catalogue-generation"


def catalogue_generation() -> str:
    """The current tenant's catalogue generation (a random token, created on first use)."""
    return str(cache.get_or_set(GENERATION_KEY, uuid.uuid4().hex, timeout=None))


def catalogue_changed(**_: Any) -> None:
    """Start a new catalogue generation for the current tenant once the current transaction commits.

    A random token rather than a counter: a generation evicted from the cache never comes back, so pages
    cached under an old one are never served again.
    """
    schema = connection.schema_name  # type: ignore[attr-defined]  # the commit may happen after leaving it

    def new_generation() -> None:
        with schema_context(schema):
            cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)

    transaction.on_commit(new_generation)


def connect_signals() -> None:
    """Call catalogue_changed on every save and delete of a product or category (ProductsConfig.ready)."""
    for model in (Product, Category):
        post_save.connect(catalogue_changed, sender=model, dispatch_uid=f"catalogue_changed_save_{model.__name__}")
        post_delete.connect(catalogue_changed, sender=model, dispatch_uid=f"catalogue_changed_delete_{model.__name__}")
