from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.config.services import RedisServer, have_redis
from tests.conftest import require_service


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server that tests may stop; each test leaves it running."""
    require_service(have_redis(), "redis-server")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def running_redis(redis_server: RedisServer) -> Iterator[RedisServer]:
    """`redis_server`, started again after the test if it stopped it."""
    yield redis_server
    if redis_server.process is None:
        redis_server.start()


@pytest.fixture(autouse=True)
def fresh_breakers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no outage remembered by `config.cache` or `config.ratelimit`."""
    import config.cache
    import config.ratelimit

    monkeypatch.setattr(config.cache, "breakers", {})
    monkeypatch.setattr(config.ratelimit, "local_counts", config.ratelimit.LocalCounts())
