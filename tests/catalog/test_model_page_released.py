"""Checkpoints published already quantized: the run panel says vLLM serves them as released, at
the size the estimator gives (gpt-oss-120b's MXFP4 experts: 60.8 GiB, as OpenAI states it)."""

from __future__ import annotations

import pytest
from django.test import Client

from catalog.models import Model
from estimator.memory import MemoryOptions, estimate_memory
from estimator.units import gib
from tests.catalog.test_model_page_machine import section, text


@pytest.mark.django_db
def test_gpt_oss_is_served_as_released_in_mxfp4(client: Client) -> None:
    model = Model.objects.get(slug="gpt-oss-120b")
    released = estimate_memory(model.config, MemoryOptions()).safetensors_bytes["released"]
    assert gib(released) == "60.8 GiB"
    said = text(section(client.get("/models/gpt-oss-120b/").content.decode(), "run"))
    assert "vLLM serves the checkpoint as released, in MXFP4 experts (60.8 GiB)" in said


@pytest.mark.django_db
def test_a_bf16_checkpoint_is_served_in_bf16(client: Client) -> None:
    said = text(section(client.get("/models/llama-3-1-8b-instruct/").content.decode(), "run"))
    assert "vLLM serves the original BF16 weights, not a GGUF quant." in said
