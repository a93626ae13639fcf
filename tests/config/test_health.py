"""/healthz and /readyz: per dependency ok or failing, no hosts, ports or exception text."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.utils import OperationalError
from django.test import Client

import config.health
from tests.config.services import RedisServer, free_port

pytestmark = pytest.mark.django_db


def use(settings: Any, *, cache: str | None, broker: str) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "config.cache.Cache", "LOCATION": cache}
        if cache
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    settings.CELERY_BROKER_URL = broker
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}


def test_healthz_is_plain_ok(client: Client) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok")


def test_readyz_is_ok_when_every_dependency_answers(
    client: Client, settings: Any, running_redis: RedisServer
) -> None:
    use(settings, cache=running_redis.url, broker=running_redis.url)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok"},
    }


def test_readyz_says_the_cache_is_not_used_without_redis(
    client: Client, settings: Any, running_redis: RedisServer
) -> None:
    use(settings, cache=None, broker=running_redis.url)
    response = client.get("/readyz")
    assert response.json()["checks"]["cache"] == "not used"
    assert response.json()["status"] == "ok"


def test_readyz_is_200_degraded_when_redis_is_down_and_names_no_address(
    client: Client, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    use(settings, cache=f"redis://127.0.0.1:{port}/0", broker=f"redis://127.0.0.1:{port}/0")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.content == (
        b'{"status": "degraded", "checks": '
        b'{"database": "ok", "cache": "failing", "broker": "failing"}}'
    )
    assert str(port) in caplog.text  # the reason goes to the log


def test_readyz_is_503_when_the_database_fails_and_logs_the_reason(
    client: Client,
    settings: Any,
    running_redis: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    use(settings, cache=running_redis.url, broker=running_redis.url)

    class Unreachable:
        def cursor(self) -> None:
            raise OperationalError('connection to server at "10.1.2.3", port 5432 failed')

    monkeypatch.setattr(config.health, "connection", Unreachable())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "failing", "cache": "ok", "broker": "ok"},
    }
    assert b"10.1.2.3" not in response.content
    assert 'connection to server at "10.1.2.3", port 5432 failed' in caplog.text
