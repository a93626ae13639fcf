"""Refreshing prices with the real clients against a real local HTTP server (pytest-httpserver):
a good fetch is stored and matched; every kind of failure keeps the last good offers, records
why, and the offers turn stale two hours after their fetch."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from catalog.models import Hardware, Revision
from cloudprices.clients import runpod, vast
from cloudprices.models import FetchRun, GpuName, Offer, PriceHistory
from cloudprices.refresh import (
    Fetched,
    RefreshBusy,
    acquire_lock,
    refresh,
    release_lock,
    renew_lock,
)
from tests.cloudprices.test_clients import reply, runpod_gpu, runpod_reply, vast_offer
from tests.conftest import LocalHTTPServer

pytestmark = pytest.mark.django_db

GOOD = runpod_reply(
    runpod_gpu(),  # A100 80GB PCIe: secure, community and two spot prices
    runpod_gpu(
        id="NVIDIA GeForce RTX 4090", displayName="RTX 4090", memoryInGb=24, secureCloud=False,
        securePrice=0, communityPrice=0.34, secureSpotPrice=None, communitySpotPrice=0.2,
    ),
    runpod_gpu(
        id="NVIDIA Mystery X1", displayName="X1", memoryInGb=48, secureCloud=True,
        communityCloud=False, securePrice=2.5, communityPrice=0, secureSpotPrice=None,
        communitySpotPrice=None,
    ),
)  # fmt: skip


def runpod_live(server: LocalHTTPServer) -> dict[str, Callable[[], Fetched]]:
    """The real RunPod client against the local server, without waiting between retries."""
    return {
        "runpod": lambda: runpod.fetch_report(
            base_url=server.url_for("/graphql"), timeout=0.5, sleep=lambda seconds: None
        )
    }


def run(server: LocalHTTPServer) -> Any:
    return refresh(["runpod"], live=runpod_live(server))[0]


@pytest.fixture
def stored(httpserver: LocalHTTPServer) -> LocalHTTPServer:
    """RunPod's good fetch is stored: 7 offers, 6 of them on catalog GPUs."""
    reply(httpserver, "/graphql", json=GOOD)
    outcome = run(httpserver)
    assert outcome.ok and outcome.fetched == 7
    return httpserver


def snapshot_of_offers() -> list[tuple[str, Decimal, Any]]:
    offers = Offer.objects.filter(provider="runpod").order_by("key")
    return list(offers.values_list("key", "price_per_gpu_hour", "fetched_at"))


