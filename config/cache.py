"""Django's Redis cache, reusing its redis client, that never fails a request.

Django's backend builds a new `redis.Redis` object (and its table of ~200 response callbacks)
for every get and set: about 0.5 ms each, more than the round trip. A client is thread-safe and
holds only its connection pool, so one per pool is enough.

The cache is an optimisation, so Redis being down, slow or restarting must cost a request
nothing but the cache: every operation catches redis and socket errors and answers as a miss
(get returns the default, set and add store nothing, incr raises `CacheUnavailable`, a
ValueError like Django's "key not found"). Sockets time out in well under a second, so a hung
Redis cannot hold a worker, and after a failure a breaker skips Redis for `RETRY_SECONDS`, so
an outage costs one timeout per process every few seconds rather than one per request. It
closes by itself on the first operation that works again. The outage is logged once per
process when it starts (a warning with the reason) and once when it ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
# Loopback or a private network answers in milliseconds, so these only bound how long a hung
# or unreachable Redis holds a worker (redis-py's default is 5 s). A pooled connection that a
# restart closed is noticed and reopened by the pool before it is used.
OPTIONS = {"socket_connect_timeout": 0.25, "socket_timeout": 0.5}
FAILURES = (RedisError, OSError)


class CacheUnavailable(ValueError):
    """incr/decr could not reach the cache: to Django's callers a missing key (ValueError);
    `config.ratelimit` tells it apart to count in the process instead."""


class Breaker:
    """Whether to skip the server for now; shared by every thread's cache object (Django
    builds one per thread) so a process notices and logs an outage once."""

    def __init__(self) -> None:
        self.skip_until = 0.0
        self.down_since: float | None = None
        self.lock = threading.Lock()

    def open(self) -> bool:
        return time.monotonic() < self.skip_until

    def failed(self, exc: BaseException) -> None:
        with self.lock:
            now = time.monotonic()
            self.skip_until = now + RETRY_SECONDS
            if self.down_since is None:
                self.down_since = now
                logger.warning(
                    "Cache unavailable (%s: %s); serving without it, trying again every %g s",
                    type(exc).__name__,
                    exc,
                    RETRY_SECONDS,
                )

    def succeeded(self) -> None:
        with self.lock:
            self.skip_until = 0.0
            if self.down_since is not None:
                logger.info(
                    "Cache available again after %.1f s", time.monotonic() - self.down_since
                )
                self.down_since = None


breakers: dict[str, Breaker] = {}  # per server location, shared by all threads
_breakers_lock = threading.Lock()


def breaker_for(location: str) -> Breaker:
    with _breakers_lock:
        return breakers.setdefault(location, Breaker())


class ReusedClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        if index not in self._clients:
            self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return self._clients[index]


class Cache(RedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        options = OPTIONS | params.get("OPTIONS", {})
        super().__init__(server, params | {"OPTIONS": options})
        self._class = ReusedClient
        self.breaker = breaker_for(server if isinstance(server, str) else ",".join(server))

    def _guarded[T](self, miss: T, operation: Callable[..., T], *args: Any) -> T:
        """`operation(*args)`, or `miss` when Redis fails or failed moments ago."""
        if self.breaker.open():
            return miss
        try:
            result = operation(*args)
        except FAILURES as exc:
            self.breaker.failed(exc)
            return miss
        if self.breaker.down_since is not None:
            self.breaker.succeeded()
        return result

    def ping(self) -> bool:
        """Whether Redis answers now (the breaker is bypassed: /readyz asks the server)."""
        try:
            self._cache.get_client().ping()
        except FAILURES as exc:
            self.breaker.failed(exc)
            return False
        self.breaker.succeeded()
        return True

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        return self._guarded(False, super().add, key, value, timeout, version)

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._guarded(default, super().get, key, default, version)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._guarded(None, super().set, key, value, timeout, version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._guarded(False, super().touch, key, timeout, version)

    def delete(self, key: Any, version: Any = None) -> bool:
        return self._guarded(False, super().delete, key, version)

    def get_many(self, keys: Any, version: Any = None) -> dict[Any, Any]:
        return self._guarded({}, super().get_many, keys, version)

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._guarded(False, super().has_key, key, version)

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        """The new value; CacheUnavailable (a ValueError, as for a missing key) without Redis.
        decr and incr_version come through here."""
        value: int | None = self._guarded(None, super().incr, key, delta, version)
        if value is None:
            raise CacheUnavailable(f"Key {key!r} not incremented: the cache is unavailable.")
        return value

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> list[Any]:
        """The keys not stored: all of them without Redis."""
        return self._guarded(list(data), super().set_many, data, timeout, version)

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._guarded(None, super().delete_many, keys, version)

    def clear(self) -> bool:
        return self._guarded(False, super().clear)
