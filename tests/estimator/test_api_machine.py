"""/api/v1/estimate with the machine around the GPU: system RAM, memory already in use, unified
memory, a CPU-only machine and a forced -ngl / --n-cpu-moe; the plan llama.cpp would run; the
rules every caller shares (estimator.machine_options)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from estimator import limits
from estimator.machine import RAM_PRESETS, Machine, machine_for
from estimator.machine_options import MachineOptionError, machine_from_options
from estimator.throughput import Device
from tests.estimator.test_inventory import LLAMA_31_8B

GIB = 1 << 30
GPT_OSS = "/api/v1/estimate?model=gpt-oss-120b&quant=MXFP4_MOE"
ON_4090 = GPT_OSS + "&gpu=rtx-4090"
RTX_4090 = Device(24 * GIB, 1008.0, 165.2, "nvidia", "consumer")
M2_ULTRA = Device(192 * GIB, 800.0, None, "apple", "apple")
RYZEN = Device(192 * GIB, 89.6, None, "cpu", "cpu")
# llama.cpp's CPU-only plan cannot be made yet: estimator/plan.py's _sizer evaluates
# machine.gpu_free() (which asserts a GPU) even for zero GPUs: `[machine.gpu_free()] * nd`.


def get(client: Client, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def post(client: Client, **fields: object) -> Any:
    return client.post("/api/v1/estimate", data=json.dumps(fields), content_type="application/json")


# The plan llama.cpp would run.


@pytest.mark.django_db
def test_gpt_oss_120b_on_a_4090_with_64_gib_of_ram_keeps_experts_in_ram(client: Client) -> None:
    body = get(client, ON_4090 + "&ram_gb=64&ram_bandwidth_gbps=96")
    plan = body["plan"]
    assert plan["fits"] is True and plan["forced"] is False
    assert (plan["ram_bytes"], plan["ram_bandwidth_gbps"]) == (64 * GIB, 96.0)
    assert plan["reserved_bytes"] == GIB  # a desktop card drives a screen
    assert (plan["ngl"], plan["ctx"]) == (37, 4096)  # 36 layers + the output layer
    assert 0 < plan["n_cpu_moe"] < 36
    assert plan["args"].startswith("-c 4096 -ngl 37 -ot ")
    [gpu] = plan["devices"]
    assert gpu["name"] == "CUDA0"
    assert gpu["free_bytes"] == 23 * GIB
    # --fit leaves its 1024 MiB margin free
    assert gpu["model_bytes"] + gpu["context_bytes"] + gpu["compute_bytes"] <= 22 * GIB
    assert gpu["model_bytes"] + plan["host_bytes"] >= body["weights_bytes"]
    assert plan["host_bytes"] <= 60 * GIB  # RAM less the 4 GiB the system keeps
    assert (plan["missing_vram_bytes"], plan["missing_ram_bytes"]) == (0, 0)
    assert body["fit_status"] == "offload"
    assert 10 <= body["decode_tokens_per_s"] < 100  # tens of tokens/s
    assert body["prefill_tokens_per_s"] > body["decode_tokens_per_s"]


@pytest.mark.django_db
def test_the_same_plan_with_32_gib_of_ram_does_not_fit_and_says_what_ram_is_missing(
    client: Client,
) -> None:
    body = get(client, ON_4090 + "&ram_gb=32&ram_bandwidth_gbps=96")
    plan = body["plan"]
    assert plan["fits"] is False
    assert plan["missing_vram_bytes"] == 0
    assert plan["missing_ram_bytes"] == plan["host_bytes"] - (32 - 4) * GIB > 0
    assert body["fit_status"] == "no" and body["grade"] == "F"
    assert body["decode_tokens_per_s"] is None and body["prefill_tokens_per_s"] is None


@pytest.mark.django_db
def test_a_forced_ngl_and_n_cpu_moe_are_the_plan(client: Client) -> None:
    auto = get(client, ON_4090)
    body = get(client, ON_4090 + "&ngl=10&n_cpu_moe=5")
    plan = body["plan"]
    assert plan["forced"] is True
    assert (plan["ngl"], plan["n_cpu_moe"]) == (10, 5)
    assert plan["args"].startswith("-c 4096 -ngl 10 -ot ")
    assert r"blk\.4\.ffn_(up|down|gate_up|gate)_(ch|)exps=CPU" in plan["args"]
    assert r"blk\.5\." not in plan["args"]
    # 27 of 36 layers whole in RAM are slower than llama.cpp's own choice
    assert body["decode_tokens_per_s"] < auto["decode_tokens_per_s"]


@pytest.mark.django_db
def test_without_machine_options_the_machine_is_the_default_one(client: Client) -> None:
    plan = get(client, ON_4090)["plan"]
    assert (plan["ram_bytes"], plan["ram_bandwidth_gbps"]) == (64 * GIB, 96.0)
    assert (plan["reserved_bytes"], plan["unified"]) == (GIB, False)
    assert "plan" not in get(client, GPT_OSS)  # no device: memory only, as before


@pytest.mark.django_db
def test_faster_ram_makes_the_experts_in_ram_faster(client: Client) -> None:
    slow = get(client, ON_4090 + "&ram_preset=ddr4-3200-2ch")
    fast = get(client, ON_4090 + "&ram_preset=ddr5-6000-12ch")
    assert slow["plan"]["ram_bandwidth_gbps"] == 51.2
    assert fast["plan"]["ram_bandwidth_gbps"] == 576.0
    assert fast["decode_tokens_per_s"] > slow["decode_tokens_per_s"]


@pytest.mark.django_db
def test_memory_in_use_on_the_gpu_is_taken_from_what_it_has_free(client: Client) -> None:
    plan = get(client, ON_4090 + "&reserved_gb=2.5")["plan"]
    assert plan["reserved_bytes"] == int(2.5 * GIB)
    assert plan["devices"][0]["free_bytes"] == 24 * GIB - int(2.5 * GIB)


@pytest.mark.django_db
def test_apple_ram_and_wired_limit(client: Client) -> None:
    plan = get(client, GPT_OSS + "&gpu=apple-m2-ultra&gpu_limit_gb=180")["plan"]
    assert plan["unified"] is True and plan["reserved_bytes"] == 0
    assert plan["ram_bytes"] == 192 * GIB and plan["ram_bandwidth_gbps"] == 800.0
    assert plan["devices"][0]["name"] == "MTL0"  # GGML_METAL_NAME + index
    assert plan["devices"][0]["free_bytes"] == 180 * GIB
    smaller = get(client, GPT_OSS + "&gpu=apple-m2-ultra&ram_gb=64")["plan"]
    assert smaller["ram_bytes"] == 64 * GIB
    assert smaller["devices"][0]["free_bytes"] == 48 * GIB  # macOS wires 3/4 above 36 GB


@pytest.mark.django_db
def test_a_unified_gpu_uses_the_system_ram(client: Client) -> None:
    plan = get(client, ON_4090 + "&unified=true&ram_gb=128")["plan"]
    assert plan["unified"] is True and plan["ram_bytes"] == 128 * GIB
    assert plan["devices"][0]["free_bytes"] == 124 * GIB  # less the system's 4 GiB
    assert plan["fits"] is True and plan["n_cpu_moe"] == 0


@pytest.mark.django_db
def test_a_unified_memory_pc_is_its_own_ram(client: Client) -> None:
    spark = get(client, GPT_OSS + "&gpu=nvidia-dgx-spark")["plan"]
    assert spark["unified"] is True and spark["reserved_bytes"] == 0
    assert (spark["ram_bytes"], spark["ram_bandwidth_gbps"]) == (128 * GIB, 273.0)
    assert spark["devices"][0]["free_bytes"] == 124 * GIB
    strix = "&gpu=amd-ryzen-ai-max-plus-395&ram_gb=64&gpu_limit_gb=48"
    plan = get(client, GPT_OSS + strix)["plan"]
    assert plan["ram_bytes"] == 64 * GIB
    assert plan["devices"][0]["free_bytes"] == 48 * GIB
    response = client.get(GPT_OSS + "&gpu=nvidia-dgx-spark&gpu_count=2")
    assert response.status_code == 400
    assert response.json()["error"] == "gpu_count: a unified-memory machine has one GPU, not 2"


@pytest.mark.django_db
def test_gpu_count_0_is_a_cpu_only_machine(client: Client) -> None:
    body = get(client, GPT_OSS + "&gpu_count=0&ram_gb=128&ram_preset=ddr5-6000-2ch")
    plan = body["plan"]
    assert plan["devices"] == []
    assert (plan["ram_bytes"], plan["ram_bandwidth_gbps"]) == (128 * GIB, 96.0)
    assert plan["fits"] is True and plan["host_bytes"] <= 124 * GIB
    assert 1 < body["decode_tokens_per_s"] < 30


@pytest.mark.django_db
def test_a_cpu_class_device_is_a_cpu_only_machine_with_its_own_ram(client: Client) -> None:
    plan = get(client, GPT_OSS + "&gpu=cpu-amd-ryzen-9-9950x")["plan"]
    assert plan["devices"] == []
    assert (plan["ram_bytes"], plan["ram_bandwidth_gbps"]) == (192 * GIB, 89.6)


@pytest.mark.django_db
def test_the_mmproj_option_is_accepted(client: Client) -> None:
    assert get(client, ON_4090 + "&mmproj=q8_0")["plan"]["fits"] is True


# Errors: a 400 whose message and detail name the field.

FINITE = "Input should be a finite number"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("&gpu=rtx-4090&ram_preset=ddr5-6000-2ch&ram_bandwidth_gbps=96",
         "ram_preset: give ram_preset or ram_bandwidth_gbps, not both"),
        ("&gpu=rtx-4090&ram_bandwidth_gbps=nan", f"ram_bandwidth_gbps: {FINITE}"),
        ("&gpu=rtx-4090&ram_bandwidth_gbps=inf", f"ram_bandwidth_gbps: {FINITE}"),
        ("&gpu=rtx-4090&ram_bandwidth_gbps=1e400", f"ram_bandwidth_gbps: {FINITE}"),
        ("&gpu=rtx-4090&ram_bandwidth_gbps=2000.5",
         "ram_bandwidth_gbps: Input should be less than or equal to 2000"),
        ("&gpu=rtx-4090&ram_gb=0", "ram_gb: Input should be greater than or equal to 1"),
        ("&gpu=rtx-4090&ram_gb=99999999999999999999999",
         "ram_gb: Input should be less than or equal to 6144"),
        ("&gpu=rtx-4090&ram_gb=64.5", "ram_gb: Input should be a valid integer"),
        ("&gpu=rtx-4090&reserved_gb=-0.5",
         "reserved_gb: Input should be greater than or equal to 0"),
        ("&gpu=rtx-4090&ngl=1026", "ngl: Input should be less than or equal to 1025"),
        ("&gpu=rtx-4090&n_cpu_moe=-1", "n_cpu_moe: Input should be greater than or equal to 0"),
        ("&gpu=rtx-4090&gpu_count=65", "gpu_count: Input should be less than or equal to 64"),
        ("&gpu=rtx-4090&ram_preset=ddr9", "ram_preset: Input should be 'ddr4-3200-2ch', "),
        ("&gpu=rtx-4090&mmproj=f32", "mmproj: Input should be 'none', 'f16' or 'q8_0'"),
        ("&ram_gb=64", "ram_gb: needs a GPU, or gpu_count 0 for a CPU-only machine"),
        ("&ngl=3", "ngl: needs a GPU, or gpu_count 0 for a CPU-only machine"),
        ("&gpu_count=0&reserved_gb=1", "reserved_gb: needs a GPU; this machine is CPU-only"),
        ("&gpu=rtx-4090&gpu_count=0&n_cpu_moe=3",
         "n_cpu_moe: needs a GPU; this machine is CPU-only"),
        ("&gpu=cpu-amd-ryzen-9-9950x&unified=true",
         "unified: needs a GPU; this machine is CPU-only"),
        ("&gpu=apple-m2-ultra&ram_bandwidth_gbps=100",
         "ram_bandwidth_gbps: Apple silicon's memory bandwidth is the chip's (800 GB/s)"),
        ("&gpu=apple-m2-ultra&ram_preset=ddr5-6000-2ch",
         "ram_preset: Apple silicon's memory bandwidth is the chip's (800 GB/s)"),
        ("&gpu=rtx-4090&gpu_limit_gb=20",
         "gpu_limit_gb: only for unified memory (Apple silicon, a unified-memory device, or "
         "unified)"),
        ("&gpu=rtx-4090&unified=true&gpu_count=2",
         "unified: a unified-memory machine has one GPU, not 2"),
    ],
)  # fmt: skip
def test_bad_machine_options_are_a_400_naming_the_field(
    client: Client, query: str, message: str
) -> None:
    response = client.get("/api/v1/estimate?model=llama-3-1-8b-instruct" + query)
    assert response.status_code == 400
    body = response.json()
    assert body["error"].startswith(message)
    field = message.split(":")[0]
    assert [d["field"] for d in body["detail"]] == [field]


@pytest.mark.django_db
def test_post_takes_the_machine_as_json_numbers(client: Client) -> None:
    response = post(
        client, config=LLAMA_31_8B, gpu="rtx-4090", ram_gb=32, ram_bandwidth_gbps=96,
        reserved_gb=0, ngl=20, mmproj="none",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    plan = response.json()["plan"]
    assert (plan["ram_bytes"], plan["ram_bandwidth_gbps"], plan["reserved_bytes"]) == (
        32 * GIB, 96.0, 0,
    )  # fmt: skip
    assert (plan["ngl"], plan["forced"]) == (20, True)
    assert plan["args"] == "-c 4096 -ngl 20"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ram_gb": 64.0}, "ram_gb: Input should be a valid integer"),
        ({"ram_gb": "64"}, "ram_gb: Input should be a valid integer"),
        ({"ram_bandwidth_gbps": "96"}, "ram_bandwidth_gbps: Input should be a valid number"),
        ({"ngl": True}, "ngl: Input should be a valid integer"),
        ({"unified": 1}, "unified: Input should be a valid boolean"),
        ({"reserved_gb": float("inf")}, "Infinity is not a JSON number"),
        ({"ram_preset": "ddr5-6000-2ch", "ram_bandwidth_gbps": 96},
         "ram_preset: give ram_preset or ram_bandwidth_gbps, not both"),
    ],
)  # fmt: skip
def test_a_json_body_takes_the_machine_strictly(
    client: Client, fields: dict[str, object], message: str
) -> None:
    response = post(client, config=LLAMA_31_8B, gpu="rtx-4090", **fields)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


@pytest.mark.django_db
def test_a_json_body_with_nan_is_refused(client: Client) -> None:
    text = json.dumps({"config": LLAMA_31_8B, "gpu": "rtx-4090"})[:-1] + ', "ram_gb": NaN}'
    response = client.post("/api/v1/estimate", data=text, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("NaN is not a JSON number")
    assert response.json()["detail"][0]["field"] == "body"


# The OpenAPI document.


def _bounds(schema: dict[str, Any]) -> tuple[object, object]:
    number = next(s for s in schema.get("anyOf", [schema]) if s.get("type") != "null")
    return number["minimum"], number["maximum"]


MACHINE_LIMITS = {
    "gpu_count": limits.GPU_COUNT,
    "ram_gb": limits.RAM_GB,
    "ram_bandwidth_gbps": limits.RAM_BANDWIDTH,
    "reserved_gb": limits.RESERVED_GB,
    "gpu_limit_gb": limits.GPU_LIMIT_GB,
    "ngl": limits.NGL,
    "n_cpu_moe": limits.N_CPU_MOE,
}


def test_the_openapi_document_states_the_machine_options_bounds(client: Client) -> None:
    document = client.get("/api/v1/openapi.json").json()
    parameters = {
        p["name"]: p["schema"] for p in document["paths"]["/api/v1/estimate"]["get"]["parameters"]
    }
    body = document["components"]["schemas"]["ConfigEstimate"]["properties"]
    for where in (parameters, body):
        for name, bounds in MACHINE_LIMITS.items():
            assert _bounds(where[name]) == (bounds.low, bounds.high), name
            assert where[name]["description"], name
        preset = next(s for s in where["ram_preset"]["anyOf"] if "enum" in s)
        assert preset["enum"] == list(RAM_PRESETS)
        assert where["mmproj"]["enum"] == list(limits.MMPROJ)
        assert where["mmproj"]["default"] == "none"
        assert where["unified"]["default"] is False
    assert "GiB" in parameters["ram_gb"]["description"]
    assert "GB/s" in parameters["ram_bandwidth_gbps"]["description"]


def test_the_openapi_document_describes_every_field_of_the_plan(client: Client) -> None:
    from estimator.report import PlanDevice, PlanReport

    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    plan = schemas["EstimateOut"]["properties"]["plan"]
    assert {"$ref": "#/components/schemas/PlanReportOut"} in plan["anyOf"]
    for name, cls in (("PlanReportOut", PlanReport), ("PlanDeviceOut", PlanDevice)):
        properties = schemas[name]["properties"]
        assert set(properties) == set(cls.__dataclass_fields__)
        assert all(p.get("description") for p in properties.values()), name
    devices = schemas["PlanReportOut"]["properties"]["devices"]
    assert devices["items"] == {"$ref": "#/components/schemas/PlanDeviceOut"}


# The rules every caller shares (estimator.machine_options).


def test_no_options_give_the_default_machine() -> None:
    assert machine_from_options(RTX_4090, 2) == machine_for(RTX_4090, 2)
    assert machine_from_options(M2_ULTRA, 1) == machine_for(M2_ULTRA, 1)
    assert machine_from_options(None, 1) is None


def test_gpu_count_0_or_a_cpu_device_is_a_cpu_only_machine() -> None:
    assert machine_from_options(None, 0) == Machine(None, 0, 64 * GIB, 96.0, 0)
    assert machine_from_options(RTX_4090, 0, ram_gb=32) == Machine(None, 0, 32 * GIB, 96.0, 0)
    assert machine_from_options(RYZEN, 1) == Machine(None, 0, 192 * GIB, 89.6, 0)
    ryzen = machine_from_options(RYZEN, 1, ram_gb=96, ram_preset="ddr5-5600-2ch")
    assert ryzen == Machine(None, 0, 96 * GIB, 89.6, 0)


def test_the_options_become_the_machines_figures() -> None:
    m = machine_from_options(RTX_4090, 2, ram_gb=128, ram_preset="ddr5-4800-8ch", reserved_gb=0.5)
    assert m == Machine(RTX_4090, 2, 128 * GIB, 307.2, GIB // 2)
    spark = machine_from_options(RTX_4090, 1, unified=True, gpu_limit_gb=100)
    assert spark is not None and spark.unified and spark.gpu_limit_bytes == 100 * GIB
    assert (spark.ram_bytes, spark.ram_bandwidth_gbps) == (24 * GIB, 1008.0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ram_gb": True}, "--ram-gb: must be a whole number, not True"),
        ({"ram_gb": 64.5}, "--ram-gb: must be a whole number, not 64.5"),
        ({"ram_bandwidth_gbps": float("nan")},
         "--ram-bandwidth-gbps: must be between 1 and 2000, not nan"),
        ({"reserved_gb": float("inf")}, "--reserved-gb: must be between 0 and 256, not inf"),
        ({"ram_preset": "ddr9"}, "--ram-preset: must be one of ddr4-3200-2ch, "),
        ({"ram_preset": "ddr5-6000-2ch", "ram_bandwidth_gbps": 9.0},
         "--ram-preset: give --ram-preset or --ram-bandwidth-gbps, not both"),
    ],
)  # fmt: skip
def test_the_rules_speak_the_callers_names(options: dict[str, Any], message: str) -> None:
    with pytest.raises(MachineOptionError) as caught:
        machine_from_options(RTX_4090, 1, spell=lambda n: "--" + n.replace("_", "-"), **options)
    assert str(caught.value).startswith(message)
    assert caught.value.field == message[2:].split(":")[0].replace("-", "_")
