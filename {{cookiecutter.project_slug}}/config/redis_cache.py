"""The cache backend on Redis: Django's RedisCache, with a Redis outage costing a cache miss, never a 5xx.

Django's own `RedisCache` raises whatever redis-py raises, and redis-py waits for a frozen Redis without
limit; `cache_page` and django-allauth's rate limiter then answer 500. This backend changes three things
(settings.OPTIONS of CACHES["default"], set by config/settings/base.py `cache_settings`):

- **Short socket timeouts** (redis-py's `socket_connect_timeout`, `socket_timeout`, passed through): a
  stopped Redis refuses at once, a frozen one costs at most connect + one call.
- **A circuit breaker** (`BREAKER_SECONDS`): after a failed call, this process does not try Redis again
  for that many seconds, so a dead Redis costs one timeout per process per period, not one per call.
- **A fallback** while Redis is not used: keys starting with one of `LOCAL_KEY_PREFIXES` (the login rate
  limiter's counters and locks) live in a per-process LocMemCache, so limits still hold per process;
  every other key misses (reads answer the default, writes are dropped), so cached pages are rendered
  afresh and no process serves an entry another process has since replaced.

State is per process (module level): Django builds a backend instance per thread.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

DEFAULT_BREAKER_SECONDS = 5.0
# monotonic time before which Redis at a location is not tried again, per location (the breaker).
_retry_at: dict[str, float] = {}


class ResilientRedisCache(RedisCache):
    """Django's RedisCache that falls back instead of raising when Redis is down, frozen or refusing.

    `server`: Redis URL(s) as for RedisCache. `params["OPTIONS"]` takes RedisCache's options (redis-py
    connection arguments) and two of its own: `BREAKER_SECONDS` (float, seconds without trying Redis after
    a failure; default 5) and `LOCAL_KEY_PREFIXES` (list of str, keys kept per process while Redis is not
    used; default none). Raises nothing from redis-py: `redis.exceptions.RedisError` is logged (WARNING,
    once per breaker period) and answered by the fallback. `incr` of a missing key raises ValueError, as
    Django's backends do.
    """

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS", {}))
        self._breaker_seconds = float(options.pop("BREAKER_SECONDS", DEFAULT_BREAKER_SECONDS))
        self._local_prefixes = tuple(options.pop("LOCAL_KEY_PREFIXES", ()))
        super().__init__(server, {**params, "OPTIONS": options})
        self._location = str(server)
        # For log lines: a password in the URL (redis://:secret@host) is not written out.
        self._shown_location = re.sub(r"//[^@/]*@", "//***@", self._location)
        # LocMemCache keeps its entries per name at module level: every thread's instance shares them.
        local_params = {k: v for k, v in params.items() if k in ("KEY_FUNCTION", "KEY_PREFIX", "VERSION")}
        self._local = LocMemCache(f"redis-fallback:{self._location}", local_params)

    def _redis_or_fallback(self, method: str, key: str, miss: Callable[[], Any], *args: Any, **kwargs: Any) -> Any:
        if self._redis_usable():
            try:
                return getattr(super(), method)(key, *args, **kwargs)
            except RedisError as exc:
                self._open_breaker(exc)
        if self._is_local(key):
            return getattr(self._local, method)(key, *args, **kwargs)
        return miss()

    def _open_breaker(self, exc: RedisError) -> None:
        _retry_at[self._location] = time.monotonic() + self._breaker_seconds
        logger.warning(
            "Redis cache at %s failed (%s: %s); not tried again for %.1f s, keys %s kept in this process, "
            "others miss",
            self._shown_location, type(exc).__name__, exc, self._breaker_seconds, list(self._local_prefixes) or "none",
        )  # fmt: skip

    def _redis_usable(self) -> bool:
        return time.monotonic() >= _retry_at.get(self._location, 0.0)

    def _is_local(self, key: str) -> bool:
        return bool(self._local_prefixes) and str(key).startswith(self._local_prefixes)

    def add(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return bool(self._redis_or_fallback("add", key, lambda: False, value, timeout, version))

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        return self._redis_or_fallback("get", key, lambda: default, default, version)

    def set(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._redis_or_fallback("set", key, lambda: None, value, timeout, version)

    def touch(self, key: str, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return bool(self._redis_or_fallback("touch", key, lambda: False, timeout, version))

    def delete(self, key: str, version: int | None = None) -> bool:
        return bool(self._redis_or_fallback("delete", key, lambda: False, version))

    def has_key(self, key: str, version: int | None = None) -> bool:
        return bool(self._redis_or_fallback("has_key", key, lambda: False, version))

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        def missing() -> int:
            raise ValueError(f"Key '{key}' not found (Redis is not used for now: cache miss)")

        return int(self._redis_or_fallback("incr", key, missing, delta, version))

    def get_many(self, keys: Iterable[str], version: int | None = None) -> dict[str, Any]:
        keys = list(keys)
        if self._redis_usable():
            try:
                return dict(super().get_many(keys, version))
            except RedisError as exc:
                self._open_breaker(exc)
        return self._local.get_many([key for key in keys if self._is_local(key)], version)

    def set_many(self, data: dict[str, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[str]:
        if self._redis_usable():
            try:
                return list(super().set_many(data, timeout, version))
            except RedisError as exc:
                self._open_breaker(exc)
        self._local.set_many({key: value for key, value in data.items() if self._is_local(key)}, timeout, version)
        return [key for key in data if not self._is_local(key)]

    def delete_many(self, keys: Iterable[str], version: int | None = None) -> None:
        keys = list(keys)
        if self._redis_usable():
            try:
                super().delete_many(keys, version)
                return
            except RedisError as exc:
                self._open_breaker(exc)
        self._local.delete_many([key for key in keys if self._is_local(key)], version)

    def clear(self) -> None:
        self._local.clear()
        if self._redis_usable():
            try:
                super().clear()
            except RedisError as exc:
                self._open_breaker(exc)
