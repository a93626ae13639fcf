"""/estimate/: the model page's panels for a model that is not in the catalog."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from catalog import hub
from catalog.models import EstimateConfig, Model
from tests.catalog.fakehub import FakeHub

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub.time, "sleep", lambda seconds: None)


@pytest.fixture(autouse=True)
def fresh_limits() -> None:
    """The per-address estimate count lives in the cache, which tests do not roll back."""
    from django.core.cache import cache

    cache.clear()


def config_of(slug: str) -> dict[str, Any]:
    return dict(Model.objects.get(slug=slug).config)


def test_a_pasted_config_gets_the_model_page_s_panels(client: Client) -> None:
    response = client.post("/estimate/", {"config": json.dumps(config_of("qwen3-8b")),
                                          "name": "My fine-tune"})  # fmt: skip
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert "My fine-tune" in html and "not in the catalog" in html
    for panel in ("panel-memory", "panel-quants", "panel-serving", "panel-devices", "panel-faq"):
        assert f'id="{panel}"' in html
    params = Model.objects.get(slug="qwen3-8b").params_total
    assert f'<small class="muted">{params}</small>' in html  # the same count as the catalog's
    # the same memory as the catalog model's page at the same state
    catalog_page = client.get("/models/qwen3-8b/?ctx=8192").content.decode()
    total = re.search(r'Total</th><td class="num"><strong>([^<]+)', catalog_page).group(1)  # type: ignore[union-attr]
    assert f'Total</th><td class="num"><strong>{total}' in html
    assert "We do not know: it is not in our catalog." in html  # no licence invented


def test_the_same_config_has_one_url_and_the_sliders_work(client: Client) -> None:
    data = {"config": json.dumps(config_of("qwen3-8b"))}
    first, second = client.post("/estimate/", data), client.post("/estimate/", data)
    assert first["Location"] == second["Location"] and EstimateConfig.objects.count() == 1
    fragment = client.get(
        first["Location"] + "?ctx=32768",
        headers={"HX-Request": "true", "HX-Trigger-Name": "ctx", "HX-Target": "live-summary"},
    ).content.decode()
    assert "<html" not in fragment and "32K" in fragment
    clamped = client.get(first["Location"] + "?ctx=99999999").content.decode()
    assert "is out of range" in clamped


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "This is not valid JSON"),
        ("[1, 2, 3]", "A config.json is a JSON object"),
        ('{"model_type": "llama"}', "We cannot estimate this config"),
        ("x" * 200_001, "The config is over 200,000 characters"),
    ],
)
def test_bad_configs_are_refused_with_a_reason(client: Client, text: str, message: str) -> None:
    response = client.post("/estimate/", {"config": text})
    assert response.status_code == 400 and message in response.content.decode()
    assert not EstimateConfig.objects.exists()


def test_a_catalog_repo_goes_to_its_model_page(client: Client) -> None:
    response = client.get("/estimate/?repo=meta-llama/Llama-3.1-8B-Instruct")
    assert response["Location"] == "/models/llama-3-1-8b-instruct/"


def test_a_hub_repo_is_read_and_estimated(client: Client, hub_server: FakeHub) -> None:
    hub_server.add("someone/Qwen3-8B-finetune", {"pipeline_tag": "text-generation"},
                   config_of("qwen3-8b"))  # fmt: skip
    response = client.get("/estimate/?repo=someone/Qwen3-8B-finetune")
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert (
        "Qwen3-8B-finetune" in html
        and 'href="https://huggingface.co/someone/Qwen3-8B-finetune"' in html
    )
    assert "vllm serve someone/Qwen3-8B-finetune" in html  # the repo id runs with vLLM


def test_hub_problems_are_shown_on_the_form(client: Client, hub_server: FakeHub) -> None:
    missing = client.get("/estimate/?repo=nobody/nothing")
    assert missing.status_code == 400
    assert "no such repository on the Hub" in missing.content.decode()
    junk = client.get("/estimate/?repo=<script>")
    assert junk.status_code == 400 and "&lt;script&gt;" in junk.content.decode()


def test_an_unknown_estimate_is_404(client: Client) -> None:
    assert client.get("/estimate/0123456789abcdef01234567/").status_code == 404


@pytest.mark.parametrize(
    "changes",
    [{"max_position_embeddings": 0}, {"hidden_size": 0}, {"num_hidden_layers": 20_000}],
)
def test_a_config_that_would_break_or_stall_the_page_is_refused(
    client: Client, changes: dict[str, Any]
) -> None:
    config = config_of("llama-3-1-8b-instruct") | changes
    response = client.post("/estimate/", {"config": json.dumps(config)})
    assert response.status_code == 400, response.content
    assert not EstimateConfig.objects.exists()


def test_deeply_nested_json_is_refused(client: Client) -> None:
    response = client.post("/estimate/", {"config": '{"a":' * 30_000 + "1" + "}" * 30_000})
    assert response.status_code == 400


def test_estimates_are_rate_limited(client: Client, settings: Any) -> None:
    settings.ESTIMATE_RATE_LIMIT = 2
    for _ in range(2):
        assert client.post("/estimate/", {"config": "{bad"}).status_code == 400
    limited = client.post("/estimate/", {"config": "{bad"})
    assert limited.status_code == 429 and "Too many estimates" in limited.content.decode()


def test_two_estimates_do_not_share_a_memory_curve(client: Client) -> None:
    small = config_of("llama-3-2-1b-instruct")
    big = config_of("llama-3-1-8b-instruct")
    pages = []
    for config in (small, big):
        location = client.post("/estimate/", {"config": json.dumps(config)})["Location"]
        pages.append(client.get(location).content.decode())
    catalog_big = client.get("/models/llama-3-1-8b-instruct/").content.decode()
    path = re.compile(r'<path class="series" d="([^"]+)"/>')
    assert path.search(pages[1]).group(1) == path.search(catalog_big).group(1)  # type: ignore[union-attr]
    assert path.search(pages[0]).group(1) != path.search(pages[1]).group(1)  # type: ignore[union-attr]


def test_the_hub_is_read_without_our_token_for_visitors(
    client: Client, hub_server: FakeHub, settings: Any
) -> None:
    settings.HF_TOKEN = "hf_operator_secret"
    hub_server.add("someone/Qwen3-8B-finetune", {}, config_of("qwen3-8b"))
    client.get("/estimate/?repo=someone/Qwen3-8B-finetune")
    assert hub_server.requests and all(
        "authorization" not in r.headers for r in hub_server.requests
    )


def test_each_name_keeps_its_own_page(client: Client) -> None:
    config = json.dumps(config_of("qwen3-8b"))
    first = client.post("/estimate/", {"config": config, "name": "Alpha"})["Location"]
    second = client.post("/estimate/", {"config": config, "name": "Beta"})["Location"]
    assert first != second
    assert "<h1>Beta" in client.get(second).content.decode()
