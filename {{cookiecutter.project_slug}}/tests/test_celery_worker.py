"""A real Celery worker on Redis runs a task sent from a tenant in that tenant's schema."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import tenant_context

from {{ cookiecutter.project_slug }}.lifecycle.provisioning import spare_pool_fill
from {{ cookiecutter.project_slug }}.lifecycle.services import tenant_create, tenant_drop
from {{ cookiecutter.project_slug }}.lifecycle.tasks import spare_pool_refill, tenant_ping
from {{ cookiecutter.project_slug }}.tenancy.models import SpareSchema

from conftest import test_database_url

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def worker_queue(celery_worker):
    """The queue of the session's real worker (conftest.celery_worker)."""
    return celery_worker[0]


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


def test_spare_pool_refill_task_tops_the_pool_up_on_a_real_worker(worker_queue, django_db_blocker):
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        tenant_create(name="Refilled", slug="refilled")  # claims a spare
        try:
            before = SpareSchema.objects.count()
            assert before < settings.TENANCY_SPARE_SCHEMAS
            created = spare_pool_refill.apply_async(queue=worker_queue).get(timeout=120)
            assert created == settings.TENANCY_SPARE_SCHEMAS - before
            assert SpareSchema.objects.count() == settings.TENANCY_SPARE_SCHEMAS
        finally:
            tenant_drop(slug="refilled")


@pytest.fixture(scope="module")
def pending_fleet(django_db_setup, django_db_blocker):
    """Two committed tenants whose bookings app is rolled back to zero (a CreateModel to apply)."""
    slugs = ["celery-a", "celery-b"]
    with django_db_blocker.unblock():
        for slug in slugs:
            tenant = tenant_create(name=slug, slug=slug)
            call_command("migrate_schemas", "--schema", tenant.schema_name, "bookings", "zero", verbosity=0)
        connection.set_schema_to_public()
        yield [f"tenant_{slug.replace('-', '_')}" for slug in slugs]
        connection.set_schema_to_public()
        for slug in slugs:
            tenant_drop(slug=slug)
        spare_pool_fill()  # the tenants claimed spares; later tests expect a full pool


def bookings_table_in(schema):
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"{schema}.bookings_booking"])
        return cursor.fetchone()[0] is not None


def test_celery_executor_migrates_batches_on_a_real_worker(worker_queue, pending_fleet, django_db_blocker):
    with django_db_blocker.unblock():
        out = io.StringIO()
        call_command("migrate_schemas", "--tenant", "--executor", "celery", "--queue", worker_queue, stdout=out)
        assert "2 migrated" in out.getvalue()
        assert all(bookings_table_in(schema) for schema in pending_fleet)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {pending_fleet[0]}.django_migrations WHERE app = 'bookings'")
            assert cursor.fetchone()[0] == 4  # 0001_initial to 0004_user_references_without_foreign_keys


def test_celery_executor_fails_at_once_when_no_worker_answers(django_db_blocker):
    """A separate process whose broker is a Redis database no worker listens on."""
    broker = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/15"
    with django_db_blocker.unblock():
        call_command("migrate_schemas", "--schema", "tenant_globex", "bookings", "zero", verbosity=0)
        database_url = test_database_url()
    try:
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": broker,
               "DJANGO_SETTINGS_MODULE": "config.settings.test"}  # fmt: skip
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate_schemas", "--tenant", "--executor", "celery",
             "--worker-timeout", "0.5"],
            cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 1, result.stderr
        assert "no Celery worker answered within 0.5 s" in result.stderr
    finally:
        with django_db_blocker.unblock():
            call_command("migrate_schemas", "--tenant=globex", verbosity=0)
            connection.set_schema_to_public()
