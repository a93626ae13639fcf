"""The RunPod, Vast.ai and Azure clients against a real local HTTP server (pytest-httpserver),
and the snapshot."""

from __future__ import annotations

import json as jsonlib  # `json` is reply()'s argument, as in requests
import logging
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from werkzeug import Request, Response

import cloudprices
from cloudprices.clients import FetchedOffer, ProviderError, azure, runpod, vast
from tests.conftest import LocalHTTPServer

GIB = 2**30
MIB = 2**20
SNAPSHOT = Path(cloudprices.__file__).parent / "snapshot"


def snapshot(name: str) -> Any:
    return jsonlib.loads((SNAPSHOT / name).read_text())


def dont_sleep(seconds: float) -> None:
    """A sleep for tests that do not look at the waits."""


def reply(
    server: LocalHTTPServer,
    path: str,
    *,
    status: int = 200,
    json: Any = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    delay: float = 0.0,
    times: int = 1,
) -> None:
    """Queue an answer for `path` (whatever the query string), `times` times over; queued
    answers are used once each, in order. `delay` holds each back, to make clients time out."""
    if body is None:
        body = jsonlib.dumps(json).encode() if json is not None else b""
        headers = {"Content-Type": "application/json"} | (headers or {})
    response = Response(body, status, headers)
    for _ in range(times):
        answer = server.expect_oneshot_request(path)
        if delay:
            answer.respond_with_handler(held_back(server, response, delay))
        else:
            answer.respond_with_response(response)


def held_back(
    server: LocalHTTPServer, response: Response, seconds: float
) -> Callable[[Request], Response]:
    """An answer given `seconds` late, or when the server stops (its client has given up)."""

    def answer(request: Request) -> Response:
        server.stopping.wait(seconds)
        return response

    return answer


def received(server: LocalHTTPServer) -> list[Request]:
    """The requests `server` answered, oldest first."""
    return [request for request, _ in server.log]


# --- provider replies -------------------------------------------------------------------------


def runpod_gpu(**overrides: Any) -> dict[str, Any]:
    """A gpuTypes entry as RunPod sends it (values from a recorded reply)."""
    row = {
        "id": "NVIDIA A100 80GB PCIe",
        "displayName": "A100 PCIe",
        "manufacturer": "Nvidia",
        "memoryInGb": 80,
        "maxGpuCount": 8,
        "secureCloud": True,
        "communityCloud": True,
        "securePrice": 1.64,
        "communityPrice": 1.19,
        "secureSpotPrice": 0.82,
        "communitySpotPrice": 0.6,
        "lowestPrice": {
            "minimumBidPrice": 0.6,
            "uninterruptablePrice": 1.19,
            "stockStatus": "High",
        },
    }
    return row | overrides


def runpod_reply(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"gpuTypes": list(rows)}}


def vast_offer(**overrides: Any) -> dict[str, Any]:
    """An offer as Vast.ai sends it (trimmed to the fields that matter here)."""
    row = {
        "id": 30877120,
        "num_gpus": 8,
        "gpu_name": "RTX 4090",
        "gpu_ram": 24564,
        "gpu_total_ram": 196512,
        "dph_total": 2.77,
        "min_bid": 1.6,
        "geolocation": "Taiwan, TW",
        "rentable": True,
        "rented": False,
        "verification": "verified",
    }
    return row | overrides


def azure_item(**overrides: Any) -> dict[str, Any]:
    """A Retail Prices item: Linux pay-as-you-go NC24ads A100 v4 in East US."""
    item = {
        "currencyCode": "USD",
        "tierMinimumUnits": 0.0,
        "retailPrice": 3.673,
        "unitPrice": 3.673,
        "armRegionName": "eastus",
        "location": "US East",
        "meterName": "NC24ads A100 v4",
        "productName": "Virtual Machines NCads A100 v4 Series",
        "skuName": "NC24ads A100 v4",
        "serviceName": "Virtual Machines",
        "serviceFamily": "Compute",
        "unitOfMeasure": "1 Hour",
        "type": "Consumption",
        "isPrimaryMeterRegion": True,
        "armSkuName": "Standard_NC24ads_A100_v4",
    }
    return item | overrides


