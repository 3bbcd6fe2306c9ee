"""`migrate_schemas --executor=celery` against stock django-tenants, with a real worker process.

Part of `make verify-migrations` at the template root. The worker is started for the test on the copy
of the starting fleet, with the release's MIGRATION_MODULES passed in its environment (WORKER below).
MIGRATION_SABOTAGE does not reach the worker: the sabotage checks use the in-process paths.
"""

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from .harness import project_migrate
from conftest import PROJECT_DIR, test_database_url

pytestmark = pytest.mark.verify_migrations
# The worker's entry point: the release's migration packages importable and installed before Django loads.
WORKER = (
    "import json, os, sys; sys.path.insert(0, os.environ['DIFFMIG_PATH']); "
    "from django.conf import settings; settings.MIGRATION_MODULES = json.loads(os.environ['DIFFMIG_MODULES']); "
    "from config.celery_app import app; app.worker_main(sys.argv[1:])"
)


@contextlib.contextmanager
def celery_worker(modules, release_root: Path, log_path: Path):
    """A solo-pool worker on the current database with MIGRATION_MODULES `modules`; yields its queue."""
    from django.conf import settings

    from config.celery_app import app

    queue = f"verify-{uuid.uuid4().hex[:8]}"
    node = f"{queue}@localhost"
    env = {**os.environ, "DATABASE_URL": test_database_url(), "REDIS_URL": settings.CELERY_BROKER_URL,
           "DJANGO_SETTINGS_MODULE": "config.settings.test", "DIFFMIG_PATH": str(release_root),
           "DIFFMIG_MODULES": json.dumps(modules)}  # fmt: skip
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER, "worker", "--pool", "solo", "--queues", queue, "--loglevel", "INFO",
             "--without-heartbeat", "--without-mingle", "--without-gossip", "--hostname", node],
            cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not app.control.ping(destination=[node], timeout=1.0):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the Celery worker did not come up: {log_path.read_text()}")
            yield queue
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_celery_workers_build_what_stock_builds(full, tmp_path):
    with full.clone("celery", without_broken=True), full.release.installed() as modules:
        with celery_worker(modules, full.release.root, tmp_path / "worker.log") as queue:
            _, error = project_migrate("--noinput", "--executor=celery", "--queue", queue, "--parallel", "2")
        full.check("migrate_schemas --noinput --executor=celery", error=error)
