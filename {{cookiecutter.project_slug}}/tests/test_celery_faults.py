"""Celery work that survives its worker and PostgreSQL failing under it: real worker, Redis and PostgreSQL.

This module starts workers of its own (prefork pool with one process, so that the process running a task can
be killed on its own; emails written to files), consuming queues no other worker reads, and works in two
committed tenants of its own. Faults are real: SIGKILL of the pool process or of the whole worker, and
`pg_terminate_backend` of the worker's PostgreSQL backend. A task is caught mid-way by a row lock it needs,
held by the test in a separate connection: the task's backend then waits on the test's (`pg_blocking_pids`)
until the test strikes.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context
from psycopg import sql

from {{ cookiecutter.project_slug }}.bookings.domain import Slot
from {{ cookiecutter.project_slug }}.bookings.models import Booking
from {{ cookiecutter.project_slug }}.bookings.repositories import DjangoBookingRepository
from {{ cookiecutter.project_slug }}.bookings.services import booking_create
from {{ cookiecutter.project_slug }}.bookings.tasks import send_reminders
from {{ cookiecutter.project_slug }}.customers.models import Customer
from {{ cookiecutter.project_slug }}.customers.services import customer_create
from {{ cookiecutter.project_slug }}.lifecycle.services import tenant_status_set
from {{ cookiecutter.project_slug }}.lifecycle.tasks import tenant_ping
from {{ cookiecutter.project_slug }}.products.models import Product
from {{ cookiecutter.project_slug }}.products.services import product_create
from {{ cookiecutter.project_slug }}.products.tasks import flag_low_stock
from {{ cookiecutter.project_slug }}.tenancy.models import Tenant

from config.celery_app import DATABASE_CONNECTION_ERRORS, RETRY_BACKOFF_MAX, app
from conftest import committed_tenants, tenant_base_path_of, test_database_url

PROJECT_DIR = Path(__file__).resolve().parent.parent
IDEMPOTENT_TASKS = {
    "bookings.send_reminders",
    "products.flag_low_stock",
    "tenancy.migrate_schemas_batch",
    "tenancy.spare_pool_refill",
}
WAIT = 30  # seconds before a wait for the worker gives up
VISIBILITY_TIMEOUT = 1  # seconds, for the worker that takes over from a killed one


@dataclass
class Worker:
    """A Celery worker process of this module: its queue, node name, process, log and email folder."""

    queue: str
    node: str
    process: subprocess.Popen[bytes]
    log_path: Path
    mail_dir: Path

    def log_since(self, offset: int) -> str:
        return self.log_path.read_text()[offset:]

    def pool_processes(self) -> list[int]:
        """The pids of the worker's pool processes (children of the main process, forked by any of its threads)."""
        threads = Path(f"/proc/{self.process.pid}/task").iterdir()
        return sorted(int(pid) for thread in threads for pid in (thread / "children").read_text().split())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the worker: SIGTERM to the main process (warm shutdown), or SIGKILL to it and its pool processes
        at once; wait for the main process to end."""
        if self.process.poll() is None:
            if sig == signal.SIGKILL:
                os.killpg(self.process.pid, sig)  # its own process group (start_new_session)
            else:
                self.process.send_signal(sig)
        self.process.wait(timeout=30)


def worker_start(database_url: str, queue: str, mail_dir: Path, *, pool: str = "prefork", **env: str) -> Worker:
    """Start `celery worker` (`pool`: prefork with one pool process, or solo) on `queue` with the test settings
    and the environment variables `env`, writing emails into `mail_dir` and its log next to it; return it once
    it answers a ping."""
    node = f"{queue}@localhost"
    log_path = mail_dir.parent / f"worker-{queue}-{uuid.uuid4().hex[:4]}.log"
    environment = {
        **os.environ, "DATABASE_URL": database_url, "REDIS_URL": settings.CELERY_BROKER_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "DJANGO_EMAIL_FILE_PATH": str(mail_dir), **env,
    }  # fmt: skip
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config.celery_app", "worker", "--pool", pool,
             "--concurrency", "1", "--queues", queue, "--loglevel", "INFO", "--without-heartbeat",
             "--without-mingle", "--without-gossip", "--hostname", node],
            cwd=PROJECT_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    worker = Worker(queue=queue, node=node, process=process, log_path=log_path, mail_dir=mail_dir)
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[node], timeout=1.0):
        if process.poll() is not None or time.monotonic() > deadline:
            worker.stop(signal.SIGKILL)
            raise RuntimeError(f"the Celery worker did not come up: {log_path.read_text()}")
    return worker


@pytest.fixture(scope="module")
def database_url(django_db_setup: None, django_db_blocker: Any) -> str:
    with django_db_blocker.unblock():
        return test_database_url()


@pytest.fixture(scope="module")
def worker(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    started = worker_start(database_url, f"faults-{uuid.uuid4().hex[:8]}", tmp_path_factory.mktemp("mail"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def tenants(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Tenant]]:
    """Two committed tenants: `faults` for the fault tests, `paused` for the status tests."""
    with committed_tenants(django_db_blocker, ["faults", "paused"]):
        with django_db_blocker.unblock():
            found = {slug: Tenant.objects.get(slug=slug) for slug in ("faults", "paused")}
        yield found


@pytest.fixture
def faults(tenants: dict[str, Tenant], django_db_blocker: Any) -> Iterator[Tenant]:
    """The `faults` tenant, without bookings, products or customers, the database open outside any test
    transaction."""
    with django_db_blocker.unblock():
        with tenant_context(tenants["faults"]):
            Booking.objects.all().delete()
            Product.objects.all().delete()
            Customer.objects.all().delete()
        yield tenants["faults"]
        connection.set_schema_to_public()


@pytest.fixture
def locker(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A separate PostgreSQL connection for the test to hold row locks in (rolled back at the end)."""
    with psycopg.connect(database_url) as conn:
        yield conn
        conn.rollback()


