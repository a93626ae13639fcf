"""POST /api/v1/benchmarks/ validates like the form; GET lists published results only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from benchmarks.models import Status, Submission

pytestmark = pytest.mark.django_db

URL = "/api/v1/benchmarks/"


def body(**changes: Any) -> dict[str, Any]:
    return {
        "model": "llama-3-1-8b-instruct", "quant": "Q4_K_M", "hardware": "rtx-4090",
        "hardware_count": 1, "runtime": "llama.cpp", "runtime_version": "b6123",
        "backend": "cuda", "context": 128, "depth": 0, "batch": 1, "flash_attn": True,
        "kv_type": "f16", "prompt_tokens_per_s": None, "gen_tokens_per_s": 130.0,
        "notes": "", "name": "api test",
    } | changes  # fmt: skip


def post(client: Client, data: Any, **extra: Any) -> Any:
    raw = data if isinstance(data, str) else json.dumps(data)
    return client.post(URL, raw, content_type="application/json", **extra)


def test_a_plausible_result_is_created_and_published(client: Client) -> None:
    response = post(client, body())
    assert response.status_code == 201
    data = response.json()
    assert data == {"id": Submission.objects.get().pk, "status": "published", "reason": ""}
    assert Submission.objects.get().source == "api"


def test_an_impossible_result_is_created_pending_with_the_reason(client: Client) -> None:
    response = post(client, body(gen_tokens_per_s=5000))
    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "pending"
    assert data["reason"].startswith("generation 5000 tokens/s is 22.9x the memory-bandwidth")


def test_another_device_is_stored_and_pending(client: Client) -> None:
    response = post(client, body(hardware="other", hardware_text="Radeon 890M iGPU"))
    assert response.status_code == 201 and response.json()["status"] == "pending"
    assert Submission.objects.get().hardware_text == "Radeon 890M iGPU"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"context": "abc"}, "context", "Enter a whole number."),
        ({"gen_tokens_per_s": -1}, "gen_tokens_per_s", "greater than or equal to 0.01"),
        ({"hardware": "rtx-9999"}, "hardware", "No device “rtx-9999” in our catalog"),
        ({"model": "nope"}, "model", "No model with that slug in our catalog."),
        ({"runtime": "magic"}, "runtime", "Select a valid choice."),
        ({"flash_attn": "yes"}, "flash_attn", "Must be true, false or null."),
        ({"gen_tokens_per_s": None}, "", "Give the prompt or the generation speed (or both)."),
        ({"context": 10_000_000}, "context", "more than Llama 3.1 8B Instruct's 131,072."),
    ],
)
def test_bad_fields_give_400_with_a_json_body_naming_them(
    client: Client, changes: dict[str, Any], field: str, message: str
) -> None:
    response = post(client, body(**changes))
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert any(d["field"] == field and message in d["message"] for d in detail), detail
    assert not Submission.objects.exists()


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", ""])
def test_a_body_that_is_not_a_json_object_gives_400(client: Client, raw: str) -> None:
    response = post(client, raw)
    assert response.status_code == 400 and response.json()["error"]


def test_a_duplicate_gives_400(client: Client) -> None:
    assert post(client, body()).status_code == 201
    again = post(client, body())
    assert again.status_code == 400
    assert "this exact result was already submitted on" in again.json()["error"]


def test_the_rate_limit_gives_429_with_retry_after(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.BENCHMARK_RATE_LIMIT = 1
    assert post(client, body()).status_code == 201
    limited = post(client, body(gen_tokens_per_s=131))
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert "Too many submissions" in limited.json()["error"]


def test_the_list_shows_published_results_only_and_filters(client: Client) -> None:
    post(client, body())
    post(client, body(gen_tokens_per_s=5000))  # held
    post(client, body(hardware="rtx-3090", gen_tokens_per_s=110))
    data = client.get(URL + "?model=llama-3-1-8b-instruct").json()
    assert data["count"] == 2
    assert {i["hardware"] for i in data["items"]} == {"rtx-4090", "rtx-3090"}
    assert client.get(URL + "?hardware=rtx-3090").json()["count"] == 1
    assert client.get(URL + "?limit=0").status_code == 400
    item = client.get(URL + "?hardware=rtx-3090").json()["items"][0]
    assert item["gen_tokens_per_s"] == 110 and item["quant"] == "Q4_K_M"
    assert Submission.objects.filter(status=Status.PENDING).count() == 1


def test_the_openapi_document_describes_the_request_body(client: Client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    post_op = spec["paths"]["/api/v1/benchmarks/"]["post"]
    schema = post_op["requestBody"]["content"]["application/json"]["schema"]
    assert "gen_tokens_per_s" in schema["properties"] and "model" in schema["required"]


def test_only_json_bodies_are_taken(client: Client) -> None:
    # A form on another site can post text/plain without a CORS preflight; JSON cannot.
    response = client.post(URL, json.dumps(body()), content_type="text/plain")
    assert response.status_code == 400
    assert response.json()["error"] == "Send the body as Content-Type: application/json."
    assert not Submission.objects.exists()


@pytest.mark.parametrize("value", [10**400, 1e308 * 10, "nan", "inf"])
def test_absurd_numbers_are_a_400_not_a_500(client: Client, value: Any) -> None:
    raw = json.dumps(body(gen_tokens_per_s=None)).replace(
        '"gen_tokens_per_s": null',
        f'"gen_tokens_per_s": {json.dumps(value) if isinstance(value, str) else value}',
    )
    response = post(client, raw)
    assert response.status_code == 400, response.content
