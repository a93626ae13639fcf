"""The cheapest way to serve a model at a speed target (GET /api/v1/serve/ and the prices page's
form), end to end on offers stored in PostgreSQL.

Speeds come from the estimator, whose speed model moves: these tests check the ranking, the
fields, the cost arithmetic from the returned speed, and the user counts that come from memory
(estimator.serving.users_that_fit), never a tokens/s figure."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from catalog.models import Hardware, Model, Revision
from catalog.snapshot import engine, snapshot
from cloudprices.models import GpuName, Offer
from estimator.devices import device_class, from_hardware
from estimator.memory import MemoryOptions
from estimator.serving import Target, serve, users_that_fit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]

SERVE = "/api/v1/serve/"
MODEL = "llama-3-1-8b-instruct"


def store(
    slug: str,
    gpus: int,
    price: str,
    *,
    tier: str = "on_demand",
    provider: str = "runpod",
    fetched_at: datetime | None = None,
) -> Offer:
    hw = Hardware.objects.get(slug=slug)
    name, _ = GpuName.objects.get_or_create(
        provider=provider, name=hw.name, memory_bytes_per_gpu=hw.memory_bytes,
        defaults={"hardware": hw},
    )  # fmt: skip
    return Offer.objects.create(
        provider=provider, key=f"{slug}:{gpus}:{tier}:{price}", gpu_name=name, hardware=hw,
        gpu_count=gpus, tier=tier, price_per_gpu_hour=Decimal(price), region="US",
        fetched_at=fetched_at or timezone.now(),
    )  # fmt: skip


@pytest.fixture
def offers() -> dict[str, Offer]:
    """Only these offers: RunPod and Vast.ai, no Azure; one of them three hours old."""
    Offer.objects.all().delete()
    stored = {
        "4090": store("rtx-4090", 1, "0.69"),
        "4090-spot": store("rtx-4090", 1, "0.34", tier="spot", provider="vast"),
        "3090x2": store("rtx-3090", 2, "0.22", tier="community", provider="vast"),
        "3090x4": store("rtx-3090", 4, "0.25", tier="community", provider="vast"),
        "h100": store("h100-sxm", 1, "2.69"),
        "h100x4": store("h100-sxm", 4, "2.49"),
        "a100-stale": store(
            "a100-80gb-sxm", 1, "1.19", fetched_at=timezone.now() - timedelta(hours=3)
        ),
    }
    Revision.bump(Revision.PRICES)  # as a refresh that stored prices does
    return stored


def get(client: Client, **params: Any) -> dict[str, Any]:
    response = client.get(SERVE, {"model": MODEL, **params})
    assert response.status_code == 200, response.content
    data: dict[str, Any] = response.json()
    return data


def expected(slug: str, gpus: int, target: Target, *, users: int, ctx: int, runtime: str) -> Any:
    """What estimator.serving says for one offer, on the device as the answer builds it."""
    snap, _ = snapshot()
    hw = Hardware.objects.get(slug=slug)
    factor = snap.calibration.by_class(engine(runtime)).get(device_class(hw.vendor, hw.kind), 1.0)
    device = from_hardware(hw, gpus, factor)
    config = Model.objects.get(slug=MODEL).estimator_config
    opts = MemoryOptions("Q4_K_M", n_ctx=ctx)
    fit = users_that_fit(config, opts, device, ctx, runtime)
    return fit, serve(config, opts, device, target, ctx=ctx, runtime=runtime)


def test_offers_are_ranked_by_cost_per_million_output_tokens_from_their_own_speed(
    client: Client, offers: dict[str, Offer]
) -> None:
    data = get(client, users=4, per_user_tps=5, ctx=8192)
    assert data["model"] == MODEL and data["quant"] == "Q4_K_M" and data["ctx"] == 8192
    assert data["target"] == {"per_user_tps": 5.0, "ttft_s": None, "prompt_tokens": 1024}
    rows = data["offers"]
    assert data["count"] == len(rows) == 7 and data["reason"] == ""  # every offer serves 4
    costs = [r["cost_per_million_tokens"] for r in rows]
    assert costs == sorted(costs)
    for r in rows:
        price = Decimal(r["price_per_hour"])
        assert r["users_served"] >= 4
        # cost = price / (speed x 3600) x 10^6, given to 4 decimals from a speed given to 2
        speed = r["aggregate_tokens_per_s"]
        low, high = (float(price) / ((speed + d) * 3600) * 1e6 for d in (0.005, -0.005))
        assert low - 5e-5 <= r["cost_per_million_tokens"] <= high + 5e-5
        assert r["aggregate_tokens_per_s"] == pytest.approx(4 * r["per_user_tokens_per_s"], 1e-3)
        assert r["per_user_tokens_per_s"] >= 5
    by_key = {(r["hardware"]["slug"], r["gpu_count"], r["tier"]): r for r in rows}
    assert Decimal(by_key["h100-sxm", 4, "on_demand"]["price_per_hour"]) == Decimal("9.96")
    assert Decimal(by_key["rtx-3090", 2, "community"]["price_per_hour"]) == Decimal("0.44")
    spot = by_key["rtx-4090", 1, "spot"]
    assert spot["provider"] == "vast" and spot["hardware"]["name"] == "NVIDIA GeForce RTX 4090"
    # The same GPU at twice the price costs twice as much per token.
    on_demand = by_key["rtx-4090", 1, "on_demand"]
    assert on_demand["cost_per_million_tokens"] == pytest.approx(
        spot["cost_per_million_tokens"] * 0.69 / 0.34, rel=1e-3, abs=2e-4
    )


def test_users_served_is_what_memory_and_the_target_allow_on_each_offer(
    client: Client, offers: dict[str, Offer]
) -> None:
    rows = get(client, users=2, per_user_tps=1, ctx=8192)["offers"]
    target = Target(1.0, None, 1024)
    for r in rows:
        fit, serving = expected(
            r["hardware"]["slug"], r["gpu_count"], target, users=2, ctx=8192, runtime="llama.cpp"
        )
        assert r["users_served"] == serving.at_target.users
        if serving.limit == "memory":
            assert r["users_served"] == fit
    # An RTX 4090 (24 GiB) holds 16 slots of 8,192 tokens beside the 8B model's 4.6 GiB.
    fit, _ = expected("rtx-4090", 1, target, users=2, ctx=8192, runtime="llama.cpp")
    served = {r["users_served"] for r in rows if r["hardware"]["slug"] == "rtx-4090"}
    assert served == {fit}


def test_the_tier_filter_keeps_one_tier(client: Client, offers: dict[str, Offer]) -> None:
    rows = get(client, tier="community")["offers"]
    assert [(r["hardware"]["slug"], r["gpu_count"], r["tier"]) for r in rows] == [
        ("rtx-3090", 2, "community"),
        ("rtx-3090", 4, "community"),
    ]  # 2 GPUs at $0.44/h serve one user for less than 4 at $1.00/h


def test_stale_offers_stay_in_the_ranking_flagged(client: Client, offers: dict[str, Offer]) -> None:
    rows = get(client)["offers"]
    stale = {r["hardware"]["slug"] for r in rows if r["stale"]}
    assert stale == {"a100-80gb-sxm"}
    a100 = next(r for r in rows if r["hardware"]["slug"] == "a100-80gb-sxm")
    fetched = offers["a100-stale"].fetched_at
    shown = datetime.fromisoformat(a100["fetched_at"])  # JSON keeps milliseconds
    assert shown == fetched.replace(microsecond=fetched.microsecond // 1000 * 1000)


def test_a_provider_without_offers_is_absent_and_a_cheaper_provider_wins_its_group(
    client: Client, offers: dict[str, Offer]
) -> None:
    store("rtx-4090", 1, "0.59", provider="vast")  # cheaper than RunPod's on-demand 4090
    Revision.bump(Revision.PRICES)
    rows = get(client)["offers"]
    assert {r["provider"] for r in rows} == {"runpod", "vast"}  # no Azure offers stored
    shown = [
        (r["provider"], r["price_per_hour"])
        for r in rows
        if r["hardware"]["slug"] == "rtx-4090" and r["tier"] == "on_demand"
    ]
    assert shown == [("vast", "0.5900")]
    Offer.objects.filter(provider="vast").delete()
    Revision.bump(Revision.PRICES)
    assert {r["provider"] for r in get(client)["offers"]} == {"runpod"}


def test_a_model_too_big_for_every_offer_gives_no_offers_and_says_why(
    client: Client, offers: dict[str, Offer]
) -> None:
    data = get(client, model="deepseek-r1")  # 671B: ~377 GiB at Q4_K_M, over 4 x 80 GB
    assert data["offers"] == [] and data["count"] == 0
    assert data["reason"] == (
        "The model does not fit on any current offer of 1-8 GPUs with one user of 8,192 tokens."
    )


def test_more_users_than_any_offer_holds_says_the_most_any_holds(
    client: Client, offers: dict[str, Offer]
) -> None:
    data = get(client, users=1024, per_user_tps=0.1)
    fit, _ = expected("h100-sxm", 4, Target(0.1, None, 1024), users=1024, ctx=8192,
                      runtime="llama.cpp")  # fmt: skip
    assert data["offers"] == []
    assert data["reason"] == (
        f"No current offer of 1-8 GPUs holds 1,024 users of 8,192 tokens: the most any holds "
        f"is {fit:,}."
    )


def test_no_offer_meeting_the_speed_says_so(client: Client, offers: dict[str, Offer]) -> None:
    data = get(client, per_user_tps=1000)
    assert data["offers"] == []
    assert data["reason"] == (
        "Offers hold 1 user of 8,192 tokens, but none serves them all at 1000 tokens/s per "
        "user: none serves even one."
    )


def test_an_empty_tier_says_there_are_no_offers(client: Client, offers: dict[str, Offer]) -> None:
    Offer.objects.filter(tier="spot").delete()
    Revision.bump(Revision.PRICES)
    data = get(client, tier="spot")
    assert data["offers"] == []
    assert data["reason"] == "No current offers in the Spot (interruptible) tier."


def test_a_70b_model_needs_several_gpus_split_by_layers(
    client: Client, offers: dict[str, Offer]
) -> None:
    rows = get(client, model="llama-3-3-70b-instruct", ctx=4096)["offers"]  # ~40 GiB of weights
    shapes = {(r["hardware"]["slug"], r["gpu_count"]) for r in rows}
    assert ("rtx-4090", 1) not in shapes  # 24 GiB
    assert {("rtx-3090", 2), ("rtx-3090", 4), ("h100-sxm", 4), ("a100-80gb-sxm", 1)} <= shapes
    two = next(r for r in rows if r["hardware"]["slug"] == "rtx-3090" and r["gpu_count"] == 2)
    assert two["assumption"] == (
        "llama.cpp, layers split over 2 GPUs, 1 parallel slot of 4,096 tokens; speed at "
        "half-full context; one prompt at a time"
    )


def test_vllm_serves_the_users_its_paged_cache_holds(
    client: Client, offers: dict[str, Offer]
) -> None:
    llama = {(r["hardware"]["slug"], r["gpu_count"], r["tier"]): r for r in get(client)["offers"]}
    data = get(client, runtime="vllm")
    assert data["runtime"] == "vllm"
    vllm = {(r["hardware"]["slug"], r["gpu_count"], r["tier"]): r for r in data["offers"]}
    h100 = vllm["h100-sxm", 4, "on_demand"]
    assert h100["assumption"] == (
        "vLLM, tensors split over 4 GPUs, paged KV cache holding 1 request of 8,192 tokens; "
        "speed at half-full context; one prompt at a time"
    )
    fit, serving = expected("h100-sxm", 4, Target(10.0, None, 1024), users=1, ctx=8192,
                            runtime="vllm")  # fmt: skip
    assert h100["users_served"] == serving.at_target.users
    assert serving.limit != "memory" or h100["users_served"] == fit
    assert h100["users_served"] != llama["h100-sxm", 4, "on_demand"]["users_served"]


def test_a_time_to_first_token_target_is_checked_for_the_stated_prompt(
    client: Client, offers: dict[str, Offer]
) -> None:
    relaxed = get(client, ttft_s=600, prompt_tokens=4096)
    assert relaxed["target"] == {"per_user_tps": 10.0, "ttft_s": 600.0, "prompt_tokens": 4096}
    for r in relaxed["offers"]:
        assert r["ttft_s"] is not None and r["ttft_s"] <= 600
    strict = get(client, ttft_s=0.05, prompt_tokens=8192)
    kept = {r["hardware"]["slug"] for r in strict["offers"]}
    assert all(r["ttft_s"] <= 0.05 for r in strict["offers"])
    assert kept < {r["hardware"]["slug"] for r in relaxed["offers"]} or not strict["offers"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "model"),
        ("model=no-such-model", "model"),
        ("model=Bad%20Slug", "model"),
        ("model=" + "a" * 121, "model"),
        (f"model={MODEL}&quant=Q9_X", "quant"),
        (f"model={MODEL}&quant=MXFP4_MOE", "quant"),  # MoE models only
        (f"model={MODEL}&ctx=255", "ctx"),
        (f"model={MODEL}&ctx=131073", "ctx"),  # over the model's context
        (f"model={MODEL}&ctx=1e9", "ctx"),
        (f"model={MODEL}&users=0", "users"),
        (f"model={MODEL}&users=1025", "users"),
        (f"model={MODEL}&users=-1", "users"),
        (f"model={MODEL}&users=99999999999999999999", "users"),
        (f"model={MODEL}&per_user_tps=0", "per_user_tps"),
        (f"model={MODEL}&per_user_tps=0.09", "per_user_tps"),
        (f"model={MODEL}&per_user_tps=1000.5", "per_user_tps"),
        (f"model={MODEL}&per_user_tps=nan", "per_user_tps"),
        (f"model={MODEL}&per_user_tps=inf", "per_user_tps"),
        (f"model={MODEL}&per_user_tps=-Infinity", "per_user_tps"),
        (f"model={MODEL}&per_user_tps=1e400", "per_user_tps"),
        (f"model={MODEL}&ttft_s=0.01", "ttft_s"),
        (f"model={MODEL}&ttft_s=601", "ttft_s"),
        (f"model={MODEL}&ttft_s=NaN", "ttft_s"),
        (f"model={MODEL}&prompt_tokens=0", "prompt_tokens"),
        (f"model={MODEL}&prompt_tokens=8193", "prompt_tokens"),  # over ctx (default 8,192)
        (f"model={MODEL}&ctx=4096&prompt_tokens=5000", "prompt_tokens"),
        (f"model={MODEL}&runtime=sglang", "runtime"),
        (f"model={MODEL}&tier=gold", "tier"),
        (f"model={MODEL}&tier=", "tier"),
        (f"model={MODEL}&limit=0", "limit"),
        (f"model={MODEL}&limit=201", "limit"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(client: Client, query: str, field: str) -> None:
    response = client.get(f"{SERVE}?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"].startswith(f"{field}: ")
    assert body["detail"][0]["field"] == field


def test_a_nul_byte_is_a_400_in_json(client: Client) -> None:
    response = client.get(f"{SERVE}?model={MODEL}%00")
    assert response.status_code == 400
    assert response.json()["error"] == "The query string contains a NUL character (%00)."


def test_the_openapi_document_states_the_bounds(client: Client) -> None:
    params = {
        p["name"]: p["schema"]
        for p in client.get("/api/v1/openapi.json").json()["paths"][SERVE]["get"]["parameters"]
    }
    assert (params["users"]["minimum"], params["users"]["maximum"]) == (1, 1024)
    assert (params["per_user_tps"]["minimum"], params["per_user_tps"]["maximum"]) == (0.1, 1000)
    assert (params["ttft_s"]["anyOf"][0]["minimum"], params["ttft_s"]["anyOf"][0]["maximum"]) == (
        0.05,
        600,
    )


def rows_of(html: str) -> list[str]:
    table = html[html.index('id="serve-table"') :].split("</table>")[0]
    return re.findall(r"<tr>.*?</tr>", table, re.S)[1:]  # after the header


def test_the_prices_page_answers_the_serve_form_without_javascript(
    client: Client, offers: dict[str, Offer]
) -> None:
    api = get(client, users=4, tier="on_demand")
    html = client.get(
        "/gpus/prices/", {"model": MODEL, "users": 4, "serve_tier": "on_demand"}
    ).content.decode()
    rows = rows_of(html)
    assert len(rows) == len(api["offers"]) == 4
    for row, offer in zip(rows, api["offers"], strict=True):
        assert offer["hardware"]["name"] in row
        shown = float(re.findall(r"<strong>\$([\d.]+)</strong>", row)[0])
        assert shown == pytest.approx(offer["cost_per_million_tokens"], abs=0.0006)
    assert "llama.cpp, one GPU, 4 parallel slots of 8,192 tokens" in html
    assert "stale" in rows[[o["stale"] for o in api["offers"]].index(True)]
    assert '<option value="llama-3-1-8b-instruct" selected>' in html


def test_the_serve_form_corrects_bad_input_and_says_so(
    client: Client, offers: dict[str, Offer]
) -> None:
    response = client.get(
        "/gpus/prices/",
        {"model": MODEL, "users": "5000", "per_user_tps": "nan", "ctx": "999999999",
         "prompt_tokens": "9000", "serve_tier": "gold", "quant": "MXFP4_MOE"},
    )  # fmt: skip
    assert response.status_code == 200
    html = response.content.decode()
    box = html[html.index("Some serving inputs were corrected:") :].split("</ul>")[0]
    assert re.findall(r"<li>([^<]*)</li>", box) == [
        "Quant &#x27;MXFP4_MOE&#x27; is not one of the options; using Q4_K_M.",
        "Context per user (tokens) 999999999 is out of range (256 to 131072); using 131072.",
        "Users 5000 is out of range (1 to 1024); using 1024.",
        "Tokens/s per user must be a number; using 10.",
        "Tier &#x27;gold&#x27; is not one of the options; using Any tier.",
    ]


def test_an_unknown_model_on_the_prices_page_is_a_note_not_an_error(client: Client) -> None:
    response = client.get("/gpus/prices/", {"model": "no-such-model"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "No model &#x27;no-such-model&#x27; in the catalog; pick one." in html
    assert 'id="serve-table"' not in html
