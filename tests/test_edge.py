"""Input hygiene at the edge: bad bytes and numbers are a 400 that says what is wrong, never a
500; every /api/ answer is JSON. Against PostgreSQL, which refuses NUL in text."""

from __future__ import annotations

import json
import timeit
from typing import Any

import pytest
from django.db import OperationalError
from django.http import HttpResponse
from django.test import Client, RequestFactory

from config import safejson
from config.middleware import reject_bad_input

pytestmark = pytest.mark.usefixtures("postgres")

CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
    "intermediate_size": 8192, "num_attention_heads": 32, "num_hidden_layers": 16,
    "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072,
    "rope_theta": 500000.0, "torch_dtype": "bfloat16",
}  # fmt: skip


@pytest.mark.parametrize(
    "url",
    [
        "/models/llama-3-1-8b-instruct/?ctx=%00",
        "/?q=a%00b",
        "/estimate/?repo=meta-llama%00/x",
        "/gpus/prices/?provider=%00",
        "/compare/?models=%00",
        "/hardware/rtx%004090/",
        "/benchmarks/submit/?model=%00",
    ],
)
def test_a_nul_in_a_page_address_is_a_400_page_that_names_it(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"NUL character" in response.content


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/models/?provider=%00",
        "/api/v1/models/llama%00/",
        "/api/v1/estimate?model=llama-3-1-8b-instruct&gpu=%00",
        "/api/v1/benchmarks/?hardware=rtx%004090",
    ],
)
def test_a_nul_in_an_api_address_is_a_json_400(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert response.json() == {
        "error": "The query string contains a NUL character (%00)."
        if "?" in url and "%00" in url.split("?")[1]
        else "The address contains a NUL character (%00).",
        "detail": [],
    }


def test_a_nul_in_a_posted_form_field_is_a_400_before_the_view(client: Client) -> None:
    response = client.post("/benchmarks/submit/", {"action": "read", "paste": "| model |\x00"})
    assert response.status_code == 400
    assert b"A form field contains a NUL character." in response.content


def test_a_nul_in_a_multipart_form_field_name_is_a_400(client: Client) -> None:
    response = client.post("/estimate/", {"config\x00": "{}", "name": "x"})  # multipart
    assert response.status_code == 400
    assert b"A form field contains a NUL character." in response.content


@pytest.mark.parametrize("url", ["/", "/admin/", "/api/v1/models/"])
def test_a_nul_in_a_cookie_is_a_400_before_the_session_is_read(client: Client, url: str) -> None:
    # A quoted cookie value may spell NUL as \\000; the session store would query with it.
    response = client.get(url, headers={"Cookie": 'sessionid="\\000abcdefghijklmnop"'})
    assert response.status_code == 400
    assert b"A cookie contains a NUL character; clear this site" in response.content


def test_the_edge_check_costs_microseconds_on_a_page_request() -> None:
    middleware = reject_bad_input(lambda request: HttpResponse())
    request = RequestFactory().get("/models/llama-3-1-8b-instruct/?ctx=8192&users=4&kv=q8_0")
    runs = timeit.repeat(lambda: middleware(request), number=2000, repeat=5)
    per_request = min(runs) / 2000  # the best run: a busy machine only slows the others
    assert per_request < 10e-6, f"{per_request * 1e6:.1f} µs"


OVER = "(over 9,223,372,036,854,775,807)"
NUL = "contains a NUL character (\\u0000), which we cannot store."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": NaN}', "NaN is not a JSON number; send a finite number or null."),
        ("[1, -Infinity]", "-Infinity is not a JSON number; send a finite number or null."),
        ('{"a": {"b": 1e400}}', "The number in 'a.b' is too large; send a finite number."),
        ('{"a": 1' + "0" * 30 + "}", f"The integer in 'a' is too large {OVER}."),
        ("[" + "1" * 5000 + "]", f"An integer in the JSON is too large {OVER}."),
        ('{"a": ["ok", "x\\u0000"]}', f"A string in 'a[1]' {NUL}"),
        ('{"k\\u0000": 1}', f"A key {NUL}"),
        ('{"a": "\\udc00"}',
         "A string in 'a' contains an unpaired surrogate (\\udc00), which is not text."),
        ("[" * 100_000 + "]" * 100_000, "The JSON is nested more than 32 levels deep."),
        ("[" * 33 + "]" * 33, "The JSON is nested more than 32 levels deep."),
        ("{'a': 1}", "This is not valid JSON: Expecting property name enclosed in double quotes "
         "(line 1, column 2)."),
        (b'{"a": "\xff"}', "The JSON is not valid UTF-8 (byte 0xff at 7)."),
        (b" " * 1_000_001, "The JSON is over 1,000,000 bytes."),
    ],
)  # fmt: skip
def test_safejson_refuses_what_we_cannot_store_or_compute_on(text: Any, message: str) -> None:
    with pytest.raises(safejson.JsonError) as refused:
        safejson.loads(text)
    assert str(refused.value) == message