def book_tomorrow(*, hour: int = 10) -> tuple[int, str]:
    """Book a new product for a new customer tomorrow (settings.TIME_ZONE) in the current tenant; return the
    booking's id and the customer's email."""
    tag = uuid.uuid4().hex[:8]
    zone = ZoneInfo(settings.TIME_ZONE)
    start = dt.datetime.combine(dt.datetime.now(zone).date() + dt.timedelta(days=1), dt.time(hour), tzinfo=zone)
    product = product_create(name=f"Anvil {tag}", sku=f"F-{tag.upper()}", price="10.00")
    email = f"guest-{tag}@example.com"
    customer = customer_create(name=f"Guest {tag}", email=email)
    booking_id = booking_create(
        bookings=DjangoBookingRepository(),
        product_id=product.pk,
        customer_id=customer.pk,
        slot=Slot(start=start, end=start + dt.timedelta(hours=1)),
    )
    return booking_id, email


def mails_to(worker: Worker, email: str) -> int:
    """How many emails the worker wrote to `email` (the file backend puts a connection's messages in one file)."""
    return sum(path.read_text().count(f"\nTo: {email}\n") for path in worker.mail_dir.iterdir())


def lock_row(locker: psycopg.Connection[Any], schema: str, table: str, row_id: int) -> None:
    """Lock row `row_id` of `schema`.`table` in `locker`'s transaction until it ends."""
    query = sql.SQL("SELECT 1 FROM {} WHERE id = %s FOR UPDATE").format(sql.Identifier(schema, table))
    locker.execute(query, [row_id])


def backend_waiting_on(locker: psycopg.Connection[Any], *, other_than: Collection[int] = ()) -> int:
    """Wait until a PostgreSQL backend (not one of `other_than`) waits on a lock `locker` holds, directly or
    behind another waiter (the second waiter for a row waits on the first one's tuple lock); return its pid."""
    deadline = time.monotonic() + WAIT
    with psycopg.connect(locker.info.dsn, autocommit=True) as probe:
        while True:
            rows = probe.execute(
                """
                WITH RECURSIVE waiting(pid) AS (
                    SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))
                    UNION
                    SELECT activity.pid FROM pg_stat_activity activity JOIN waiting
                    ON waiting.pid = ANY(pg_blocking_pids(activity.pid))
                )
                SELECT pid FROM waiting
                """,
                [locker.info.backend_pid],
            ).fetchall()
            waiting = {pid for (pid,) in rows} - set(other_than)
            if waiting:
                return waiting.pop()
            assert time.monotonic() < deadline, f"no backend (other than {other_than}) waits on the test's lock"
            time.sleep(0.05)