def azure_page(*items: dict[str, Any], next_link: Any = None) -> dict[str, Any]:
    return {
        "BillingCurrency": "USD",
        "CustomerEntityId": "Default",
        "CustomerEntityType": "Retail",
        "Items": list(items),
        "NextPageLink": next_link,
        "Count": len(items),
    }


# --- what every client does the same way ------------------------------------------------------


@dataclass(frozen=True)
class Client:
    module: ModuleType
    path: str
    reply: dict[str, Any]  # a good reply
    offers: int  # offers one fetch of `reply` yields
    error: type[ProviderError]
    searches: int  # requests one fetch makes (Vast searches on-demand, then bid)
    pause: tuple[float, ...]  # sleeps one fetch makes besides retries

    def fetch(self, server: LocalHTTPServer, sleeps: list[float], **kw: Any) -> list[FetchedOffer]:
        offers: list[FetchedOffer] = self.module.fetch(
            base_url=server.url_for(self.path), sleep=sleeps.append, **kw
        )
        return offers

    def good_replies(self, server: LocalHTTPServer) -> None:
        reply(server, self.path, json=self.reply, times=self.searches)


RUNPOD = Client(
    runpod,
    "/graphql",
    runpod_reply(runpod_gpu(communityCloud=False, secureSpotPrice=None)),
    1,
    runpod.RunPodError,
    1,
    (),
)
VAST = Client(vast, "/api/v0/bundles/", {"offers": [vast_offer()]}, 2, vast.VastError, 2, (6.5,))
AZURE = Client(azure, "/api/retail/prices", azure_page(azure_item()), 1, azure.AzureError, 1, ())
CLIENTS = [
    pytest.param(RUNPOD, id="runpod"),
    pytest.param(VAST, id="vast"),
    pytest.param(AZURE, id="azure"),
]
KEYED_CLIENTS = [pytest.param(RUNPOD, id="runpod"), pytest.param(VAST, id="vast")]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_good_reply_yields_its_offers_without_sleeping_on_retries(
    client: Client, httpserver: LocalHTTPServer
) -> None:
    client.good_replies(httpserver)
    sleeps: list[float] = []
    offers = client.fetch(httpserver, sleeps)
    assert len(offers) == client.offers
    assert sleeps == list(client.pause)
    assert len(received(httpserver)) == client.searches


@pytest.mark.parametrize("client", KEYED_CLIENTS)
def test_the_api_key_is_sent_as_a_bearer_token_when_given(
    client: Client, httpserver: LocalHTTPServer
) -> None:
    client.good_replies(httpserver)
    client.fetch(httpserver, [], api_key="secret-key")
    assert [r.headers.get("authorization") for r in received(httpserver)] == [
        "Bearer secret-key"
    ] * client.searches


@pytest.mark.parametrize("client", KEYED_CLIENTS)
def test_no_authorization_header_is_sent_without_a_key(
    client: Client, httpserver: LocalHTTPServer
) -> None:
    client.good_replies(httpserver)
    client.fetch(httpserver, [])
    assert all("authorization" not in r.headers for r in received(httpserver))
    assert len(received(httpserver)) == client.searches


def test_azure_sends_no_authorization_header_even_when_given_a_key(
    httpserver: LocalHTTPServer,
) -> None:
    AZURE.good_replies(httpserver)
    AZURE.fetch(httpserver, [], api_key="ignored")
    assert "authorization" not in received(httpserver)[0].headers


@pytest.mark.parametrize("client", CLIENTS)
def test_a_500_then_a_200_succeeds_after_one_retry(
    client: Client, httpserver: LocalHTTPServer
) -> None:
    reply(httpserver, client.path, status=500, body=b"upstream hiccup")
    client.good_replies(httpserver)
    sleeps: list[float] = []
    offers = client.fetch(httpserver, sleeps)
    assert len(offers) == client.offers
    assert sleeps == [1.0, *client.pause]
    assert len(received(httpserver)) == client.searches + 1


