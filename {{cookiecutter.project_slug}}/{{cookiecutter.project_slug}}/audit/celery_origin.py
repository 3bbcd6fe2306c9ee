"""The audit origin of Celery tasks: `task:<task name>` while a task runs (task_prerun to task_postrun)."""

from __future__ import annotations

import contextlib
from contextvars import Token
from typing import Any

from celery.signals import task_postrun, task_prerun

from .context import Origin, origin_pop, origin_push

# task id -> token restoring the origin that was current before the task (an eager task may run inside a
# request or a command; a worker runs one task at a time per thread).
_tokens: dict[str, Token[Origin]] = {}


@task_prerun.connect(dispatch_uid="audit.task_origin_start")
def task_origin_start(sender: Any = None, task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    """Make `task:<name>` the audit origin while the task runs."""
    name = getattr(task, "name", None) or getattr(sender, "name", "") or "unknown"
    _tokens[str(task_id)] = origin_push(Origin(label=f"task:{name}"))


@task_postrun.connect(dispatch_uid="audit.task_origin_end")
def task_origin_end(sender: Any = None, task_id: str | None = None, **kwargs: Any) -> None:
    """Restore the origin that was current before the task started."""
    token = _tokens.pop(str(task_id), None)
    if token is not None:
        # ValueError: the token was set in another context (a pool that ran prerun elsewhere); nothing to restore.
        with contextlib.suppress(ValueError):
            origin_pop(token)
