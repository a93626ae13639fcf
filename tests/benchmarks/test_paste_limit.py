"""Reading a pasted llama-bench output is work done for a stranger: limited per network."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

URL = "/benchmarks/submit/"
TABLE = (Path(__file__).parent / "data" / "constructed_rtx4090_llama8b.md").read_text()


def test_reading_pastes_is_limited_per_network_with_retry_after(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.BENCHMARK_PASTE_RATE_LIMIT = 2
    for address in ("203.0.113.7", "203.0.113.8"):  # one /24 network
        response = client.post(URL, {"action": "read", "paste": TABLE}, REMOTE_ADDR=address)
        assert response.status_code == 200 and response.context["read"] == 4
    limited = client.post(URL, {"action": "read", "paste": TABLE}, REMOTE_ADDR="203.0.113.9")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    (message,) = limited.context["pasted"].errors["paste"]
    assert message.startswith(
        "Too many pasted outputs from your address: at most 2 an hour. Try again in about "
    )
    other = client.post(URL, {"action": "read", "paste": TABLE}, REMOTE_ADDR="198.51.100.1")
    assert other.status_code == 200


def test_an_invalid_paste_spends_nothing(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.BENCHMARK_PASTE_RATE_LIMIT = 1
    for _ in range(3):  # empty: the form refuses it before any reading
        assert client.post(URL, {"action": "read", "paste": ""}).status_code == 200
    assert client.post(URL, {"action": "read", "paste": TABLE}).context["read"] == 4
