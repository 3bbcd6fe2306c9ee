"""Celery: a task runs in the tenant it was sent from, whatever schema the worker's connection was in."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.products.tasks import flag_low_stock
from {{ cookiecutter.project_slug }}.tenancy.celery_tenancy import SCHEMA_HEADER


def sent_headers(task: Any, tenant: Any) -> dict[str, Any]:
    """The headers of `task` as sent from inside `tenant`, read back from a queue no worker consumes."""
    queue = f"isolation-{uuid.uuid4().hex[:8]}"
    with tenant_context(tenant):
        task.apply_async(queue=queue)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    messages = [json.loads(raw) for raw in broker.lrange(queue, 0, -1)]
    broker.delete(queue)
    assert len(messages) == 1
    return messages[0]["headers"]


def out_of_stock_product(tenant: Any) -> int:
    with tenant_context(tenant):
        product = Product.objects.filter(active=True).first()
        assert product is not None
        Product.objects.filter(pk=product.pk).update(stock=0, low_stock=False)
        return product.pk


def low_stock_flag_of(tenant: Any, product_id: int) -> bool:
    with tenant_context(tenant):
        return Product.objects.get(pk=product_id).low_stock


@pytest.mark.guards_celery_header
def test_a_task_sent_from_one_tenant_runs_there_even_on_a_connection_left_in_another(
    tenant: Any, other_tenant: Any
) -> None:
    acme_product = out_of_stock_product(tenant)
    globex_product = out_of_stock_product(other_tenant)
    headers = sent_headers(flag_low_stock, tenant)
    assert headers[SCHEMA_HEADER] == tenant.schema_name

    connection.set_tenant(other_tenant)  # the worker's last task was globex's
    result = flag_low_stock.apply(headers=headers)

    assert result.successful(), result.traceback
    assert connection.schema_name == other_tenant.schema_name  # restored after the task
    assert low_stock_flag_of(tenant, acme_product) is True
    assert low_stock_flag_of(other_tenant, globex_product) is False


@pytest.mark.guards_celery_header
def test_a_task_naming_no_tenant_or_an_unknown_schema_is_refused_before_it_runs(tenant: Any, other_tenant: Any) -> None:
    globex_product = out_of_stock_product(other_tenant)

    for schema in ["public", "tenant_no_such_tenant", ""]:
        connection.set_tenant(other_tenant)  # a connection left in globex must not be used instead
        result = flag_low_stock.apply(headers={SCHEMA_HEADER: schema})
        assert result.failed(), schema
        assert low_stock_flag_of(other_tenant, globex_product) is False