def test_a_good_fetch_is_stored_matched_and_counted(stored: LocalHTTPServer) -> None:
    runpod_offers = Offer.objects.filter(provider="runpod").select_related("hardware")
    offers = {o.key: o for o in runpod_offers}
    assert set(offers) == {
        "NVIDIA A100 80GB PCIe:secure", "NVIDIA A100 80GB PCIe:community",
        "NVIDIA A100 80GB PCIe:secure_spot", "NVIDIA A100 80GB PCIe:community_spot",
        "NVIDIA GeForce RTX 4090:community", "NVIDIA GeForce RTX 4090:community_spot",
        "NVIDIA Mystery X1:secure",
    }  # fmt: skip
    a100 = offers["NVIDIA A100 80GB PCIe:community"]
    assert a100.hardware and a100.hardware.slug == "a100-80gb-pcie"
    assert a100.tier == "community" and a100.price_per_gpu_hour == Decimal("1.1900")
    assert offers["NVIDIA Mystery X1:secure"].hardware is None  # kept, not dropped
    unknown = GpuName.objects.get(provider="runpod", name="NVIDIA Mystery X1")
    assert unknown.hardware is None and unknown.offers == 1 and unknown.matched_by == "none"
    run_row = FetchRun.objects.get(provider="runpod", from_snapshot=False)
    assert (run_row.ok, run_row.fetched, run_row.matched, run_row.unmatched) == (True, 7, 6, 1)
    # The hour's history: per device and tier, the minimum and median of that hour.
    spot = PriceHistory.objects.filter(
        hardware__slug="a100-80gb-pcie", provider="runpod", tier="spot"
    ).latest("hour")
    assert (spot.min_price, spot.median_price, spot.offers) == (
        Decimal("0.6000"), Decimal("0.7100"), 2,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("replies", "error"),
    [
        ([{"status": 500, "times": 4}], "HTTP 500"),
        ([{"status": 429, "times": 4, "headers": {"Retry-After": "3"}}], "HTTP 429"),
        ([{"status": 429, "times": 4}], "HTTP 429"),
        ([{"json": GOOD, "delay": 1.0, "times": 4}], "timed out"),
        ([{"body": b"<html>502 Bad Gateway</html>", "headers": {"Content-Type": "text/html"}}],
         "JSON"),
        ([{"body": b'{"data": {"gpuTypes": [', "times": 1}], "JSON"),
        ([{"json": {"data": {"gpu_types": []}}}], "gpuTypes"),
        ([{"json": {"errors": [{"message": "rate limited"}], "data": None}}], "rate limited"),
        ([{"json": runpod_reply()}], "no offers"),
        ([{"json": runpod_reply({"id": "NVIDIA H100 PCIe", "securePrice": "cheap"})}],
         "no offers"),
    ],
    ids=[
        "500s", "429-retry-after", "429-backoff", "timeout", "html", "truncated-json",
        "schema-drift", "graphql-errors", "empty-list", "every-row-malformed",
    ],
)  # fmt: skip
def test_a_failed_fetch_keeps_the_last_good_offers_and_records_why(
    stored: LocalHTTPServer, replies: list[dict[str, Any]], error: str
) -> None:
    before = snapshot_of_offers()
    for answer in replies:
        reply(stored, "/graphql", **answer)
    outcome = run(stored)
    assert not outcome.ok and outcome.kept == 7
    assert error.lower() in outcome.error.lower()
    assert snapshot_of_offers() == before  # nothing lost, nothing changed
    failure = FetchRun.objects.filter(ok=False).get()
    assert failure.kept == 7 and error.lower() in failure.error.lower()


def test_a_partly_malformed_fetch_stores_the_good_rows_and_counts_the_rest(
    stored: LocalHTTPServer,
) -> None:
    reply(
        stored,
        "/graphql",
        json=runpod_reply(
            runpod_gpu(communityPrice=1.05),
            runpod_gpu(id="NVIDIA H100 PCIe", memoryInGb="eighty"),  # wrong type
            {"id": "NVIDIA L40S"},  # missing fields
        ),
    )
    outcome = run(stored)
    assert outcome.ok and outcome.skipped_rows == 2 and outcome.fetched == 4
    prices = dict(Offer.objects.filter(provider="runpod").values_list("key", "price_per_gpu_hour"))
    assert prices["NVIDIA A100 80GB PCIe:community"] == Decimal("1.0500")
    assert "NVIDIA Mystery X1:secure" not in prices  # no longer listed by RunPod
    assert FetchRun.objects.filter(provider="runpod").first().skipped_rows == 2  # type: ignore[union-attr]


def test_offers_turn_stale_two_hours_after_their_fetch_and_the_page_says_so(
    stored: LocalHTTPServer, client: Client
) -> None:
    reply(stored, "/graphql", status=500, times=4)
    run(stored)
    api = client.get("/api/v1/prices/?provider=runpod").json()
    assert api["count"] == 6 and not any(item["stale"] for item in api["items"])
    Offer.objects.filter(provider="runpod").update(
        fetched_at=timezone.now() - timedelta(hours=2, minutes=1)
    )
    api = client.get("/api/v1/prices/?provider=runpod").json()
    assert api["count"] == 6 and all(item["stale"] for item in api["items"])
    page = client.get("/gpus/prices/?provider=runpod").content.decode()
    assert "stale:" in page
    assert "HTTP 500" in page and "showing the 7 offers of the last good fetch" in page


def test_each_provider_fails_alone(stored: LocalHTTPServer) -> None:
    reply(stored, "/graphql", status=500, times=4)
    reply(stored, "/bundles/", json={"offers": [vast_offer()]})
    reply(stored, "/bundles/", json={"offers": []})
    live = runpod_live(stored) | {
        "vast": lambda: vast.fetch_report(
            base_url=stored.url_for("/bundles/"), timeout=0.5, sleep=lambda s: None
        )
    }
    runpod_outcome, vast_outcome = refresh(["runpod", "vast"], live=live)
    assert not runpod_outcome.ok and vast_outcome.ok
    assert Offer.objects.filter(provider="runpod").count() == 7
    rtx = Offer.objects.get(provider="vast")  # the snapshot's Vast offers are replaced
    assert rtx.hardware and rtx.hardware.slug == "rtx-4090"
    assert rtx.gpu_count == 8 and rtx.price_per_gpu_hour == Decimal("0.3462")  # 2.77 / 8


