"""The `estimate` command and /api/v1/estimate: same JSON, clear errors, never a 500."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tests.estimator.test_inventory import LLAMA_31_8B

FIELDS = {
    "params",
    "weights_bytes",
    "file_bytes",
    "bits_per_weight",
    "tensor_type_bytes",
    "kv_cache_bytes",
    "kv_full_bytes",
    "kv_swa_bytes",
    "recurrent_state_bytes",
    "compute_buffer_bytes",
    "output_buffer_bytes",
    "total_bytes",
    "exact",
}


def run(*args: str) -> str:
    out = StringIO()
    call_command("estimate", *args, stdout=out)
    return out.getvalue()


def test_estimate_from_a_config_file_prints_json_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(LLAMA_31_8B))
    report = json.loads(run("--config", str(path), "--ctx", "8192", "--json"))
    assert set(report) >= FIELDS
    assert report["params"] == 8_030_261_248
    assert report["weights_bytes"] == 4_912_898_048
    assert report["kv_cache_bytes"] == 1024 << 20
    assert report["total_bytes"] == (
        report["weights_bytes"]
        + report["kv_cache_bytes"]
        + report["compute_buffer_bytes"]
        + report["output_buffer_bytes"]
    )


@pytest.mark.django_db
def test_estimate_for_a_catalog_model_prints_a_table() -> None:
    text = run("--model", "llama-3-1-8b-instruct", "--quant", "Q8_0", "--kv", "q8_0")
    assert "8,030,261,248" in text
    assert "8.50 bits/weight" in text
    assert "KV cache" in text and "544.00 MiB" not in text  # 4096 context: 272 MiB
    assert "272.00 MiB" in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope"], "no catalog model with slug 'nope'"),
        (["--model", "llama-3-1-8b-instruct", "--ctx", "0"], "--ctx must be between"),
        (
            ["--model", "llama-3-1-8b-instruct", "--kv-v", "q8_0", "--flash-attn", "off"],
            "needs flash attention",
        ),
    ],
)
def test_estimate_command_errors_are_clear(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_a_config_that_is_not_json_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(CommandError, match="cannot read"):
        run("--config", str(path))


@pytest.mark.django_db
def test_get_estimate_for_a_catalog_model(client: Client) -> None:
    response = client.get("/api/v1/estimate?model=llama-3-1-8b-instruct&ctx=8192&kv=q8_0")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= FIELDS
    assert body["model"] == "llama-3-1-8b-instruct"
    assert body["kv_cache_bytes"] == 544 << 20


@pytest.mark.django_db
def test_post_estimate_for_any_config(client: Client) -> None:
    response = client.post(
        "/api/v1/estimate",
        data=json.dumps({"config": LLAMA_31_8B, "quant": "Q8_0", "ctx": 4096}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["weights_bytes"] == 8_532_934_656


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/estimate?model=llama-3-1-8b-instruct&ctx=0", "ctx"),
        ("/api/v1/estimate?model=llama-3-1-8b-instruct&quant=Q9", "quant"),
        ("/api/v1/estimate?model=llama-3-1-8b-instruct&users=100000", "users"),
        ("/api/v1/estimate?model=llama-3-1-8b-instruct&kv=q8_0&fa=false", "kv"),
        ("/api/v1/estimate?ctx=4096", "model"),
    ],
)
def test_bad_estimate_parameters_are_400_naming_the_parameter(
    client: Client, url: str, field: str
) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert response.json()["error"].startswith(field)


def test_post_with_a_bad_config_is_a_400(client: Client) -> None:
    response = client.post(
        "/api/v1/estimate",
        data=json.dumps({"config": {"model_type": "llama", "hidden_size": "big"}}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("config: hidden_size must be an integer")


HARDWARE_FIELDS = {
    "fits",
    "grade",
    "headroom_bytes",
    "max_context",
    "gpu_layers",
    "decode_tokens_per_s",
    "prefill_tokens_per_s",
    "aggregate_tokens_per_s",
    "per_user_tokens_per_s",
    "ttft_s",
    "tokens_per_s_low",
    "tokens_per_s_high",
}


@pytest.mark.django_db
def test_estimate_command_with_a_catalog_gpu_adds_fit_and_speed() -> None:
    report = json.loads(
        run("--model", "llama-3-1-8b-instruct", "--gpu", "rtx-4090", "--ctx", "8192", "--json")
    )
    assert set(report) >= HARDWARE_FIELDS
    assert report["fits"] is True and report["grade"] == "A"
    text = run("--model", "llama-3-1-8b-instruct", "--gpu", "rtx-4090", "--runtime", "vllm")
    assert "vLLM KV tokens" in text


def test_estimate_command_with_explicit_figures(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(LLAMA_31_8B))
    args = ("--config", str(path), "--memory-gb", "16", "--bandwidth-gbps", "400", "--json")
    report = json.loads(run(*args, "--vendor", "apple"))
    # macOS's default wired share of 16 GiB, less llama.cpp's 1 GiB --fit margin
    assert report["usable_bytes"] == int(16 * (1 << 30) * 2 / 3) - (1 << 30)
    with pytest.raises(CommandError, match="--memory-gb needs --bandwidth-gbps"):
        run("--config", str(path), "--memory-gb", "16")


@pytest.mark.django_db
def test_get_estimate_with_a_gpu_and_users(client: Client) -> None:
    url = "/api/v1/estimate?model=qwen3-30b-a3b&gpu=h100-sxm&users=8&ctx=32768&runtime=vllm"
    body = client.get(url).json()
    assert set(body) >= HARDWARE_FIELDS
    assert body["batch"] == 8
    assert body["aggregate_tokens_per_s"] > body["per_user_tokens_per_s"]
    assert body["vllm_kv_tokens"] > 0


@pytest.mark.django_db
def test_unknown_gpu_is_a_400_naming_gpu(client: Client) -> None:
    response = client.get("/api/v1/estimate?model=llama-3-1-8b-instruct&gpu=tpu-v9")
    assert response.status_code == 400
    assert response.json()["error"] == "gpu: no catalog hardware with slug 'tpu-v9'"


def test_the_openapi_document_describes_every_field_of_the_estimate(client: Client) -> None:
    from estimator.report import FIELDS, MemoryReport

    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    out = schema["EstimateOut"]
    extra = {"model", "recommended_quant", "recommendation", "finetune"}
    assert set(out["properties"]) == {*FIELDS, *extra}
    assert all(p.get("description") for p in out["properties"].values())
    assert out["required"] == [f for f in FIELDS if f in MemoryReport.__dataclass_fields__]


def test_the_openapi_bounds_of_the_options_are_the_estimators_limits(client: Client) -> None:
    from estimator import limits

    document = client.get("/api/v1/openapi.json").json()
    parameters = {p["name"]: p["schema"] for p in document["paths"]["/api/v1/estimate"]["get"][
        "parameters"
    ]}  # fmt: skip
    for name, bounds in (("ctx", limits.CONTEXT), ("users", limits.PARALLEL),
                         ("ubatch", limits.UBATCH), ("depth", limits.DEPTH),
                         ("gpu_count", limits.GPU_COUNT)):  # fmt: skip
        assert (parameters[name]["minimum"], parameters[name]["maximum"]) == (
            bounds.low, bounds.high,
        ), name  # fmt: skip
    assert parameters["quant"]["enum"] == list(limits.QUANTS)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "config: Dictionary should have at least 1 item"),
        (LLAMA_31_8B | {"num_hidden_layers": 1_000_000}, "config: 1,000,000 layers is more than"),
        (
            LLAMA_31_8B | {"num_local_experts": 8, "num_experts_per_tok": 9},
            "config: num_experts_per_tok must be 1 to 8 (the experts), not 9",
        ),
        (LLAMA_31_8B | {"hidden_size": 1}, "config: hidden_size 1 over 32 attention heads"),
    ],
)
def test_post_refuses_configs_that_would_stall_or_break_an_estimate(
    client: Client, config: dict[str, object], message: str
) -> None:
    response = client.post(
        "/api/v1/estimate", data=json.dumps({"config": config}), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


@pytest.mark.django_db
def test_post_estimates_are_limited_per_network(client: Client, settings: object) -> None:
    from django.core.cache import cache

    cache.clear()  # counts from an earlier run in this hour
    settings.ESTIMATE_API_RATE_LIMIT = 2  # type: ignore[attr-defined]
    body = json.dumps({"config": LLAMA_31_8B})
    address = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(2):
        ok = client.post("/api/v1/estimate", data=body, content_type="application/json", **address)
        assert ok.status_code == 200
    limited = client.post(
        "/api/v1/estimate", data=body, content_type="application/json",
        REMOTE_ADDR="203.0.113.99",  # the same /24
    )  # fmt: skip
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["error"].startswith("Too many estimates from your address: at most 2")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ctx": True}, "ctx: Input should be a valid integer"),
        ({"ctx": "128"}, "ctx: Input should be a valid integer"),
        ({"fa": 1}, "fa: Input should be a valid boolean"),
        ({"users": 2.0}, "users: Input should be a valid integer"),
    ],
)
def test_a_json_body_takes_json_types_only(
    client: Client, options: dict[str, object], message: str
) -> None:
    body = json.dumps({"config": LLAMA_31_8B, **options})
    response = client.post("/api/v1/estimate", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == message
