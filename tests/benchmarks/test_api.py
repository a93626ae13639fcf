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
        ({"context": "abc"}, "context", "Must be a whole number (a JSON integer, not a string)."),
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


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", "", "null"])
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


NUMBER = "Must be a number (a JSON number, not a string or boolean)."
INTEGER = "Must be a whole number (a JSON integer, not a string)."


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"gen_tokens_per_s": True}, "gen_tokens_per_s", NUMBER),
        ({"prompt_tokens_per_s": "512.5"}, "prompt_tokens_per_s", NUMBER),
        ({"context": True}, "context", INTEGER),
        ({"context": "128"}, "context", INTEGER),
        ({"depth": 1.5}, "depth", INTEGER),
        ({"batch": False}, "batch", INTEGER),
        ({"hardware_count": [1]}, "hardware_count", INTEGER),
        ({"model": ["llama-3-1-8b-instruct"]}, "model", "Must be a string."),
        ({"notes": {"a": 1}}, "notes", "Must be a string."),
        ({"quant": 4}, "quant", "Must be a string."),
        ({"flash_attn": 1}, "flash_attn", "Must be true, false or null."),
        (
            {"gen_tps": 130.0},
            "gen_tps",
            "Not a field of a result; the OpenAPI document lists them.",
        ),
        ({"quant": ""}, "quant", "Choose a quant, or write the file name."),
    ],
)
def test_wrong_json_types_are_a_400_naming_the_field(
    client: Client, changes: dict[str, Any], field: str, message: str
) -> None:
    response = post(client, body(**changes))
    assert response.status_code == 400
    assert {"field": field, "message": message} in response.json()["detail"]
    assert not Submission.objects.exists()


NUL = "contains a NUL character (\\u0000), which we cannot store."
NOT_A_NUMBER = "is not a JSON number; send a finite number or null."
NO_SPEED = json.dumps(body(gen_tokens_per_s=None))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (json.dumps(body(notes="a\x00b")), f"A string in 'notes' {NUL}"),
        (json.dumps(body(name="\x00")), f"A string in 'name' {NUL}"),
        (json.dumps(body() | {"\x00": 1}), f"A key {NUL}"),
        (NO_SPEED.replace("null", "NaN"), f"NaN {NOT_A_NUMBER}"),
        (NO_SPEED.replace("null", "-Infinity"), f"-Infinity {NOT_A_NUMBER}"),
        ("[" * 9000 + "]" * 9000, "The JSON is nested more than 2 levels deep."),
        ('{"model": "\\udc00"}',
         "A string in 'model' contains an unpaired surrogate (\\udc00), which is not text."),
    ],
)  # fmt: skip
def test_bad_bytes_and_numbers_are_a_400_not_a_database_error(
    client: Client, postgres: None, raw: str, message: str
) -> None:
    response = post(client, raw)
    assert response.status_code == 400
    assert response.json() == {"error": message, "detail": [{"field": "body", "message": message}]}
    assert not Submission.objects.exists()


def test_invalid_utf8_is_a_400(client: Client) -> None:
    response = client.post(URL, b'{"name": "\xff"}', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "The JSON is not valid UTF-8 (byte 0xff at 10)."


def test_a_body_over_the_limit_is_refused_before_it_is_read(client: Client) -> None:
    response = post(client, body(notes="x" * 20_000))
    assert response.status_code == 400
    assert response.json()["error"] == "The body is over 20,000 bytes."


def test_the_openapi_document_states_the_bounds_the_forms_enforce(client: Client) -> None:
    from benchmarks.forms import RowForm, SetupForm
    from catalog.models import Model

    spec = client.get("/api/v1/openapi.json").json()
    post_op = spec["paths"]["/api/v1/benchmarks/"]["post"]
    schema = post_op["requestBody"]["content"]["application/json"]["schema"]
    fields = schema["properties"]
    assert set(fields) == {
        "model", "quant", "hardware", "hardware_text", "hardware_count", "runtime",
        "runtime_version", "backend", "context", "depth", "batch", "flash_attn", "kv_type",
        "prompt_tokens_per_s", "gen_tokens_per_s", "notes", "link", "name",
    }  # fmt: skip
    assert schema["additionalProperties"] is False
    forms = SetupForm.base_fields | RowForm.base_fields
    for name in ("hardware_count", "context", "depth", "batch"):
        assert (fields[name]["minimum"], fields[name]["maximum"]) == (
            forms[name].min_value,
            forms[name].max_value,
        ), name
        assert "integer" in fields[name]["type"], name
    for name in ("prompt_tokens_per_s", "gen_tokens_per_s"):
        assert (fields[name]["minimum"], fields[name]["maximum"]) == (0.01, 10_000_000.0)
        assert (forms[name].min_value, forms[name].max_value) == (0.01, 10_000_000.0)
    for name in ("hardware", "hardware_text", "runtime_version", "notes", "link", "name"):
        assert fields[name]["maxLength"] == forms[name].max_length, name
    assert fields["quant"]["maxLength"] == forms["quant_text"].max_length == 200
    assert fields["model"]["maxLength"] == Model._meta.get_field("slug").max_length == 120
    for name in ("model", "quant", "hardware"):
        assert fields[name]["minLength"] == 1, name
    for name in ("runtime", "backend", "kv_type"):
        choices = [value for value, _ in forms[name].choices]
        assert [v for v in fields[name]["enum"] if v is not None] == choices, name
    assert fields["context"]["minimum"] == 1
    # Required where the form requires it and the API sets no default (quant: see its text).
    assert sorted(schema["required"]) == [
        "backend",
        "context",
        "hardware",
        "model",
        "quant",
        "runtime",
    ]
    assert all(forms[name].required for name in schema["required"] if name != "quant")
    for name, default in {"hardware_count": 1, "depth": 0, "batch": 1, "kv_type": "f16"}.items():
        assert fields[name]["default"] == default == forms[name].initial, name