# --- configuration ---------------------------------------------------------------------------------------------


def registered_tasks() -> dict[str, Any]:
    """Every task of the app, as a worker has them: the tasks modules of all installed apps imported first (the
    app discovers them lazily, and a process that never needed one, like this test's, has not imported it)."""
    app.loader.import_default_modules()
    return dict(app.tasks)


def test_idempotent_tasks_ack_late_requeue_on_a_lost_worker_and_retry_database_connection_errors() -> None:
    late = {name for name, task in registered_tasks().items() if getattr(task, "acks_late", False)}
    assert late >= IDEMPOTENT_TASKS
    for name in late:
        task = app.tasks[name]
        assert task.reject_on_worker_lost, name
        assert set(DATABASE_CONNECTION_ERRORS) <= set(task.autoretry_for), name
        assert task.retry_backoff and task.max_retries, name


def test_every_idempotent_task_ends_before_the_broker_would_redeliver_it() -> None:
    visibility_timeout = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility_timeout == settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] < 60 * 60
    late = [task for task in registered_tasks().values() if getattr(task, "acks_late", False)]
    assert {task.name for task in late} >= IDEMPOTENT_TASKS
    for task in late:
        hard_limit = task.time_limit or app.conf.task_time_limit
        assert hard_limit + RETRY_BACKOFF_MAX < visibility_timeout, (task.name, hard_limit, visibility_timeout)


# --- faults -----------------------------------------------------------------------------------------------------


def test_a_task_whose_pool_process_is_killed_runs_again_to_completion_and_sends_its_reminder_once(
    worker: Worker, faults: Tenant, locker: psycopg.Connection[Any]
) -> None:
    with tenant_context(faults):
        booking_id, email = book_tomorrow()
        lock_row(locker, faults.schema_name, "bookings_booking", booking_id)
        result = send_reminders.apply_async(queue=worker.queue)
    first_attempt = backend_waiting_on(locker)  # the task is running, and has sent nothing yet
    [killed] = worker.pool_processes()
    os.kill(killed, signal.SIGKILL)

    # The message is requeued and the new pool process runs the task again; its backend waits on the lock too.
    # The killed process's backend may still wait as well: it ends when it gets the lock and finds its client gone.
    backend_waiting_on(locker, other_than={first_attempt})
    assert killed not in worker.pool_processes()
    locker.commit()

    assert result.get(timeout=WAIT) == 1
    assert mails_to(worker, email) == 1
    with tenant_context(faults):
        assert Booking.objects.get(pk=booking_id).reminder_sent_at is not None


def test_a_task_whose_database_connection_is_ended_mid_task_is_retried_and_completes(
    worker: Worker, faults: Tenant, locker: psycopg.Connection[Any]
) -> None:
    with tenant_context(faults):
        product = product_create(name="Empty shelf", sku=f"E-{uuid.uuid4().hex[:8].upper()}", price="1.00")
        lock_row(locker, faults.schema_name, "products_product", product.pk)
        offset = len(worker.log_path.read_text())
        result = flag_low_stock.apply_async(queue=worker.queue)
    backend = backend_waiting_on(locker)
    with psycopg.connect(locker.info.dsn, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [backend]).fetchone() == (True,)
    locker.commit()

    assert result.get(timeout=WAIT) == {"flagged": 1, "cleared": 0}
    log = worker.log_since(offset)
    assert "retry: Retry in" in log and "terminating connection due to administrator command" in log, log
    with tenant_context(faults):
        assert Product.objects.get(pk=product.pk).low_stock


