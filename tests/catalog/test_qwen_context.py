"""Qwen3.5 / Qwen3.6 beyond their native 262,144 tokens: the cards whose text we could quote say
"Context Length: 262,144 natively and extensible up to 1,010,000 tokens." (Model Overview) and,
in "Processing Ultra-Long Texts", give YaRN with "factor": 4.0 and
"original_max_position_embeddings": 262144 in text_config's rope_parameters, which the released
config.json leaves at rope_type "default". The others keep their native maximum."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from catalog.datafiles import parse_provider_file
from tests.catalog.test_model_page_machine import section, text

QWEN = Path(settings.BASE_DIR) / "catalog" / "data" / "providers" / "qwen.toml"
EXTENDED = (
    "Qwen/Qwen3.5-4B",
    "Qwen/Qwen3.5-9B",
    "Qwen/Qwen3.5-122B-A10B",
    "Qwen/Qwen3.5-397B-A17B",
    "Qwen/Qwen3.6-27B",
    "Qwen/Qwen3.6-35B-A3B",
)
# Qwen3.5-0.8B's card: "Context Length: 262,144 natively" and no "Processing Ultra-Long Texts";
# the others: no copy of the card's statement found, or (Qwen3-VL) a recipe of factor 3 for
# 1,000,000 tokens that factor x original_context does not reach, or (Qwen3-Coder-480B) no factor.
NATIVE_ONLY = (
    "Qwen/Qwen3.5-0.8B",
    "Qwen/Qwen3.5-2B",
    "Qwen/Qwen3.5-27B",
    "Qwen/Qwen3.5-35B-A3B",
    "Qwen/Qwen3-VL-8B-Instruct",
    "Qwen/Qwen3-VL-235B-A22B-Thinking",
    "Qwen/Qwen3-Coder-480B-A35B-Instruct",
)
CAVEAT_START = "All the notable open-source frameworks implement static YaRN"
CAVEAT_END = "it would be better to set factor as 2.0."


@pytest.fixture(scope="module")
def models() -> dict[str, dict]:
    return {m.fields["hf_id"]: m.fields for m in parse_provider_file(QWEN).models}


@pytest.mark.parametrize("hf_id", EXTENDED)
def test_the_quoted_cards_reach_1010000_tokens_with_yarn_x4(models: dict, hf_id: str) -> None:
    m = models[hf_id]
    assert (m["context_length"], m["native_context_length"]) == (1_010_000, 262_144)
    assert (m["rope_scaling"], m["rope_scaling_factor"]) == ("yarn", 4.0)
    assert m["rope_scaling_original_context"] == 262_144
    assert 4 * 262_144 == 1_048_576 >= 1_010_000  # the card's vLLM --max-model-len 1010000
    assert m["rope_scaling_caveat"].startswith(CAVEAT_START)
    assert m["rope_scaling_caveat"].endswith(CAVEAT_END)
    anchor = f"https://huggingface.co/{hf_id}#processing-ultra-long-texts"
    assert m["sources"]["native_context_length"] == m["sources"]["rope_scaling"] == anchor
    assert "extensible up to 1,010,000 tokens" in m["sources"]["context_length"]
    rope = m["config"]["text_config"]["rope_parameters"]
    assert rope["rope_type"] == "default"  # released without the scaling


@pytest.mark.parametrize("hf_id", NATIVE_ONLY)
def test_the_others_keep_their_native_maximum(models: dict, hf_id: str) -> None:
    m = models[hf_id]
    assert (m["context_length"], m["native_context_length"]) == (262_144, None)
    assert m["rope_scaling"] == ""


@pytest.mark.django_db
def test_the_page_at_524288_tokens_gives_the_note_and_the_flags(client: Client) -> None:
    html = client.get("/models/qwen3-6-27b/?ctx=524288").content.decode()
    said = text(section(html, "memory"))
    assert (
        "Beyond its native 262,144 tokens, Qwen3.6 27B needs YaRN rope scaling (factor 4 from "
        "262,144 tokens), which its released config.json leaves out" in said
    )
    assert "huggingface.co/Qwen/Qwen3.6-27B#processing-ultra-long-texts" in said
    flags = "-c 524288 --rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 262144"
    assert flags in html
    assert "native 256K; beyond it YaRN \u00d74 up to 1,010,000" in html


@pytest.mark.django_db
def test_at_the_native_context_neither_note_nor_flags(client: Client) -> None:
    html = client.get("/models/qwen3-5-397b-a17b/?ctx=262144").content.decode()
    assert "needs YaRN" not in text(section(html, "memory"))
    assert "--rope-scaling yarn" not in html
