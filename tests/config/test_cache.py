"""config.cache: Redis down, hung or restarting is a cache miss, never an error."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

import config.cache
from config.cache import Cache, CacheUnavailable
from tests.config.services import RedisServer, free_port

WARNING = "Cache unavailable"
BACK = "Cache available again"


def messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(text)]


@pytest.fixture
def hung_server() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_every_operation_on_a_closed_port_answers_as_a_miss(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = Cache(f"redis://127.0.0.1:{free_port()}/0", {})
    start = time.perf_counter()
    assert cache.get("k", "default") == "default"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.set("k", 1) is None
    assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
    assert cache.add("k", 1) is False
    assert cache.touch("k") is False
    assert cache.has_key("k") is False
    assert cache.delete("k") is False
    assert cache.delete_many(["a", "b"]) is None
    assert cache.get_or_set("k", 42) == 42
    assert cache.clear() is False
    with pytest.raises(CacheUnavailable):
        cache.incr("k")
    with pytest.raises(ValueError, match="the cache is unavailable"):
        cache.decr("k")
    assert time.perf_counter() - start < 0.5
    assert len(messages(caplog, WARNING)) == 1


def test_an_outage_is_logged_once_and_redis_is_skipped_for_a_few_seconds(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = Cache(f"redis://127.0.0.1:{free_port()}/0", {})
    calls = []

    def refuse(*args: object, **kwargs: object) -> None:
        calls.append(1)
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(cache._cache, "get_client", refuse)
    for _ in range(20):
        assert cache.get("k") is None
    assert len(calls) == 1  # the breaker skipped the other 19
    cache.breaker.skip_until = 0  # the retry interval has passed
    assert cache.get("k") is None
    assert len(calls) == 2
    assert len(messages(caplog, WARNING)) == 1
    assert config.cache.RETRY_SECONDS == 5.0


def test_a_hung_redis_holds_a_request_at_most_half_a_second_once(hung_server: int) -> None:
    cache = Cache(f"redis://127.0.0.1:{hung_server}/0", {})
    start = time.perf_counter()
    assert cache.get("k", "miss") == "miss"
    first = time.perf_counter() - start
    assert 0.45 < first < 1.0  # the read timeout, not redis-py's default 5 s
    start = time.perf_counter()
    assert cache.get("k", "miss") == "miss"
    assert time.perf_counter() - start < 0.01  # the breaker is open: no second wait


def test_the_cache_is_used_again_when_redis_comes_back(
    running_redis: RedisServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config.cache, "RETRY_SECONDS", 0.2)
    cache = Cache(running_redis.url, {})
    cache.set("before", "stored")
    running_redis.stop()
    assert cache.get("before", "miss") == "miss"
    assert cache.set("during", 1) is None
    running_redis.start()  # empty: started without persistence
    assert cache.get("before", "skipped") == "skipped"  # still within the retry interval
    time.sleep(0.25)
    cache.set("after", "stored")
    assert cache.get("after") == "stored"
    assert running_redis.cli("exists", ":1:after") == "1"  # stored in the new server
    assert len(messages(caplog, WARNING)) == 1
    assert len(messages(caplog, BACK)) == 1


def test_a_connection_closed_by_a_restart_is_reopened_without_a_miss(
    running_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    cache = Cache(running_redis.url, {})
    cache.set("k", "v")
    running_redis.cli("client", "kill", "type", "normal")  # as a restart does to idle clients
    cache.set("k", "again")
    assert cache.get("k") == "again"
    assert messages(caplog, WARNING) == []


def test_readiness_pings_redis_itself_and_closes_the_breaker(
    running_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    cache = Cache(running_redis.url, {})
    running_redis.stop()
    assert cache.ping() is False
    assert cache.breaker.open()
    running_redis.start()
    assert cache.ping() is True
    assert cache.breaker.open() is False
    cache.set("k", "v")
    assert cache.get("k") == "v"
    assert len(messages(caplog, BACK)) == 1


def test_the_outage_warning_gives_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    Cache(f"redis://127.0.0.1:{port}/0", {}).get("k")
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"127.0.0.1:{port}. Connection refused" in record.getMessage()