def test_a_tenant_task_that_starts_while_postgresql_refuses_connections_is_retried_and_completes(
    worker: Worker, faults: Tenant, database_url: str
) -> None:
    """Finding the task's tenant needs the database before the body runs: a refused connection there is
    retried with the task's backoff too, not a permanent failure."""
    name = database_url.rsplit("/", 1)[1]
    with tenant_context(faults):
        product = product_create(name="Empty again", sku=f"R-{uuid.uuid4().hex[:8].upper()}", price="1.00")
    # From another database: PostgreSQL refuses to change the current one's ALLOW_CONNECTIONS.
    with psycopg.connect(f"{database_url.rsplit('/', 1)[0]}/postgres", autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            # Connections already open keep working; the worker closes its connection after each task, so the
            # next task opens one and is refused.
            offset = len(worker.log_path.read_text())
            with tenant_context(faults):
                result = flag_low_stock.apply_async(queue=worker.queue)
            deadline = time.monotonic() + WAIT
            while "Retry in" not in worker.log_since(offset) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    assert result.get(timeout=WAIT)["flagged"] >= 1
    log = worker.log_since(offset)
    assert "Retry in" in log and "rejected task" not in log, log
    with tenant_context(faults):
        assert Product.objects.get(pk=product.pk).low_stock


def test_a_message_left_unacknowledged_by_a_killed_worker_is_redelivered_after_the_visibility_timeout(
    worker: Worker, database_url: str, faults: Tenant, locker: psycopg.Connection[Any]
) -> None:
    queue = f"lost-{uuid.uuid4().hex[:8]}"
    doomed = worker_start(database_url, queue, worker.mail_dir)
    try:
        with tenant_context(faults):
            booking_id, email = book_tomorrow()
            lock_row(locker, faults.schema_name, "bookings_booking", booking_id)
            result = send_reminders.apply_async(queue=queue)
        backend_waiting_on(locker)
    finally:
        doomed.stop(signal.SIGKILL)  # main and pool process: nobody acknowledges, rejects or requeues the message
    locker.commit()
    unacked = redis.Redis.from_url(settings.CELERY_BROKER_URL).hvals("unacked")  # kombu's Redis transport
    assert any(result.id.encode() in message for message in unacked)
    time.sleep(VISIBILITY_TIMEOUT + 0.5)

    # A worker started later takes the message back from Redis, as it is older than the visibility timeout.
    # A solo worker looks for such messages as it starts; a prefork worker every 100 s (kombu's
    # unacked_restore_interval x unacked_restore_throttle), which would make this test slow.
    successor = worker_start(
        database_url, queue, worker.mail_dir, pool="solo", CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT)
    )
    try:
        assert result.get(timeout=WAIT) == 1
    finally:
        successor.stop()
    assert mails_to(worker, email) == 1


def test_send_reminders_run_twice_sends_each_reminder_once(worker: Worker, faults: Tenant) -> None:
    with tenant_context(faults):
        emails = [book_tomorrow(hour=9)[1], book_tomorrow(hour=15)[1]]
        assert send_reminders.apply_async(queue=worker.queue).get(timeout=WAIT) == 2
        assert send_reminders.apply_async(queue=worker.queue).get(timeout=WAIT) == 0
    assert [mails_to(worker, email) for email in emails] == [1, 1]
    # The reminder sent by the worker links to the tenant in the project's routing mode (tenancy.addressing).
    base = tenant_base_path_of(faults)
    home = f"http://localhost{base}/" if base else "http://faults.localhost/"
    assert any(f"\n{home}\n" in path.read_text() for path in worker.mail_dir.iterdir())


@pytest.mark.parametrize("status", ["suspended", "archived"])
def test_a_task_queued_for_a_tenant_that_is_then_suspended_or_archived_is_rejected_not_run(
    worker: Worker, tenants: dict[str, Tenant], django_db_blocker: Any, status: str
) -> None:
    paused = tenants["paused"]
    held = f"{worker.queue}-held-{status}"  # a queue the worker starts consuming only after the status change
    with django_db_blocker.unblock():
        try:
            with tenant_context(paused):
                assert tenant_ping.apply_async(queue=worker.queue).get(timeout=WAIT) == paused.schema_name  # cached
                booking_id, email = book_tomorrow()
                result = send_reminders.apply_async(queue=held)
            tenant_status_set(slug="paused", status=status)
            app.control.add_consumer(held, destination=[worker.node], reply=True)

            with pytest.raises(Exception, match=f"is {status}, not active"):
                result.get(timeout=WAIT)
            assert result.state == "FAILURE"
            assert mails_to(worker, email) == 0
            with tenant_context(paused):
                assert Booking.objects.get(pk=booking_id).reminder_sent_at is None
        finally:
            app.control.cancel_consumer(held, destination=[worker.node], reply=True)
            connection.set_schema_to_public()
            tenant_status_set(slug="paused", status="active")