@pytest.mark.parametrize("client", CLIENTS)
def test_a_429_with_retry_after_7_sleeps_7_seconds(
    client: Client, httpserver: LocalHTTPServer
) -> None:
    reply(httpserver, client.path, status=429, headers={"Retry-After": "7"})
    client.good_replies(httpserver)
    sleeps: list[float] = []
    assert len(client.fetch(httpserver, sleeps)) == client.offers
    assert sleeps == [7.0, *client.pause]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_429_without_retry_after_backs_off_exponentially(
    client: Client, httpserver: LocalHTTPServer
) -> None:
    reply(httpserver, client.path, status=429, times=2)
    reply(httpserver, client.path, status=503, headers={"Retry-After": "soon"})
    client.good_replies(httpserver)
    sleeps: list[float] = []
    assert len(client.fetch(httpserver, sleeps)) == client.offers
    assert sleeps == [1.0, 2.0, 4.0, *client.pause]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_retry_after_above_a_minute_is_capped_at_60_seconds(
    client: Client, httpserver: LocalHTTPServer
) -> None:
    reply(httpserver, client.path, status=503, headers={"Retry-After": "3600"})
    client.good_replies(httpserver)
    sleeps: list[float] = []
    client.fetch(httpserver, sleeps)
    assert sleeps == [60.0, *client.pause]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_persistent_500_raises_the_provider_error_after_three_retries(
    client: Client, httpserver: LocalHTTPServer
) -> None:
    reply(httpserver, client.path, status=500, body=b"still down", times=4)
    sleeps: list[float] = []
    with pytest.raises(client.error, match=r"HTTP 500: still down"):
        client.fetch(httpserver, sleeps)
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(received(httpserver)) == 4


@pytest.mark.parametrize("client", CLIENTS)
def test_a_client_error_status_raises_at_once_without_retrying(
    client: Client, httpserver: LocalHTTPServer
) -> None:
    reply(httpserver, client.path, status=401, json={"error": "invalid key"})
    sleeps: list[float] = []
    with pytest.raises(client.error, match="HTTP 401"):
        client.fetch(httpserver, sleeps)
    assert sleeps == []
    assert len(received(httpserver)) == 1


@pytest.mark.parametrize("client", CLIENTS)
def test_a_reply_slower_than_the_timeout_raises_the_provider_error(
    client: Client, httpserver: LocalHTTPServer
) -> None:
    reply(httpserver, client.path, json=client.reply, delay=3.0)
    with pytest.raises(client.error, match="timed out"):
        client.fetch(httpserver, [], timeout=0.2)


@pytest.mark.parametrize("client", CLIENTS)
def test_an_unreachable_server_raises_the_provider_error(client: Client) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(client.error, match="failed"):
        client.module.fetch(base_url=f"http://127.0.0.1:{port}{client.path}", sleep=dont_sleep)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_body_that_is_not_json_raises_the_provider_error(
    client: Client, httpserver: LocalHTTPServer
) -> None:
    reply(httpserver, client.path, body=b'{"data": {"gpuTypes": [', times=client.searches)
    with pytest.raises(client.error, match="not JSON"):
        client.fetch(httpserver, [])


@pytest.mark.parametrize("client", CLIENTS)
def test_a_reply_that_is_not_a_json_object_raises_the_provider_error(
    client: Client, httpserver: LocalHTTPServer
) -> None:
    reply(httpserver, client.path, json=[1, 2], times=client.searches)
    with pytest.raises(client.error, match=r"must be a JSON object, got \[1, 2\]"):
        client.fetch(httpserver, [])


# --- RunPod -----------------------------------------------------------------------------------


def runpod_offer(gpu: str, suffix: str, tier: str, price: str, **kw: Any) -> FetchedOffer:
    return FetchedOffer(
        provider="runpod",
        key=f"{gpu}:{suffix}",
        gpu_name=gpu,
        gpu_count=1,
        memory_bytes_per_gpu=kw.pop("gib", 80) * GIB,
        tier=tier,
        price_per_gpu_hour=Decimal(price),
        available=kw.pop("available", True),
    )


