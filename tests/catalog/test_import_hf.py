"""`import_hf` against a local server answering as the Hugging Face Hub (fakehub.py), never
the network. The Hub's answers are built here in its API format; the config.json served
for the new model is the catalog's own for Qwen2.5 1.5B Instruct, which its base model shares."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from catalog import hub
from catalog.models import Model
from estimator.memory import MemoryOptions, estimate_memory
from tests.catalog.fakehub import FakeHub

pytestmark = pytest.mark.django_db

NEW = "Qwen/Qwen2.5-1.5B"
KNOWN = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub.time, "sleep", lambda seconds: None)


def info(**changes: Any) -> dict[str, Any]:
    return {
        "author": "Qwen", "createdAt": "2024-09-15T12:20:24.000Z",
        "pipeline_tag": "text-generation", "tags": ["transformers", "safetensors", "qwen2"],
        "cardData": {"license": "apache-2.0"},
        "safetensors": {"parameters": {"BF16": 1543714304}, "total": 1543714304},
        "siblings": [{"rfilename": "config.json", "size": 684}], "gated": False,
    } | changes  # fmt: skip


def gguf_repo(server: FakeHub, repo: str, files: dict[str, int]) -> None:
    server.add(repo, {"siblings": [{"rfilename": f, "size": n} for f, n in files.items()]})


def run(*repos: str) -> str:
    out = StringIO()
    call_command("import_hf", *repos, stdout=out, stderr=out)
    return out.getvalue()


def test_a_new_model_is_created_from_what_the_hub_says(hub_server: FakeHub) -> None:
    config = Model.objects.get(slug="qwen2-5-1-5b-instruct").config
    hub_server.add(NEW, info(), config)
    gguf_repo(hub_server, "bartowski/Qwen2.5-1.5B-GGUF", {
        "Qwen2.5-1.5B-Q4_K_M.gguf": 986_000_000, "Qwen2.5-1.5B-Q8_0.gguf": 1_646_000_000,
        "Qwen2.5-1.5B-f16/part-00001-of-00002.gguf": 2_000_000_000,  # split: not one file
    })  # fmt: skip
    gguf_repo(hub_server, "bartowski/Qwen2.5-1.5B-Instruct-GGUF", {"x-Q2_K.gguf": 1})  # not it
    output = run(NEW)
    assert "Qwen/Qwen2.5-1.5B: reading the model's metadata …" in output
    assert "created as /models/qwen2-5-1-5b/" in output
    model = Model.objects.get(hf_id=NEW)
    assert (model.license, model.commercial_use) == ("Apache-2.0", True)
    assert str(model.release_date) == "2024-09-15"
    assert model.params_total == model.params_official == 1543714304  # computed = safetensors
    assert model.context_length == config["max_position_embeddings"]
    assert model.provider.slug == "qwen" and model.sources["config"].endswith("/config.json")
    assert [(g["quant"], g["size"]) for g in model.published_gguf] == [
        ("Q4_K_M", 986_000_000), ("Q8_0", 1_646_000_000)
    ]  # fmt: skip


def test_the_model_page_shows_published_sizes_beside_our_estimate(
    hub_server: FakeHub, client: Client
) -> None:
    config = Model.objects.get(slug="qwen2-5-1-5b-instruct").config
    hub_server.add(NEW, info(), config)
    gguf_repo(hub_server, "bartowski/Qwen2.5-1.5B-GGUF", {"Qwen2.5-1.5B-Q4_K_M.gguf": 986_000_000})
    run(NEW)
    html = client.get("/models/qwen2-5-1-5b/").content.decode()
    ours = estimate_memory(config, MemoryOptions(file_type="Q4_K_M")).file_bytes
    assert 'published file: 0.9 GiB <small class="muted">986000000</small>' in html
    assert f'<small class="muted">{ours}</small>' in html
    assert f"{100 * (ours / 986_000_000 - 1):+.1f} %" in html


def test_a_catalog_model_keeps_its_facts_and_gets_published_sizes(hub_server: FakeHub) -> None:
    before = Model.objects.get(hf_id=KNOWN)
    hub_server.add(KNOWN, info(cardData={"license": "other"}), before.config)
    gguf_repo(hub_server, "bartowski/Llama-3.1-8B-Instruct-GGUF", {
        "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf": 4_920_739_232})  # fmt: skip
    assert "in the catalog; 1 published GGUF sizes stored" in run(KNOWN)
    after = Model.objects.get(hf_id=KNOWN)
    assert after.license == before.license and after.name == before.name
    assert after.published_gguf[0]["size"] == 4_920_739_232 and after.hub_checked_at


def test_an_unknown_repository_says_so(hub_server: FakeHub) -> None:
    with pytest.raises(CommandError, match="1 of 1 not imported"):
        out = StringIO()
        call_command("import_hf", "nobody/nothing", stdout=out, stderr=out)
    assert "nobody/nothing: no such repository on the Hub" in out.getvalue()


def test_a_gated_repository_asks_for_a_token(hub_server: FakeHub) -> None:
    hub_server.gated.add("meta-llama/Llama-4-Scout")
    with pytest.raises(
        hub.HubError, match=r"gated; accept its terms on huggingface\.co and set HF_TOKEN"
    ):
        hub.fetch("meta-llama/Llama-4-Scout")


def test_hf_token_is_sent(hub_server: FakeHub, settings: Any) -> None:
    settings.HF_TOKEN = "hf_test_token"
    hub_server.add(NEW, info(), Model.objects.get(slug="qwen2-5-1-5b-instruct").config)
    hub.fetch(NEW)
    assert hub_server.requests
    assert all(
        r.headers.get("authorization") == "Bearer hf_test_token" for r in hub_server.requests
    )


def test_a_busy_hub_is_retried(hub_server: FakeHub) -> None:
    hub_server.add(NEW, info(), Model.objects.get(slug="qwen2-5-1-5b-instruct").config)
    hub_server.busy(f"/api/models/{NEW}", times=2)
    assert hub.fetch(NEW).safetensors_total == 1543714304
    asked = [(r.method, r.path, r.query_string) for r in hub_server.requests]
    assert asked.count(("GET", f"/api/models/{NEW}", b"")) == 3


def test_offline_gives_a_clear_message(settings: Any) -> None:
    settings.HF_ENDPOINT = "http://127.0.0.1:9"  # nothing listens on the discard port
    with pytest.raises(hub.HubError, match=r"could not be reached .* Are you offline\?"):
        hub.fetch(NEW)


def test_a_config_we_cannot_estimate_is_refused(hub_server: FakeHub) -> None:
    hub_server.add("someone/odd", info(), {"model_type": "mystery", "architectures": ["X"]})
    with pytest.raises(CommandError):
        out = StringIO()
        call_command("import_hf", "someone/odd", stdout=out, stderr=out)
    assert "someone/odd: config.json cannot be estimated" in out.getvalue()
    assert not Model.objects.filter(hf_id="someone/odd").exists()


def test_a_malformed_repo_id_is_refused_before_any_request(hub_server: FakeHub) -> None:
    with pytest.raises(CommandError):
        call_command("import_hf", "not a repo", stdout=StringIO(), stderr=StringIO())
    assert hub_server.requests == []


def test_a_repository_named_like_a_catalog_model_is_refused_clearly(
    hub_server: FakeHub,
) -> None:
    hub_server.add("unsloth/Llama-3.1-8B-Instruct", info(),
                   Model.objects.get(slug="llama-3-1-8b-instruct").config)  # fmt: skip
    with pytest.raises(CommandError):
        out = StringIO()
        call_command("import_hf", "unsloth/Llama-3.1-8B-Instruct", stdout=out, stderr=out)
    assert "already has a model at /models/llama-3-1-8b-instruct/" in out.getvalue()


@pytest.mark.parametrize("config", [[1, 2], {"model_type": "llama", "max_position_embeddings": 0,
                                              "hidden_size": 64, "num_hidden_layers": 2,
                                              "num_attention_heads": 2, "intermediate_size": 128,
                                              "vocab_size": 100}])  # fmt: skip
def test_a_config_that_is_no_object_or_has_no_context_is_refused(
    hub_server: FakeHub, config: Any
) -> None:
    hub_server.add("someone/broken", info(), config)
    with pytest.raises(CommandError):
        call_command("import_hf", "someone/broken", stdout=StringIO(), stderr=StringIO())
    assert not Model.objects.filter(hf_id="someone/broken").exists()