def test_a_successful_refresh_invalidates_cached_model_page_parts(stored: LocalHTTPServer) -> None:
    before = Revision.current()
    reply(stored, "/graphql", json=GOOD)
    run(stored)
    after = Revision.current()
    assert after[0] == before[0] and after[1] != before[1]  # prices changed, catalog did not


def test_runs_never_overlap_and_an_expired_lock_is_taken_over(
    httpserver: LocalHTTPServer,
) -> None:
    holder = acquire_lock()
    assert holder is not None
    with pytest.raises(RefreshBusy):
        refresh(["runpod"], live=runpod_live(httpserver))
    assert acquire_lock() is None
    release_lock(holder)
    second = acquire_lock()
    assert second is not None
    from cloudprices.models import RefreshLock

    RefreshLock.objects.update(expires_at=timezone.now() - timedelta(seconds=1))  # crashed run
    third = acquire_lock()
    assert third is not None
    RefreshLock.objects.update(expires_at=timezone.now() + timedelta(seconds=1))
    renew_lock(third)  # each provider of a run renews it for the full term
    assert RefreshLock.objects.get().expires_at > timezone.now() + timedelta(minutes=14)
    renew_lock(second)  # a run that lost the lock cannot renew it
    assert RefreshLock.objects.get().holder == third


def test_an_admin_match_sticks_and_moves_the_offers(
    stored: LocalHTTPServer, admin_client: Client
) -> None:
    mystery = GpuName.objects.get(name="NVIDIA Mystery X1")
    l40s = Hardware.objects.get(slug="l40s")
    response = admin_client.post(
        f"/admin/cloudprices/gpuname/{mystery.pk}/change/",
        {
            "provider": "runpod", "name": mystery.name,
            "memory_bytes_per_gpu": mystery.memory_bytes_per_gpu, "hardware": l40s.pk,
            "matched_by": "none",
        },
    )  # fmt: skip
    assert response.status_code == 302
    assert Offer.objects.get(key="NVIDIA Mystery X1:secure").hardware == l40s
    reply(stored, "/graphql", json=GOOD)
    run(stored)  # the hourly rules do not undo a person's match
    mystery.refresh_from_db()
    assert mystery.hardware == l40s and mystery.matched_by == "admin"
    assert Offer.objects.get(key="NVIDIA Mystery X1:secure").hardware == l40s


def test_the_command_prints_a_summary_and_fails_when_a_provider_does(
    stored: LocalHTTPServer, settings: Any
) -> None:
    settings.RUNPOD_API_URL = stored.url_for("/graphql")
    reply(stored, "/graphql", json=GOOD)
    out = StringIO()
    call_command("refresh_prices", "--provider", "runpod", stdout=out)
    assert "runpod: 7 offers, 6 matched to devices, 1 unmatched, 0 malformed rows" in out.getvalue()
    assert "fetched 7, matched 6, unmatched 1, failed 0 of 1 providers" in out.getvalue()
    reply(stored, "/graphql", status=400)  # a client error is not retried
    with pytest.raises(CommandError, match=r"runpod: FAILED .*kept 7 offers"):
        call_command("refresh_prices", "--provider", "runpod", stdout=StringIO())


def test_the_snapshot_loads_through_the_parsers_and_never_overwrites_newer_prices(
    stored: LocalHTTPServer,
) -> None:
    out = StringIO()
    call_command("refresh_prices", "--from-snapshot", stdout=out)
    text = out.getvalue()
    assert "runpod: has prices newer than the snapshot; kept them" in text
    assert "vast: 71 offers" in text
    assert "azure: no bundled snapshot" in text
    assert Offer.objects.filter(provider="runpod", from_snapshot=False).count() == 7
    assert Offer.objects.filter(provider="vast", from_snapshot=True).count() == 71