def test_runpod_posts_the_gpu_types_query_and_parses_every_offered_tier(
    httpserver: LocalHTTPServer,
) -> None:
    payload = runpod_reply(
        runpod_gpu(),
        # communityPrice on a GPU with communityCloud false is a placeholder, not an offer
        runpod_gpu(
            id="NVIDIA B200",
            memoryInGb=180,
            communityCloud=False,
            securePrice=6.39,
            communityPrice=0.5,
            secureSpotPrice=None,
            communitySpotPrice=None,
            lowestPrice={
                "minimumBidPrice": None,
                "uninterruptablePrice": 6.39,
                "stockStatus": "Low",
            },
        ),
        runpod_gpu(
            id="NVIDIA GeForce RTX 3070",
            memoryInGb=8,
            secureCloud=False,
            securePrice=0,
            communityPrice=0.13,
            secureSpotPrice=None,
            communitySpotPrice=0.07,
            lowestPrice={
                "minimumBidPrice": 0.07,
                "uninterruptablePrice": 0.13,
                "stockStatus": None,
            },
        ),
        runpod_gpu(
            id="unknown",
            memoryInGb=0,
            secureCloud=False,
            communityCloud=False,
            securePrice=0,
            communityPrice=0,
            secureSpotPrice=None,
            communitySpotPrice=None,
        ),
    )
    reply(httpserver, "/graphql", json=payload)

    offers = runpod.fetch(base_url=httpserver.url_for("/graphql"), sleep=dont_sleep)

    a100, b200, rtx = "NVIDIA A100 80GB PCIe", "NVIDIA B200", "NVIDIA GeForce RTX 3070"
    assert offers == [
        runpod_offer(a100, "secure", "on_demand", "1.64"),
        runpod_offer(a100, "community", "community", "1.19"),
        runpod_offer(a100, "secure_spot", "spot", "0.82"),
        runpod_offer(a100, "community_spot", "spot", "0.6"),
        runpod_offer(b200, "secure", "on_demand", "6.39", gib=180),
        runpod_offer(rtx, "community", "community", "0.13", gib=8, available=None),
        runpod_offer(rtx, "community_spot", "spot", "0.07", gib=8, available=None),
    ]
    [request] = received(httpserver)
    assert request.method == "POST"
    assert request.json == {"query": runpod.QUERY}


def test_runpod_query_asks_for_every_field_the_parser_reads() -> None:
    for field in ("id", "memoryInGb", "secureCloud", "communityCloud", "securePrice"):
        assert f"\n    {field}\n" in runpod.QUERY
    for field in ("communityPrice", "secureSpotPrice", "communitySpotPrice", "stockStatus"):
        assert f"{field}\n" in runpod.QUERY
    assert "lowestPrice(input: { gpuCount: 1 })" in runpod.QUERY


def test_runpod_graphql_errors_on_http_200_raise_with_their_messages(
    httpserver: LocalHTTPServer,
) -> None:
    reply(
        httpserver,
        "/graphql",
        json={"errors": [{"message": 'Cannot query field "gpuTypes"'}], "data": None},
    )
    with pytest.raises(runpod.RunPodError, match='GraphQL errors: Cannot query field "gpuTypes"'):
        runpod.fetch(base_url=httpserver.url_for("/graphql"), sleep=dont_sleep)


def test_runpod_graphql_errors_raise_even_next_to_data() -> None:
    payload = runpod_reply(runpod_gpu()) | {"errors": [{"message": "partial outage"}]}
    with pytest.raises(runpod.RunPodError, match="partial outage"):
        runpod.parse(payload)


def test_runpod_renamed_gpu_types_field_raises_naming_the_field() -> None:
    with pytest.raises(runpod.RunPodError, match=r"`data.gpuTypes` must be a list, got None"):
        runpod.parse({"data": {"gpu_types": [runpod_gpu()]}})


def test_runpod_bare_list_without_the_graphql_envelope_raises() -> None:
    with pytest.raises(runpod.RunPodError, match="must be a JSON object"):
        runpod.parse([runpod_gpu()])


def test_runpod_null_data_raises_naming_the_field() -> None:
    with pytest.raises(runpod.RunPodError, match=r"`data` must be an object, got None"):
        runpod.parse({"data": None})


def test_runpod_empty_gpu_types_parse_to_no_offers() -> None:
    assert runpod.parse_report(runpod_reply()) == ([], [])


