"""config.ratelimit: limits hold when the shared cache is down (counted in the process)."""

from __future__ import annotations

import pytest
from django.test import override_settings

import config.cache
from config.ratelimit import Limited, spend
from tests.config.services import RedisServer, free_port


def redis_cache(url: str) -> override_settings:
    return override_settings(CACHES={"default": {"BACKEND": "config.cache.Cache", "LOCATION": url}})


def spend_until_limited(client: str, limit: int) -> int:
    """How many actions `client` got before Limited (at most limit + 5 tried)."""
    for done in range(limit + 5):
        try:
            spend("test", client, limit, "tests")
        except Limited:
            return done
    return limit + 5


def test_limits_hold_per_process_while_the_shared_cache_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with redis_cache(f"redis://127.0.0.1:{free_port()}/0"):
        assert spend_until_limited("client-a", 3) == 3
        assert spend_until_limited("client-b", 3) == 3  # counted apart
        with pytest.raises(Limited, match="at most 3 an hour"):
            spend("test", "client-a", 3, "tests")
    fallbacks = [r for r in caplog.records if r.getMessage().startswith("Shared cache down")]
    assert len(fallbacks) == 1


def test_counting_returns_to_the_shared_cache_when_it_is_back(
    running_redis: RedisServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config.cache, "RETRY_SECONDS", 0.0)
    running_redis.cli("flushall")
    with redis_cache(running_redis.url):
        spend("test", "client-a", 3, "tests")
        assert running_redis.cli("keys", "*rate:test:client-a:*") != ""
        running_redis.stop()
        assert spend_until_limited("client-a", 3) == 3  # this process's own count
        running_redis.start()  # empty
        assert spend_until_limited("client-a", 3) == 3  # the new server's count
        assert running_redis.cli("get", running_redis.cli("keys", "*rate:test:client-a:*")) == "4"
    assert "Shared cache back: rate limits are counted there again" in caplog.messages
