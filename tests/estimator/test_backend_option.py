"""The llama.cpp backend a user runs: the API's `backend` and the command's `--backend` pick
the backend's constants and bands (an AMD card on Vulkan is not one on ROCm), name the devices
as that backend does, and refuse a backend the device cannot run."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management.base import CommandError
from django.test import Client

from estimator.throughput import BACKENDS, BANDS, Device
from tests.estimator.test_command_machine import report

GIB = 1 << 30
XTX = "/api/v1/estimate?model=llama-3-1-8b-instruct&gpu=rx-7900-xtx"


def get(client: Client, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.django_db
def test_an_amd_card_on_vulkan_has_vulkans_speeds_names_and_band(client: Client) -> None:
    rocm, vulkan = get(client, XTX), get(client, XTX + "&backend=Vulkan")
    assert rocm == get(client, XTX + "&backend=ROCm")  # ROCm is the default on AMD
    assert rocm["plan"]["devices"][0]["name"] == "ROCm0"
    assert vulkan["plan"]["devices"][0]["name"] == "Vulkan0"
    assert (rocm["prefill_band"], vulkan["prefill_band"]) == (
        BANDS["ROCm", "prefill"],
        BANDS["Vulkan", "prefill"],
    )
    assert rocm["decode_tokens_per_s"] != vulkan["decode_tokens_per_s"]
    assert rocm["prefill_tokens_per_s"] != vulkan["prefill_tokens_per_s"]
    assert rocm["weights_bytes"] == vulkan["weights_bytes"]  # memory does not depend on it


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("gpu", "backend", "message"),
    [
        ("rx-7900-xtx", "Metal", "AMD Radeon RX 7900 XTX runs ROCm or Vulkan, not Metal"),
        ("rtx-4090", "ROCm", "NVIDIA GeForce RTX 4090 runs CUDA or Vulkan, not ROCm"),
        ("apple-m2-ultra", "Vulkan", "Apple M2 Ultra runs Metal, not Vulkan"),
    ],
)
def test_a_backend_the_device_cannot_run_is_a_400(
    client: Client, gpu: str, backend: str, message: str
) -> None:
    url = f"/api/v1/estimate?model=llama-3-1-8b-instruct&gpu={gpu}&backend={backend}"
    response = client.get(url)
    assert response.status_code == 400
    assert response.json()["error"] == f"backend: {message}"


@pytest.mark.django_db
def test_an_unknown_backend_is_a_400_naming_the_field(client: Client) -> None:
    response = client.get(XTX + "&backend=OpenCL")
    assert response.status_code == 400
    assert response.json()["detail"][0]["field"] == "backend"


@pytest.mark.django_db
def test_the_command_takes_the_backend_the_same_way(client: Client) -> None:
    def run(*args: str) -> dict[str, Any]:
        return report("--model", "llama-3-1-8b-instruct", "--gpu", "rx-7900-xtx", *args)

    vulkan = run("--backend", "vulkan")
    api = get(client, XTX + "&backend=Vulkan")
    assert vulkan["decode_tokens_per_s"] == api["decode_tokens_per_s"]
    assert vulkan["prefill_tokens_per_s"] == api["prefill_tokens_per_s"]
    with pytest.raises(CommandError, match="this device runs ROCm or Vulkan, not CUDA"):
        run("--backend", "cuda")


def test_every_device_class_defaults_to_the_first_backend_it_runs() -> None:
    for cls, backends in BACKENDS.items():
        assert Device(GIB, 100.0, 10.0, cls).engine_backend == backends[0]


PAGE = "/models/llama-3-1-8b-instruct/"


@pytest.mark.django_db
def test_the_model_page_offers_the_devices_backends_and_follows_the_choice(client: Client) -> None:
    html = client.get(PAGE + "?gpu=rx-7900-xtx&backend=Vulkan").content.decode()
    control = html[html.index('<span id="backend-control">') :]
    control = control[: control.index("</span>")]
    assert '<option value="">ROCm (default)</option>' in control
    assert '<option value="Vulkan" selected>Vulkan</option>' in control
    assert f"±{round(100 * BANDS['Vulkan', 'decode'])} %" in html
    assert "measured runs on Vulkan" in html and "measured runs on ROCm" not in html
    default = client.get(PAGE + "?gpu=rx-7900-xtx").content.decode()
    assert "measured runs on ROCm" in default and "measured runs on Vulkan" not in default


@pytest.mark.django_db
def test_a_backend_the_device_cannot_run_falls_back_to_its_default(client: Client) -> None:
    html = client.get(PAGE + "?gpu=rx-7900-xtx&backend=Metal").content.decode()
    assert "measured runs on ROCm" in html
    apple = client.get(PAGE + "?gpu=apple-m2-ultra&backend=Vulkan").content.decode()
    assert '<span id="backend-control"></span>' in apple  # one backend: no choice to offer
    assert "measured runs on Metal" in apple


@pytest.mark.django_db
def test_changing_the_gpu_brings_back_its_backends(client: Client) -> None:
    response = client.get(
        PAGE + "?gpu=rtx-4090&backend=Vulkan",
        headers={"HX-Request": "true", "HX-Trigger-Name": "gpu", "HX-Target": "controls"},
    )
    body = response.content.decode()
    assert '<span id="backend-control" hx-swap-oob="true">' in body
    assert '<option value="">CUDA (default)</option>' in body