def test_runpod_malformed_rows_are_skipped_and_reported_while_the_others_parse() -> None:
    good = runpod_gpu(communityCloud=False, secureSpotPrice=None)
    rows: list[Any] = [
        {k: v for k, v in runpod_gpu(id="No Memory").items() if k != "memoryInGb"},
        runpod_gpu(id="String Price", securePrice="1.64"),
        runpod_gpu(id="Negative Price", communitySpotPrice=-0.6),
        runpod_gpu(id="Odd Flag", secureCloud="yes"),
        good,
        {"displayName": "no id"},
        "not an object",
    ]
    offers, skipped = runpod.parse_report(runpod_reply(*rows))
    assert offers == [runpod_offer("NVIDIA A100 80GB PCIe", "secure", "on_demand", "1.64")]
    assert skipped == [
        "gpuTypes[0]: No Memory: `memoryInGb` must be a positive number, got None",
        "gpuTypes[1]: String Price: `securePrice` must be a number >= 0, got '1.64'",
        "gpuTypes[2]: Negative Price: `communitySpotPrice` must be a number >= 0, got -0.6",
        "gpuTypes[3]: Odd Flag: `secureCloud` must be true or false, got 'yes'",
        "gpuTypes[5]: `id` must be a non-empty string, got None",
        "gpuTypes[6]: not an object: 'not an object'",
    ]
    assert runpod.parse(runpod_reply(*rows)) == offers


@pytest.mark.parametrize(
    ("lowest_price", "available"),
    [
        ({"stockStatus": "Low"}, True),
        ({"stockStatus": None}, None),
        ({"stockStatus": ""}, None),
        ({}, None),
        (None, None),
    ],
)
def test_runpod_availability_is_true_only_for_a_reported_stock_status(
    lowest_price: dict[str, Any] | None, available: bool | None
) -> None:
    row = runpod_gpu(communityCloud=False, secureSpotPrice=None, lowestPrice=lowest_price)
    [offer] = runpod.parse(runpod_reply(row))
    assert offer.available is available


# --- Vast.ai ----------------------------------------------------------------------------------


def test_vast_prices_each_gpu_by_dividing_the_offer_price_and_keeps_gpu_ram_as_memory() -> None:
    payload = {
        "offers": [
            vast_offer(),
            vast_offer(
                id=29990113,
                num_gpus=1,
                gpu_name="A100 SXM4",
                gpu_ram=40960,
                dph_total=0.76,
                geolocation=None,
                rented=None,
            ),
        ]
    }
    assert vast.parse(payload) == [
        FetchedOffer(
            provider="vast",
            key="30877120:on_demand",
            gpu_name="RTX 4090",
            gpu_count=8,
            memory_bytes_per_gpu=24564 * MIB,
            tier="on_demand",
            price_per_gpu_hour=Decimal("0.34625"),  # 2.77 / 8
            region="Taiwan, TW",
            available=True,
        ),
        FetchedOffer(
            provider="vast",
            key="29990113:on_demand",
            gpu_name="A100 SXM4",
            gpu_count=1,
            memory_bytes_per_gpu=40960 * MIB,
            tier="on_demand",
            price_per_gpu_hour=Decimal("0.76"),
            region="",
            available=None,
        ),
    ]


def test_vast_spot_tier_is_priced_from_min_bid_per_gpu() -> None:
    [offer] = vast.parse({"offers": [vast_offer()]}, tier="spot")
    assert (offer.key, offer.tier, offer.price_per_gpu_hour) == (
        "30877120:spot",
        "spot",
        Decimal("0.2"),
    )


def test_vast_spot_tier_skips_offers_without_a_positive_min_bid() -> None:
    payload = {
        "offers": [vast_offer(id=1, min_bid=None), vast_offer(id=2, min_bid=0), vast_offer()]
    }
    offers, skipped = vast.parse_report(payload, tier="spot")
    assert [o.key for o in offers] == ["30877120:spot"]
    assert skipped == [
        "offers[0]: 1: `min_bid` must be a positive number, got None",
        "offers[1]: 2: `min_bid` must be a positive number, got 0",
    ]


def test_vast_rented_offers_are_marked_unavailable() -> None:
    [offer] = vast.parse({"offers": [vast_offer(rented=True)]})
    assert offer.available is False


def test_vast_rejects_a_tier_it_does_not_price() -> None:
    with pytest.raises(ValueError, match="tier must be one of"):
        vast.parse({"offers": []}, tier="community")