def test_safejson_reads_ordinary_json_as_json_does() -> None:
    text = json.dumps(CONFIG | {"rope_scaling": {"factor": 8.0}, "name": "😀 \\u0000 text"})
    assert safejson.loads(text) == json.loads(text)
    assert safejson.loads("[" * 32 + "]" * 32) == json.loads("[" * 32 + "]" * 32)
    assert safejson.loads(b'"\\ud83d\\ude00"') == "😀"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"config": {"model_type": "llama", "rope_theta": NaN}}', "NaN is not a JSON number"),
        ('{"config": {"model_type": "llama\\u0000"}}', "contains a NUL character"),
        ('{"config": ' + "[" * 100_000 + "]" * 100_000 + "}", "The JSON is nested more than"),
        ('{"config": {"x": 1e999}}', "The number in 'config.x' is too large"),
        ("not json", "This is not valid JSON: Expecting value (line 1, column 1)."),
    ],
)
def test_a_bad_json_body_to_the_api_is_a_400_naming_the_problem(
    client: Client, raw: str, message: str
) -> None:
    response = client.post("/api/v1/estimate", raw, content_type="application/json")
    assert response.status_code == 400
    data = response.json()
    assert message in data["error"]
    assert data["detail"] == [{"field": "body", "message": data["error"]}]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_an_api_body_must_say_it_is_json(client: Client, content_type: str) -> None:
    # A form on another site can post these without a CORS preflight; JSON cannot.
    body = json.dumps({"config": CONFIG})
    response = client.post("/api/v1/estimate", body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["error"] == "Send the body as Content-Type: application/json."


def test_a_body_field_error_names_the_field_not_the_body(client: Client) -> None:
    body = {"config": CONFIG, "ctx": 0}
    response = client.post("/api/v1/estimate", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "ctx: Input should be greater than or equal to 1"


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/models/" + "a" * 121 + "/", "slug"),
        ("/api/v1/models/a.b/", "slug"),
        ("/api/v1/hardware/rtx%204090/", "slug"),
        ("/api/v1/models/?provider=<script>", "provider"),
        ("/api/v1/models/?limit=1e400", "limit"),
        ("/api/v1/models/?offset=-1", "offset"),
        ("/api/v1/prices/?min_memory_gb=" + "9" * 400, "min_memory_gb"),
        ("/api/v1/benchmarks/?model=" + "m" * 200, "model"),
    ],
)
def test_bad_query_and_path_values_are_json_400s_naming_the_parameter(
    client: Client, url: str, field: str
) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert response.json()["detail"][0]["field"] == field


def test_an_unexpected_error_in_the_api_is_a_json_500(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("catalog.api.Hardware.objects.all", broken)
    response = client.get("/api/v1/hardware/")
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error; it has been logged.", "detail": []}


def test_an_unreachable_database_in_the_api_is_a_json_503(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: Any) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr("catalog.api.Hardware.objects.all", down)
    response = client.get("/api/v1/hardware/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["error"] == "The database is unavailable; try again in a minute."
