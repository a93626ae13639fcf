"""The methodology page publishes the estimator beside real llama.cpp, from the data the
estimator's tests assert on."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from pytest_django.asserts import assertInHTML

from estimator.units import tps
from estimator.validation import engine_data, engine_runs, speed_errors, speed_summary

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
    decode_cuda = speed_errors("tg")["CUDA"]
    residual = _section(html, 'id="residuals"')
    assert (
        f'<th scope="row">CUDA</th><td>decode</td><td class="num">{len(decode_cuda)}</td>'
        in residual
    )
    for s in speed_summary():
        assert f'<td>{s.kind}</td><td class="num">{s.rows}</td>' in residual
        assert f'<td class="num">{100 * s.p80_error:.0f} %</td>' in residual


def test_the_constants_shown_are_the_code_s(client: Client) -> None:
    from estimator.throughput import PROFILES

    html = client.get("/methodology/").content.decode()
    metal = PROFILES["Metal"]
    assert f'<th scope="row">Metal</th><td class="num">{metal.eta}</td>' in html
    assert f'<td class="num">{round(metal.layer_s * 1e6)} µs</td>' in html
    assert "A fits at 30 tokens/s or more" in html


def _section(html: str, start: str, end: str = "</table>") -> str:
    part = html[html.index(start) :]
    return part[: part.index(end) + len(end)]


def test_the_offload_section_shows_the_modules_errors_and_targets(client: Client) -> None:
    from estimator import offload_validation as offload

    html = client.get("/methodology/").content.decode()
    assert '<a href="#offload">Offload</a>' in html
    held = {(s.category, s.test): s for s in offload.summary("held_out")}
    summary = _section(html, '<table class="offload-summary">')
    moe = held["gpu_ram_moe", "tg"]
    assertInHTML(
        '<tr><th scope="row">decode (tg)</th><td>GPU + RAM, MoE</td><td>held out</td>'
        f'<td class="num">{moe.n}</td><td class="num">{100 * moe.median_error:.1f} %</td>'
        f'<td class="num">{moe.max_ratio:.2f}x</td></tr>',
        summary,
    )
    decode = next(t for t in offload.targets() if t.name == "decode: median error")
    assertInHTML(
        '<tr><th scope="row">decode: median error</th>'
        f'<td class="num">{decode.n}</td><td class="num">{100 * decode.value:.1f} %</td>'
        '<td class="num">25 %</td><td>yes</td></tr>',
        html,
    )


def test_every_compared_offload_run_and_every_exclusion_is_listed(client: Client) -> None:
    from estimator import offload_validation as offload

    html = client.get("/methodology/").content.decode()
    runs = _section(html, '<table class="offload-runs">')
    compared = [c for c in offload.checks() if c.compared]
    assert runs.count('<tr><th scope="row">') == len(compared)
    row32 = next(c for c in compared if c.row.index == 32)
    assertInHTML(
        '<tr><th scope="row">32</th><td>Qwen3-30B-A3B-Instruct-2507</td><td>Q4_K_M</td>'
        '<td>RTX 2080</td><td class="num">102</td><td><code>-ngl 99 --n-cpu-moe 36</code></td>'
        f'<td>tg</td><td class="num">37</td><td class="num">{tps(row32.predicted)}</td>'
        f'<td class="num">{100 * row32.error:+.1f} %</td><td>held out</td>'
        '<td><a href="https://github.com/AlexsJones/llmfit/pull/755" rel="noopener nofollow">'
        "AlexsJones/llmfit</a></td></tr>",
        runs,
    )
    excluded = _section(html, '<table class="offload-excluded">')
    figures = [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', excluded)]
    assert sum(figures) == len(offload.exclusions())
    assert "paging: 64 GB of RAM for a ~63 GB model" in excluded


def test_the_board_power_example_is_the_estimators(client: Client) -> None:
    from estimator.validation import device_from

    html = client.get("/methodology/").content.decode()
    ada = device_from("rtx-6000-ada", "CUDA")
    assert ada is not None and ada.tdp_watts == 300
    share = round(100 * ada.quantized_power_share())
    assert share == 69  # 300 W / (0.6 W per TFLOPS x 728.4 INT8 TFLOPS)
    assert f"a 300 W RTX 6000 Ada runs its quantized kernels at {share} % of their peak" in html