def test_vast_fetch_searches_on_demand_then_bid_and_waits_between_them(
    httpserver: LocalHTTPServer,
) -> None:
    reply(httpserver, "/api/v0/bundles/", json={"offers": [vast_offer()]})
    reply(httpserver, "/api/v0/bundles/", json={"offers": [vast_offer(id=7, min_bid=0.8)]})
    sleeps: list[float] = []
    requests_seen_at_sleep: list[int] = []

    def sleep(seconds: float) -> None:
        requests_seen_at_sleep.append(len(received(httpserver)))
        sleeps.append(seconds)

    offers = vast.fetch(base_url=httpserver.url_for("/api/v0/bundles/"), sleep=sleep)

    assert [(o.key, o.price_per_gpu_hour) for o in offers] == [
        ("30877120:on_demand", Decimal("0.34625")),
        ("7:spot", Decimal("0.1")),
    ]
    assert sleeps == [6.5]
    assert requests_seen_at_sleep == [1]  # the wait falls between the two searches
    filters = {"rentable": {"eq": True}, "verified": {"eq": True}, "rented": {"eq": False}}
    bodies = [r.json for r in received(httpserver)]
    assert bodies == [
        {"type": "on-demand", **filters, "limit": 1000},
        {"type": "bid", **filters, "limit": 1000},
    ]
    assert all(r.method == "POST" for r in received(httpserver))


def test_vast_fetch_waits_the_given_min_interval(httpserver: LocalHTTPServer) -> None:
    reply(httpserver, "/api/v0/bundles/", json={"offers": []}, times=2)
    sleeps: list[float] = []
    vast.fetch(base_url=httpserver.url_for("/api/v0/bundles/"), sleep=sleeps.append, min_interval=9)
    assert sleeps == [9]


def test_vast_a_broken_first_reply_is_not_followed_by_a_second_search(
    httpserver: LocalHTTPServer,
) -> None:
    reply(httpserver, "/api/v0/bundles/", json={"results": []}, times=2)
    with pytest.raises(vast.VastError):
        vast.fetch(base_url=httpserver.url_for("/api/v0/bundles/"), sleep=dont_sleep)
    assert len(received(httpserver)) == 1


def test_vast_reply_without_offers_raises_naming_the_field() -> None:
    with pytest.raises(vast.VastError, match=r"`offers` must be a list, got None .*'results'"):
        vast.parse({"results": []})


def test_vast_empty_offers_parse_to_no_offers() -> None:
    assert vast.parse_report({"offers": []}) == ([], [])


def test_vast_malformed_offers_are_skipped_and_reported_while_the_others_parse() -> None:
    rows: list[Any] = [
        vast_offer(id=1, num_gpus=0),
        vast_offer(id=2, gpu_ram="24GB"),
        {k: v for k, v in vast_offer(id=3).items() if k != "dph_total"},
        vast_offer(id=4, gpu_name=None),
        vast_offer(id=5, dph_total=-1.0),
        vast_offer(id=6, geolocation=["TW"]),
        vast_offer(id=True),
        vast_offer(),
    ]
    offers, skipped = vast.parse_report({"offers": rows})
    assert [o.key for o in offers] == ["30877120:on_demand"]
    assert skipped == [
        "offers[0]: 1: `num_gpus` must be an integer >= 1, got 0",
        "offers[1]: 2: `gpu_ram` must be a positive number, got '24GB'",
        "offers[2]: 3: `dph_total` must be a positive number, got None",
        "offers[3]: 4: `gpu_name` must be a non-empty string, got None",
        "offers[4]: 5: `dph_total` must be a positive number, got -1.0",
        "offers[5]: 6: `geolocation` must be a string, got ['TW']",
        "offers[6]: `id` must be a number or string, got True",
    ]


# --- Azure ------------------------------------------------------------------------------------


def azure_offer(sku: str, tier: str, price: str, region: str = "eastus") -> FetchedOffer:
    gpu_name, count, gib = azure.GPU_SKUS[sku]
    return FetchedOffer(
        provider="azure",
        key=f"{sku}:{region}:{tier}",
        gpu_name=gpu_name,
        gpu_count=count,
        memory_bytes_per_gpu=gib * GIB,
        tier=tier,
        price_per_gpu_hour=Decimal(price),
        region=region,
    )


