"""The hourly task in a real Celery worker consuming from Redis (not eager mode)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command

from cloudprices.models import FetchRun, Offer
from config.celery import app
from tests.cloudprices.test_clients import azure_item, azure_page, received, reply
from tests.cloudprices.test_refresh import GOOD
from tests.conftest import LocalHTTPServer, require_service

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not done within {seconds} s")
        time.sleep(0.2)


@pytest.fixture
def worker(settings: Any) -> Any:
    require_service(settings.REDIS_URL != "", "Redis (REDIS_URL)")
    from celery.contrib.testing.worker import start_worker

    call_command("load_catalog", verbosity=0)  # transactional tests start from an empty database
    app.control.purge()  # nothing left over from an earlier run
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as w:
        yield w


def test_the_task_refreshes_in_a_worker_and_retries_the_provider_that_failed(
    worker: Any, httpserver: LocalHTTPServer, settings: Any
) -> None:
    from cloudprices.tasks import refresh_prices

    settings.RUNPOD_API_URL = httpserver.url_for("/graphql")
    settings.AZURE_PRICES_URL = httpserver.url_for("/prices")
    settings.PRICE_REFRESH_RETRY_SECONDS = 0.5
    reply(httpserver, "/graphql", status=400)  # RunPod fails once (not retried by the client)
    reply(httpserver, "/graphql", json=GOOD)  # and answers on the task's retry
    reply(httpserver, "/prices", json=azure_page(azure_item()))
    refresh_prices.delay(["runpod", "azure"])
    live = FetchRun.objects.filter(from_snapshot=False)
    wait_for(lambda: live.filter(provider="runpod", ok=True).exists())
    runs = list(live.order_by("started_at").values_list("provider", "ok"))
    assert runs == [("runpod", False), ("azure", True), ("runpod", True)]
    assert Offer.objects.filter(provider="runpod").count() == 7
    azure = Offer.objects.get(provider="azure")
    assert azure.hardware is not None and azure.hardware.slug == "a100-80gb-pcie"
    assert [r.path for r in received(httpserver)].count("/graphql") == 2
