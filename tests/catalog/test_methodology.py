"""The methodology page publishes the estimator beside real llama.cpp, from the data the
estimator's tests assert on."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from estimator.validation import engine_data, engine_runs, speed_errors

pytestmark = pytest.mark.django_db


def test_every_recorded_engine_run_is_in_the_validation_table(client: Client) -> None:
    html = client.get("/methodology/").content.decode()
    table = html[html.index('<table class="validation">') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr><th scope=\"row\">(.*?)</th>", table)
    assert len(rows) == len(engine_runs()) >= 45
    case, run = engine_runs()[0]
    assert rows[0] == case["name"]
    # llama.cpp's own figure, as recorded, beside ours
    assert f'<td class="num">{run["model_mib"]:,.2f}</td>' in table
    assert f'<td class="num">{run["compute_mib"]:,.2f}</td>' in table


def test_file_sizes_and_speed_errors_come_from_the_same_data(client: Client) -> None:
    html = client.get("/methodology/").content.decode()
    for case in engine_data()["cases"]:
        assert f'<td class="num">{case["file_bytes"]:,}</td>' in html
    decode_nvidia = speed_errors("tg")["nvidia"]
    assert f'<td class="num">{len(decode_nvidia)}</td>' in html
    assert "NVIDIA (CUDA)" in html and "Apple (Metal)" in html


def test_the_constants_shown_are_the_code_s(client: Client) -> None:
    from estimator.throughput import DECODE_EFFICIENCY

    html = client.get("/methodology/").content.decode()
    assert f'<th scope="row">apple</th><td class="num">{DECODE_EFFICIENCY["apple"]}</td>' in html
    assert "A fits at 30 tokens/s or more" in html