def test_azure_keeps_linux_pay_as_you_go_and_spot_and_skips_everything_else() -> None:
    # Skipped items are in another region, so that none can hide behind a cheaper kept price.
    west = {"armRegionName": "westus2"}
    page = azure_page(
        azure_item(),
        azure_item(
            skuName="NC24ads A100 v4 Spot", meterName="NC24ads A100 v4 Spot", retailPrice=0.7345
        ),
        azure_item(productName="Virtual Machines NCads A100 v4 Series Windows", **west),
        azure_item(skuName="NC24ads A100 v4 Low Priority", retailPrice=0.73, **west),
        azure_item(meterName="NC24ads A100 v4 Low Priority", retailPrice=0.72, **west),
        azure_item(currencyCode="EUR", retailPrice=3.1, **west),
        azure_item(type="DevTestConsumption", retailPrice=2.0, **west),
        azure_item(type="Reservation", retailPrice=19000.0, **west),
        azure_item(unitOfMeasure="1/Month", retailPrice=1.0, **west),
        azure_item(retailPrice=0, **west),
        azure_item(armSkuName="Standard_D4s_v5", retailPrice=0.192, **west),
        azure_item(
            armSkuName="Standard_ND96amsr_A100_v4",
            skuName="ND96amsr A100 v4",
            meterName="ND96amsr A100 v4",
            armRegionName="westeurope",
            retailPrice=32.77,
        ),
    )
    assert azure.parse_report(page) == (
        [
            azure_offer("Standard_NC24ads_A100_v4", "on_demand", "3.673"),
            azure_offer("Standard_NC24ads_A100_v4", "spot", "0.7345"),
            azure_offer("Standard_ND96amsr_A100_v4", "on_demand", "4.09625", "westeurope"),
        ],
        [],
    )


def test_azure_divides_the_vm_price_by_its_gpus_and_reports_memory_per_gpu() -> None:
    item = azure_item(armSkuName="Standard_NC80adis_H100_v5", retailPrice=13.96)
    [offer] = azure.parse(azure_page(item))
    assert (offer.gpu_name, offer.gpu_count) == ("H100 NVL", 2)
    assert offer.price_per_gpu_hour == Decimal("6.98")
    assert offer.memory_bytes_per_gpu == 94 * GIB


def test_azure_keeps_the_lowest_price_when_a_key_repeats() -> None:
    page = azure_page(
        azure_item(retailPrice=3.9), azure_item(retailPrice=3.673), azure_item(retailPrice=4.1)
    )
    assert azure.parse(page) == [azure_offer("Standard_NC24ads_A100_v4", "on_demand", "3.673")]


def test_azure_filter_selects_consumption_prices_of_every_gpu_size() -> None:
    text = azure.price_filter()
    assert text.startswith("serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and (")
    assert text.count("armSkuName eq '") == len(azure.GPU_SKUS) == 15
    for sku in azure.GPU_SKUS:
        assert f"armSkuName eq '{sku}'" in text


def test_azure_fetch_follows_next_page_link_across_pages(httpserver: LocalHTTPServer) -> None:
    path = "/api/retail/prices"
    next_link = httpserver.url_for(path) + "?$filter=same&$skip=100"
    reply(httpserver, path, json=azure_page(azure_item(retailPrice=3.9), next_link=next_link))
    spot = azure_item(skuName="NC24ads A100 v4 Spot", retailPrice=0.7345)
    reply(httpserver, path, json=azure_page(azure_item(), spot))

    offers = azure.fetch(base_url=httpserver.url_for(path), sleep=dont_sleep)

    assert offers == [
        azure_offer("Standard_NC24ads_A100_v4", "on_demand", "3.673"),  # page 2 undercut page 1
        azure_offer("Standard_NC24ads_A100_v4", "spot", "0.7345"),
    ]
    first, second = received(httpserver)
    assert first.method == "GET"
    assert first.args.to_dict(flat=False) == {"$filter": [azure.price_filter()]}
    assert second.args.to_dict(flat=False) == {"$filter": ["same"], "$skip": ["100"]}


