"""/estimate/: the model page's panels for a model that is not in the catalog."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from catalog import hub
from catalog.models import EstimateConfig, Model
from tests.catalog import hubserver
from tests.catalog.hubserver import HubServer

hub_server = hubserver.hub_server  # the fixture (an import would trip ruff F811)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub.time, "sleep", lambda seconds: None)


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


def test_a_hub_repo_is_read_and_estimated(client: Client, hub_server: HubServer) -> None:
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


def test_hub_problems_are_shown_on_the_form(client: Client, hub_server: HubServer) -> None:
    missing = client.get("/estimate/?repo=nobody/nothing")
    assert missing.status_code == 400
    assert "no such repository on the Hub" in missing.content.decode()
    junk = client.get("/estimate/?repo=<script>")
    assert junk.status_code == 400 and "&lt;script&gt;" in junk.content.decode()


def test_an_unknown_estimate_is_404(client: Client) -> None:
    assert client.get("/estimate/0123456789abcdef01234567/").status_code == 404
