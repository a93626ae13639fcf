"""A context beyond the native one: models whose card documents a rope scaling that the released
config.json leaves out (Qwen3: 32,768 tokens natively, 131,072 with YaRN x4, its card's
"Processing Long Texts") say so on the slider, in the memory panel, the commands, the FAQ and
the API; the data files state it with a source, and nothing else gets it."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains

from catalog.datafiles import CatalogError, parse_model
from catalog.model_page.state import context_stops
from catalog.models import Model
from tests.catalog.test_model_page_machine import hx, section, text

pytestmark = pytest.mark.django_db
QWEN3 = "/models/qwen3-8b/"
CARD = "https://huggingface.co/Qwen/Qwen3-8B#processing-long-texts"
# Qwen3-8B's KV cache (config.json: 36 layers, 8 KV heads of 128, f16 K and V): 147,456 bytes
# a token, so 4.5 GiB at the native 32,768 tokens and 9 GiB at 65,536.
YARN_FLAGS = "--rope-scaling yarn --rope-scale 4 --yarn-orig-ctx 32768"
VLLM_OVERRIDES = (
    '--hf-overrides \'{"rope_parameters": {"rope_type": "yarn", "factor": 4.0, '
    '"original_max_position_embeddings": 32768, "rope_theta": 1000000}}\''
)


def page(client: Client, ctx: int, slug: str = "qwen3-8b") -> str:
    response = client.get(f"/models/{slug}/?ctx={ctx}")
    assert response.status_code == 200
    return response.content.decode()


def test_the_slider_marks_the_native_context_with_a_tick_and_words(client: Client) -> None:
    response = client.get(QWEN3)
    # 32,768 is the 11th stop up to 131,072 (512, 1K, 2K, 3K, 4K, 6K, 8K, 12K, 16K, 24K, 32K)
    assertContains(
        response,
        '<datalist id="ctx-native"><option value="10" label="native 32K"></option></datalist>',
        html=True,
    )
    mark = "native 32K; beyond it YaRN \u00d74 up to 128K"  # x4: the multiplication sign
    assertContains(response, f'<small id="ctx-native-mark">{mark}</small>', html=True)
    assertContains(response, 'list="ctx-native"')


def test_the_specifications_give_the_native_context_and_its_source(client: Client) -> None:
    response = client.get(QWEN3)
    assertContains(
        response,
        "<small>with YaRN rope scaling (factor 4), which the released config.json leaves out"
        "</small>",
        html=True,
    )
    assertContains(
        response,
        f'<a href="{CARD}" rel="noopener nofollow">{CARD.removeprefix("https://")}</a>',
        html=True,
    )


def test_beyond_the_native_context_the_page_says_yarn_and_what_it_costs(client: Client) -> None:
    html = page(client, 65536)
    memory = section(html, "memory")
    contains_html(
        memory,
        '<p><span class="tag warn">needs YaRN</span> <strong>Beyond its native 32,768 tokens, '
        "Qwen3 8B needs YaRN rope scaling</strong> (factor 4 from 32,768 tokens), which its "
        "released config.json leaves out: the commands below switch it on.</p>",
    )
    said = text(memory)
    assert "What 65,536 tokens cost: a KV cache of 9 GiB (4.5 GiB at 32,768)" in said
    assert (
        "Its documentation: “All the notable open-source frameworks implement static YaRN, "
        "which means the scaling factor remains constant regardless of input length, potentially "
        "impacting performance on shorter texts." in said
    )
    assert "Source: huggingface.co/Qwen/Qwen3-8B#processing-long-texts" in said
    assert "beyond the native 32K: needs YaRN" in text(html[html.index('id="live-summary"') :])
    assert ">native 32K</text>" in memory  # the chart's mark


def test_qwq_quotes_its_readme_on_long_inputs_with_its_source(client: Client) -> None:
    said = text(section(page(client, 65536, "qwq-32b"), "memory"))
    assert "Beyond its native 32,768 tokens, QwQ-32B needs YaRN rope scaling" in said
    assert (
        "Its documentation: “For inputs exceeding 8,192 tokens, enable YaRN to improve the "
        "model's ability to capture long-sequence information effectively. … Presently, vLLM"
    ) in said
    assert "Source: github.com/QwenLM/QwQ#usage-guidelines" in said


def test_beyond_the_native_context_the_commands_switch_yarn_on(client: Client) -> None:
    run = text(section(page(client, 65536), "run"))
    assert f"llama-server -hf unsloth/Qwen3-8B-GGUF:Q4_K_M -c 65536 {YARN_FLAGS} -fa on" in run
    assert f"vllm serve Qwen/Qwen3-8B --max-model-len 65536 {VLLM_OVERRIDES} " in run
    assert "Whether Ollama switches on YaRN beyond 32,768 tokens is unknown." in run
    assert "Whether LM Studio switches on YaRN beyond 32,768 tokens is unknown." in run


def test_several_users_need_it_by_the_context_of_each(client: Client) -> None:
    run = text(section(client.get(QWEN3 + "?ctx=32768&users=4").content.decode(), "run"))
    assert "-c 131072 -np 4 -fa on" in run  # 4 slots of the native 32,768: no scaling
    assert "--rope-scaling" not in run


@pytest.mark.parametrize("ctx", [16384, 32768])
def test_up_to_the_native_context_neither_the_note_nor_the_flags(client: Client, ctx: int) -> None:
    html = page(client, ctx)
    assert 'id="rope-note"' not in html
    for absent in ("--rope-scaling", "--hf-overrides", "needs YaRN", "is unknown."):
        assert absent not in html
    assert 'id="ctx-native-mark"' in html  # the slider still marks it
    faq = text(section(html, "faq"))
    assert (
        "What is the context length of Qwen3 8B? 128K tokens (131,072) with YaRN rope scaling "
        "(factor 4), which its released config.json leaves out; natively 32K (32,768). Beyond "
        f"32,768 tokens llama.cpp and vLLM need YaRN switched on; up to it (this "
        f"{'16K' if ctx == 16384 else '32K'} context) nothing is needed."
    ) in faq


def test_the_faq_says_the_commands_switch_it_on_beyond(client: Client) -> None:
    faq = text(section(page(client, 65536), "faq"))
    assert (
        "Beyond 32,768 tokens llama.cpp and vLLM need YaRN switched on, as the commands for "
        "this 64K context do."
    ) in faq


def test_a_context_change_brings_the_note_back_with_the_panels(client: Client) -> None:
    body = client.get(QWEN3 + "?ctx=65536", headers=hx("ctx")).content.decode()
    assert 'id="rope-note"' in body and YARN_FLAGS in body
    body = client.get(QWEN3 + "?ctx=16384", headers=hx("ctx")).content.decode()
    assert 'id="rope-note"' not in body and YARN_FLAGS not in body


@pytest.mark.parametrize(
    "slug",
    [
        "llama-3-1-8b-instruct",  # its config.json carries llama3 rope scaling
        "deepseek-r1-0528-qwen3-8b",  # its config.json carries YaRN x4 as released
    ],
)
def test_a_model_without_the_fields_shows_neither(client: Client, slug: str) -> None:
    html = page(client, 65536, slug)
    for absent in ('id="ctx-native', 'id="rope-note"', "--rope-scaling", "--hf-overrides"):
        assert absent not in html
    assertNotContains(client.get(f"/models/{slug}/"), "Native context")


def test_the_api_serves_the_native_context_and_the_scaling(client: Client) -> None:
    body = client.get("/api/v1/models/qwen3-8b/").json()
    assert body["context_length"] == 131072
    assert body["native_context_length"] == 32768
    assert body["rope_scaling"] == {
        "method": "yarn",
        "factor": 4.0,
        "original_context": 32768,
        "caveat": Model.objects.get(slug="qwen3-8b").rope_scaling_caveat,
        "source": CARD,
    }
    llama = client.get("/api/v1/models/llama-3-1-8b-instruct/").json()
    assert (llama["native_context_length"], llama["rope_scaling"]) == (None, None)
    listed = {m["slug"]: m for m in client.get("/api/v1/models/?limit=1000").json()["items"]}
    assert listed["qwq-32b"]["native_context_length"] == 32768


def test_the_catalog_marks_the_qwen_models_whose_config_leaves_yarn_out() -> None:
    marked = set(
        Model.objects.filter(native_context_length__isnull=False).values_list("slug", flat=True)
    )
    assert {"qwen3-8b", "qwen3-235b-a22b", "qwen2-5-72b-instruct", "qwq-32b"} <= marked
    # Released with the scaling in config.json, or natively as long as their maximum:
    assert not marked & {"deepseek-r1-0528-qwen3-8b", "qwen3-0-6b", "qwen2-5-3b-instruct"}
    assert all(
        m.rope_scaling == "yarn" and m.rope_scaling_factor * m.rope_scaling_original_context
        >= m.context_length > m.native_context_length
        for m in Model.objects.filter(slug__in=marked)
    )  # fmt: skip


def test_the_slider_has_a_stop_at_a_native_context_between_stops() -> None:
    assert context_stops(131072, 40000)[9:] == [24576, 32768, 40000, 49152, 65536, 98304, 131072]
    assert context_stops(131072, 32768) == context_stops(131072)


# The data files: parse_model on one [[models]] entry.
ENTRY: dict[str, Any] = {
    "hf_id": "acme/Rocket-8B",
    "name": "Rocket 8B",
    "family": "rocket",
    "license": "Apache-2.0",
    "commercial_use": True,
    "context_length": 131072,
    "native_context_length": 32768,
    "rope_scaling": {"method": "yarn", "factor": 4.0, "original_context": 32768},
    "sources": {
        "config": "https://huggingface.co/acme/Rocket-8B/blob/main/config.json",
        "native_context_length": "https://huggingface.co/acme/Rocket-8B#long-texts",
        "rope_scaling": "https://huggingface.co/acme/Rocket-8B#long-texts",
    },
    "config": {
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 1000,
        "max_position_embeddings": 40960,
    },
}


def entry(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(ENTRY)
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


def test_a_native_context_with_its_scaling_and_sources_is_read() -> None:
    fields = parse_model(entry(), "acme.toml: models[0]").fields
    assert {k: fields[k] for k in fields if "rope" in k or "native" in k} == {
        "native_context_length": 32768,
        "rope_scaling": "yarn",
        "rope_scaling_factor": 4.0,
        "rope_scaling_original_context": 32768,
        "rope_scaling_caveat": "",
    }
    plain = parse_model(entry(native_context_length=None, rope_scaling=None), "acme.toml").fields
    assert (plain["native_context_length"], plain["rope_scaling"]) == (None, "")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"native_context_length": 262144}, "'native_context_length' (262144) must be less than"),
        ({"native_context_length": 131072}, "must be less than context_length (131072)"),
        ({"rope_scaling": None}, "'native_context_length' and table 'rope_scaling' go together"),
        ({"native_context_length": None}, "and table 'rope_scaling' go together"),
        (
            {"sources": {"config": ENTRY["sources"]["config"]}},
            "field 'sources.native_context_length' must be the URL of the card",
        ),
        (
            {"sources": ENTRY["sources"] | {"rope_scaling": "config.json of acme/Rocket-8B"}},
            "field 'sources.rope_scaling' must be the URL of the card",
        ),
        (
            {"rope_scaling": {"method": "yarn", "factor": 2.0, "original_context": 32768}},
            "factor 2 x original_context 32768 must reach context_length (131072)",
        ),
        (
            {"rope_scaling": {"method": "ntk", "factor": 4.0, "original_context": 32768}},
            "field 'method' must be one of yarn, linear",
        ),
        (
            {"config": ENTRY["config"] | {"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}},
            "this config.json has one, which runtimes apply themselves",
        ),
    ],
)
def test_the_loader_rejects_a_bad_native_context(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(
        CatalogError, match=re.escape("acme.toml: models[0] (acme/Rocket-8B)")
    ) as exc:
        parse_model(entry(**changes), "acme.toml: models[0]")
    assert message in str(exc.value)


def test_the_database_refuses_a_native_context_at_the_maximum() -> None:
    model = Model.objects.get(slug="qwen3-8b")
    model.native_context_length = model.context_length
    with pytest.raises(IntegrityError, match="native_context_below"), transaction.atomic():
        model.save()
    model.native_context_length, model.rope_scaling = None, ""
    with pytest.raises(IntegrityError, match="rope_scaling_with_native"), transaction.atomic():
        model.save()


def contains_html(html: str, needle: str) -> None:
    """assertContains(..., html=True) on one part of a page."""
    from django.test.html import parse_html

    assert parse_html(needle) in parse_html(html)