def test_azure_fetch_stops_after_max_pages_and_warns(
    httpserver: LocalHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    path = "/api/retail/prices"
    link = httpserver.url_for(path) + "?$skip=100"
    reply(httpserver, path, json=azure_page(azure_item(), next_link=link), times=3)
    with caplog.at_level(logging.WARNING, logger="cloudprices.clients.azure"):
        offers = azure.fetch(base_url=httpserver.url_for(path), sleep=dont_sleep, max_pages=2)
    assert len(offers) == 1
    assert len(received(httpserver)) == 2
    assert "stopped after 2 pages" in caplog.text


def test_azure_page_without_items_raises_naming_the_field() -> None:
    page = azure_page()
    del page["Items"]
    with pytest.raises(azure.AzureError, match=r"`Items` must be a list, got None"):
        azure.parse(page)


def test_azure_next_page_link_that_is_not_a_url_raises(httpserver: LocalHTTPServer) -> None:
    reply(httpserver, "/api/retail/prices", json=azure_page(next_link=42))
    with pytest.raises(azure.AzureError, match="`NextPageLink` must be a URL or null, got 42"):
        azure.fetch(base_url=httpserver.url_for("/api/retail/prices"), sleep=dont_sleep)


def test_azure_empty_items_parse_to_no_offers() -> None:
    assert azure.parse_report(azure_page()) == ([], [])


def test_azure_malformed_items_are_skipped_and_reported_while_the_others_parse() -> None:
    page = azure_page(
        azure_item(retailPrice="3.673"),
        {k: v for k, v in azure_item().items() if k != "armRegionName"},
        azure_item(retailPrice=-1.0),
        azure_item(skuName=None),
        azure_item(),
    )
    offers, skipped = azure.parse_report(page)
    assert offers == [azure_offer("Standard_NC24ads_A100_v4", "on_demand", "3.673")]
    assert skipped == [
        "Items[0]: Standard_NC24ads_A100_v4: `retailPrice` must be a number, got '3.673'",
        "Items[1]: `armRegionName` must be a string, got None",
        "Items[2]: Standard_NC24ads_A100_v4: `retailPrice` is negative: -1.0",
        "Items[3]: `skuName` must be a string, got None",
    ]


# --- the bundled snapshot ---------------------------------------------------------------------


def test_runpod_snapshot_parses_every_gpu_type_into_101_offers() -> None:
    offers, skipped = runpod.parse_report(snapshot("runpod.json"))
    assert skipped == []
    assert len(offers) == 101
    assert len({o.key for o in offers}) == 101
    assert len({o.gpu_name for o in offers}) == 37  # 38 recorded types less "unknown"
    assert Counter(o.tier for o in offers) == {"spot": 47, "community": 31, "on_demand": 23}
    by_key = {o.key: o for o in offers}
    assert by_key["NVIDIA H100 80GB HBM3:secure"].price_per_gpu_hour == Decimal("2.99")
    assert by_key["AMD Instinct MI300X OAM:secure"].memory_bytes_per_gpu == 192 * GIB
    assert "AMD Instinct MI300X OAM:community" not in by_key  # communityCloud is false
    assert all(o.available is None for o in offers)  # a snapshot cannot know today's stock


def test_vast_on_demand_snapshot_parses_into_69_offers_across_22_gpu_names() -> None:
    offers, skipped = vast.parse_report(snapshot("vast_on_demand.json"), tier="on_demand")
    assert skipped == []
    assert len(offers) == 69
    assert len({o.key for o in offers}) == 69
    assert len({o.gpu_name for o in offers}) == 22
    by_key = {o.key: o for o in offers}
    assert by_key["30877120:on_demand"].price_per_gpu_hour == Decimal("0.34625")  # 8x RTX 4090
    assert by_key["29496002:on_demand"].price_per_gpu_hour == Decimal("0.284")  # RTX 5090
    assert all(Decimal("0.05") < o.price_per_gpu_hour < Decimal("5") for o in offers)


def test_vast_bid_snapshot_parses_into_the_2_recorded_spot_offers() -> None:
    offers, skipped = vast.parse_report(snapshot("vast_bid.json"), tier="spot")
    assert skipped == []
    assert [(o.key, o.price_per_gpu_hour) for o in offers] == [
        ("29496002:spot", Decimal("0.28")),
        ("29332107:spot", Decimal("0.307")),
    ]


def test_an_azure_retail_prices_page_parses_into_11_east_us_pay_as_you_go_offers() -> None:
    # Test data in the API's format; the bundled snapshot has no Azure prices (see its README).
    page = Path(__file__).parent / "data" / "azure_page.json"
    offers, skipped = azure.parse_report(jsonlib.loads(page.read_text()))
    assert skipped == []
    assert len(offers) == 11
    assert {(o.region, o.tier) for o in offers} == {("eastus", "on_demand")}
    by_key = {o.key: o for o in offers}
    assert by_key["Standard_ND96isr_H100_v5:eastus:on_demand"].price_per_gpu_hour == Decimal(
        "12.29"
    )
    assert by_key["Standard_NC4as_T4_v3:eastus:on_demand"].price_per_gpu_hour == Decimal("0.526")
