"""A real Celery worker on Redis runs a task sent from a tenant in that tenant's schema."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.tenancy.tasks import tenant_ping
from conftest import test_database_url

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def worker_queue(django_db_setup, django_db_blocker):
    """Start a worker process on a queue of its own; yield the queue name."""
    with django_db_blocker.unblock():
        database_url = test_database_url()
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": settings.CELERY_BROKER_URL,
           "DJANGO_SETTINGS_MODULE": "config.settings.test"}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config.celery_app", "worker", "--pool", "solo", "--queues", queue,
         "--loglevel", "WARNING", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=PROJECT_DIR, env=env,
    )  # fmt: skip
    yield queue
    process.terminate()
    process.wait(timeout=30)


def test_broker_is_redis_and_answers():
    import redis

    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert redis.Redis.from_url(settings.CELERY_BROKER_URL).ping()


@pytest.mark.django_db
def test_task_sent_from_a_tenant_runs_in_that_tenants_schema(worker_queue, tenant, other_tenant):
    assert tenant_ping.apply_async(queue=worker_queue).get(timeout=60) == "tenant_acme"
    with tenant_context(other_tenant):
        assert tenant_ping.apply_async(queue=worker_queue).get(timeout=60) == "tenant_globex"
    assert connection.schema_name == "tenant_acme"
