"""JSON API v1: shapes, bounds and JSON errors."""

from __future__ import annotations

import pytest
from django.test import Client

from catalog.models import Model

pytestmark = pytest.mark.django_db

LIST_FIELDS = {
    "slug",
    "name",
    "hf_id",
    "provider",
    "family",
    "params_total",
    "params_active",
    "params_language",
    "params_complete",
    "context_length",
    "native_context_length",
    "rope_scaling",
    "license",
    "commercial_use",
    "modalities",
    "release_date",
    "source_url",
}


def test_models_list_has_count_and_items_with_the_documented_fields(client: Client) -> None:
    body = client.get("/api/v1/models/").json()
    assert body["count"] == Model.objects.count()
    assert len(body["items"]) == min(100, body["count"])
    assert set(body["items"][0]) == LIST_FIELDS


def test_models_list_pages_with_limit_and_offset(client: Client) -> None:
    first = client.get("/api/v1/models/?limit=5").json()["items"]
    second = client.get("/api/v1/models/?limit=5&offset=5").json()["items"]
    assert len(first) == len(second) == 5
    assert {m["slug"] for m in first}.isdisjoint(m["slug"] for m in second)
    everything = client.get("/api/v1/models/?limit=1000").json()
    assert len(everything["items"]) == everything["count"]


def test_models_list_filters_by_provider(client: Client) -> None:
    body = client.get("/api/v1/models/?provider=google&limit=1000").json()
    assert body["count"] == Model.objects.filter(provider__slug="google").count()
    assert {m["provider"] for m in body["items"]} == {"google"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
    ],
)
def test_bad_paging_is_a_400_with_a_json_message(client: Client, query: str, field: str) -> None:
    response = client.get(f"/api/v1/models/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert field in body["error"]
    assert body["detail"][0]["field"] == field


def test_model_detail_adds_architecture_encoders_and_sources(client: Client) -> None:
    body = client.get("/api/v1/models/phi-3-5-vision-instruct/").json()
    assert body["hf_id"] == "microsoft/Phi-3.5-vision-instruct"
    assert body["params_total"] == 4_146_621_440
    assert body["params_language"] == 3_821_079_552
    assert body["architecture"]["hidden_size"] == 3072
    assert body["modalities"] == {"input": ["image", "text"], "output": ["text"]}
    assert sum(e["params"] for e in body["encoders"]) == 4_146_621_440 - 3_821_079_552
    assert body["sources"]["config"].endswith("config.json")
    assert body["run"]["transformers_id"] == "microsoft/Phi-3.5-vision-instruct"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/api/v1/models/nope/", "no model with slug 'nope'"),
        ("/api/v1/hardware/nope/", "no hardware with slug 'nope'"),
    ],
)
def test_unknown_slugs_are_a_404_with_a_json_message(
    client: Client, url: str, message: str
) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert response.json()["error"] == message


def test_unknown_api_path_and_wrong_method_are_json_too(client: Client) -> None:
    response = client.get("/api/v1/nothing/")
    assert response.status_code == 404
    assert response.json()["error"] == "no API endpoint at /api/v1/nothing/"
    response = client.post("/api/v1/models/")
    assert response.status_code == 405
    assert response.json()["error"] == "POST is not allowed on /api/v1/models/"
    assert response["Allow"] == "GET"


def test_an_overlong_provider_filter_is_a_400(client: Client) -> None:
    response = client.get("/api/v1/models/?provider=" + "x" * 100)
    assert response.status_code == 400
    assert response.json()["error"] == "provider: String should have at most 60 characters"


def test_hardware_list_has_the_documented_fields(client: Client) -> None:
    body = client.get("/api/v1/hardware/").json()
    rtx = next(h for h in body if h["slug"] == "rtx-4090")
    assert rtx["memory_bytes"] == 24 * 2**30
    assert rtx["bandwidth_gbps"] == 1008.0
    assert rtx["kind"] == "gpu" and rtx["vendor"].lower() == "nvidia"
    assert "fp16_tflops" in rtx


def test_openapi_document_describes_the_endpoints(client: Client) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["info"]["title"] == "ModelFit API"
    assert {"/api/v1/models/", "/api/v1/models/{slug}/", "/api/v1/hardware/"} <= set(doc["paths"])


def test_model_detail_lists_published_scores_with_their_sources(client: Client) -> None:
    from catalog.models import Score

    data = client.get("/api/v1/models/llama-3-1-8b-instruct/").json()
    expected = Score.objects.filter(model__slug="llama-3-1-8b-instruct")
    assert len(data["scores"]) == expected.count() > 0
    first = expected.order_by("benchmark", "setting", "-value").first()
    assert data["scores"][0] == {
        "benchmark": first.benchmark,  # type: ignore[union-attr]
        "setting": first.setting,  # type: ignore[union-attr]
        "value": first.value,  # type: ignore[union-attr]
        "unit": first.unit,  # type: ignore[union-attr]
        "source": first.source,  # type: ignore[union-attr]
        "source_kind": first.source_kind,  # type: ignore[union-attr]
    }
    assert data["published_gguf"] == []
