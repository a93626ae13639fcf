"""A model whose GGUF keeps its next-token-prediction (MTP) layer: the quants panel says the file
sizes include it and memory leaves it out (llama.cpp loads it only for MTP speculative
decoding)."""

from __future__ import annotations

import pytest
from django.test import Client

from catalog.models import Model
from estimator.memory import MemoryOptions, estimate_memory
from estimator.units import gib
from tests.catalog.test_model_page_machine import section, text


@pytest.mark.django_db
def test_the_quants_panel_says_the_files_carry_the_mtp_layer(client: Client) -> None:
    model = Model.objects.get(slug="qwen3-5-27b")
    est = estimate_memory(model.config, MemoryOptions(file_type="Q4_K_M", n_ctx=8192))
    mtp = sum(t.bytes for t in est.weights.skipped)
    assert est.file_bytes > est.weights_bytes + mtp  # in the file, not in memory
    said = text(section(client.get("/models/qwen3-5-27b/?quant=Q4_K_M").content.decode(), "quants"))
    assert f"next-token-prediction (MTP) layer ({gib(mtp)} at Q4_K_M)" in said
    assert "files converted without it (--no-mtp, or before llama.cpp kept it)" in said


@pytest.mark.django_db
def test_a_model_without_one_says_nothing_of_it(client: Client) -> None:
    said = text(section(client.get("/models/llama-3-1-8b-instruct/").content.decode(), "quants"))
    assert "MTP" not in said
