"""`manage.py estimate` with the machine around the GPU: the same options, rules and JSON as
/api/v1/estimate (test_api_machine.py), flags that say their units and defaults, and the plan
in the table."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from estimator.management.commands.estimate import Command

GIB = 1 << 30
MIB = 1 << 20
GPT_OSS = ("--model", "gpt-oss-120b", "--quant", "MXFP4_MOE")
ON_4090 = (*GPT_OSS, "--gpu", "rtx-4090")


def run(*args: str) -> str:
    out = StringIO()
    call_command("estimate", *args, stdout=out)
    return out.getvalue()


def report(*args: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(run(*args, "--json"))
    return result


@pytest.mark.django_db
def test_the_command_prints_the_same_json_as_the_api(client: Client) -> None:
    printed = report(*ON_4090, "--ram-gb", "64", "--ram-bandwidth-gbps", "96")
    url = "/api/v1/estimate?model=gpt-oss-120b&quant=MXFP4_MOE&gpu=rtx-4090"
    answered = client.get(url + "&ram_gb=64&ram_bandwidth_gbps=96").json()
    assert answered.pop("model") == "gpt-oss-120b"
    assert printed == answered
    plan = printed["plan"]
    assert plan["args"].startswith("-c 4096 -ngl 37 -ot ") and plan["n_cpu_moe"] > 0
    assert 10 <= printed["decode_tokens_per_s"] < 100


@pytest.mark.django_db
def test_the_table_shows_the_plan_and_the_ram_it_misses() -> None:
    args = (*ON_4090, "--ram-gb", "32", "--ram-preset", "ddr5-6000-2ch")
    plan = report(*args)["plan"]
    text = run(*args)
    assert "machine              32 GiB RAM at 96 GB/s\n" in text
    assert f"llama.cpp            {plan['args']}\n" in text
    assert "  CUDA0              " in text and "of 23,552.00 MiB free\n" in text
    missing = plan["missing_ram_bytes"]
    assert missing == plan["host_bytes"] - 28 * GIB > 0
    assert f"plan fits            no: needs {missing / MIB:,.2f} MiB more RAM\n" in text


@pytest.mark.django_db
def test_forced_ngl_and_n_cpu_moe() -> None:
    plan = report(*ON_4090, "--ngl", "10", "--n-cpu-moe", "5")["plan"]
    assert (plan["ngl"], plan["n_cpu_moe"], plan["forced"]) == (10, 5, True)
    assert plan["args"].startswith("-c 4096 -ngl 10 -ot ")
    assert "(forced)" in run(*ON_4090, "--ngl", "10")


@pytest.mark.django_db
def test_a_unified_machine_from_figures() -> None:
    """A DGX Spark-class machine: 128 GiB shared by CPU and GPU at 273 GB/s."""
    args = ("--memory-gb", "128", "--bandwidth-gbps", "273", "--tflops", "100", "--unified")
    r = report(*GPT_OSS, *args)
    plan = r["plan"]
    assert plan["unified"] is True and plan["reserved_bytes"] == 0
    assert (plan["ram_bytes"], plan["ram_bandwidth_gbps"]) == (128 * GIB, 273.0)
    assert plan["devices"][0]["free_bytes"] == 124 * GIB
    assert plan["fits"] is True and plan["n_cpu_moe"] == 0
    limited = report(*GPT_OSS, *args, "--gpu-limit-gb", "96")["plan"]
    assert limited["devices"][0]["free_bytes"] == 96 * GIB


@pytest.mark.django_db
def test_reserved_memory_per_gpu_on_two_gpus() -> None:
    plan = report(*ON_4090, "--gpu-count", "2", "--reserved-gb", "0.5")["plan"]
    assert [d["free_bytes"] for d in plan["devices"]] == [int(23.5 * GIB)] * 2
    assert [d["name"] for d in plan["devices"]] == ["CUDA0", "CUDA1"]


@pytest.mark.django_db
def test_gpu_count_0_is_a_cpu_only_machine() -> None:
    r = report(*GPT_OSS, "--gpu-count", "0", "--ram-gb", "128")
    assert r["plan"]["devices"] == []
    assert r["plan"]["ram_bytes"] == 128 * GIB
    assert r["decode_tokens_per_s"] > 1


def test_without_a_device_the_estimate_is_memory_only(tmp_path: Any) -> None:
    from tests.estimator.test_inventory import LLAMA_31_8B

    path = tmp_path / "config.json"
    path.write_text(json.dumps(LLAMA_31_8B))
    assert "plan" not in report("--config", str(path))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--ram-gb 64", "--ram-gb: needs a GPU, or --gpu-count 0 for a CPU-only machine"),
        ("--gpu rtx-4090 --gpu-count 0 --ngl 3", "--ngl: needs a GPU; this machine is CPU-only"),
        ("--gpu rtx-4090 --ram-bandwidth-gbps nan",
         "--ram-bandwidth-gbps: must be between 1 and 2000, not nan"),
        ("--gpu rtx-4090 --reserved-gb inf", "--reserved-gb: must be between 0 and 256, not inf"),
        ("--gpu rtx-4090 --ram-gb 0", "--ram-gb: must be between 1 and 6144, not 0"),
        ("--gpu rtx-4090 --ram-gb 1e9", "argument --ram-gb: invalid int value"),
        ("--gpu rtx-4090 --ngl -1", "--ngl: must be between 0 and 1025, not -1"),
        ("--gpu rtx-4090 --n-cpu-moe 1025", "--n-cpu-moe: must be between 0 and 1024, not 1025"),
        ("--gpu rtx-4090 --gpu-count 65", "--gpu-count must be between 0 and 64"),
        ("--gpu rtx-4090 --gpu-limit-gb 20",
         r"--gpu-limit-gb: only for unified memory \(Apple silicon, a unified-memory device, or "
         r"--unified\)"),
        ("--gpu rtx-4090 --unified --gpu-count 2",
         "--unified: a unified-memory machine has one GPU, not 2"),
        ("--gpu apple-m2-ultra --ram-preset ddr5-6000-2ch",
         r"--ram-preset: Apple silicon's memory bandwidth is the chip's \(800 GB/s\)"),
        ("--gpu rtx-4090 --ram-preset ddr5-6000-2ch --ram-bandwidth-gbps 96",
         "argument --ram-bandwidth-gbps: not allowed with argument --ram-preset"),
        ("--gpu rtx-4090 --ram-preset ddr9", "argument --ram-preset: invalid choice: 'ddr9'"),
        ("--gpu rtx-4090 --mmproj f32", "argument --mmproj: invalid choice: 'f32'"),
    ],
)  # fmt: skip
def test_bad_machine_flags_are_clear_errors(args: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*GPT_OSS, *args.split())


def test_the_help_says_every_machine_flags_unit_and_default() -> None:
    parser = Command().create_parser("manage.py", "estimate")
    helps = {a.option_strings[0]: a.help or "" for a in parser._actions if a.option_strings}
    for name, unit in (
        ("--ram-gb", "GiB"),
        ("--ram-bandwidth-gbps", "GB/s"),
        ("--reserved-gb", "GiB"),
        ("--gpu-limit-gb", "GiB"),
        ("--ram-preset", "GB/s"),
    ):
        assert unit in helps[name], name
    for name in ("--ram-gb", "--ram-bandwidth-gbps", "--reserved-gb", "--gpu-limit-gb",
                 "--ngl", "--n-cpu-moe", "--mmproj", "--gpu-count"):  # fmt: skip
        assert "default" in helps[name], name
    assert "(1-6144; default 64;" in helps["--ram-gb"]
    assert "(0-64, default 1)" in helps["--gpu-count"] and "0: CPU only" in helps["--gpu-count"]
    assert "(default none)" in helps["--mmproj"]
    assert "DGX Spark" in helps["--unified"]
