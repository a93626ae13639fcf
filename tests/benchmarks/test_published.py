"""Published measurements (benchmarks/published.py): the CSVs read once, rows indexed by model
and device, malformed rows skipped, our estimate beside each, and the pages that show them."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from django.test import Client

from benchmarks import published
from catalog.models import Hardware, Model, Revision
from catalog.snapshot import snapshot
from estimator.units import tps

GOOD = {
    "device": "NVIDIA GeForce RTX 4090",
    "hardware_slug": "rtx-4090",
    "n_devices": "1",
    "backend": "CUDA",
    "gpu_arch": "sm_89",
    "engine": "llama.cpp",
    "model": "llama 8B Q4_K - Medium",
    "model_slug": "llama-3-1-8b-instruct",
    "quant": "Q4_K_M",
    "model_size_gib": "4.58",
    "model_params_b": "8.03",
    "test": "tg128",
    "n_prompt": "0",
    "n_gen": "128",
    "depth": "0",
    "batch": "1",
    "flash_attn": "1",
    "n_ubatch": "",
    "tps": "150.25",
    "build": "b6552 1d0125bc",
    "date": "2025-10-01",
    "url": "https://github.com/ggml-org/llama.cpp/discussions/15013#discussioncomment-1",
    "notes": "Ubuntu 24.04, driver 580",
}


def write(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header or published.HEADER)
        for r in rows:
            writer.writerow([r.get(k, "") for k in (header or published.HEADER)])
    return path


def row(**changes: str) -> dict[str, str]:
    return GOOD | changes


def test_rows_are_indexed_by_catalog_model_and_device_newest_first(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", [
        row(),
        row(test="pp512", n_prompt="512", n_gen="0", tps="9000.5", date="2026-01-02"),
        row(hardware_slug="", device="Some GPU not in the catalog", tps="12"),
        row(model_slug="", model="llama 7B Q4_0", quant="Q4_0", test="tg128", tps="99.5"),
        row(test="tg128 @ d4096", depth="4096", tps="120", date="2026-03-01"),
    ])  # fmt: skip
    index = published.read(tmp_path)
    assert len(index.rows) == 5 and index.skipped == 0
    by_model = index.by_model["llama-3-1-8b-instruct"]
    assert [r.tps for r in by_model] == [9000.5, 150.25, 12.0, 120.0]  # depth 0 first, newest
    assert [r.tps for r in index.by_hardware["rtx-4090"]] == [9000.5, 150.25, 99.5, 120.0]
    first = by_model[1]
    assert (first.flash_attn, first.n_ubatch, first.kind) == (True, None, "tg")
    assert str(first.date) == "2025-10-01" and first.build == "b6552 1d0125bc"
    assert by_model[0].kind == "pp" and by_model[3].settings == "FA on"


@pytest.mark.parametrize(
    "bad",
    [
        {"tps": ""},
        {"tps": "fast"},
        {"tps": "-3"},
        {"tps": "nan"},
        {"tps": "inf"},
        {"url": "http://example.com/run"},
        {"url": "../data/measured/x.csv"},
        {"url": "/home/someone/run.txt"},
        {"hardware_slug": "RTX 4090"},
        {"model_slug": "llama/3"},
        {"n_devices": "0"},
        {"batch": "two"},
        {"depth": "-1"},
        {"flash_attn": "yes"},
        {"date": "2025-13-40"},
        {"device": ""},
        {"test": " "},
        {"engine": "exllama"},
    ],
)
def test_a_malformed_row_is_skipped_and_counted(tmp_path: Path, bad: dict[str, str]) -> None:
    write(tmp_path / "a.csv", [row(), row(**bad), row(tps="151")])
    index = published.read(tmp_path)
    assert [r.tps for r in index.rows] == [150.25, 151.0]
    assert index.skipped == 1


def test_short_rows_other_headers_and_unreadable_files_are_skipped(tmp_path: Path) -> None:
    good = write(tmp_path / "a.csv", [row()])
    with good.open("a") as f:
        f.write("NVIDIA GeForce RTX 4090,rtx-4090,1,CUDA\n")  # cut short
        f.write('"unterminated,quote\n')
    write(tmp_path / "b.csv", [row(), row()], header=[*published.HEADER[:-1], "comment"])
    (tmp_path / "c.csv").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "d.csv").write_text("")
    index = published.read(tmp_path)
    assert [r.tps for r in index.rows] == [150.25]
    assert index.skipped == 2 + 2 + 1  # two bad lines in a, b's two rows, c


def test_the_older_calibration_file_gets_https_sources_and_catalog_devices(
    tmp_path: Path,
) -> None:
    older = write(
        tmp_path / "older.csv",
        [
            {
                "device": "4090 24GB", "n_devices": "1", "backend": "llama.cpp CUDA",
                "engine": "llama.cpp", "model": "Llama-3-8B", "quant": "Q4_K_M",
                "test": "tg512", "n_gen": "512", "depth": "0", "batch": "1", "tps": "130.58",
                "build": "May 2024", "source_type": "primary",
                "source": "github.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference README.md "
                "@aa72e0e (May 2024, llama-bench)",
            },
            {"device": "Apple M9", "n_devices": "1", "tps": "1", "test": "tg128",
             "model": "Llama-2-7B", "source": ""},
        ],
        header=published.OLDER_HEADER,
    )  # fmt: skip
    (tmp_path / "new").mkdir()
    index = published.read(tmp_path / "new", older)
    assert index.skipped == 1  # no source
    (r,) = index.rows
    assert r.url == "https://github.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference"
    assert (r.hardware_slug, r.model_slug, r.backend) == ("rtx-4090", "", "CUDA")
    assert index.by_hardware["rtx-4090"] == (r,) and index.by_model == {}


def test_the_token_changes_with_the_files_bytes(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", [row()])
    first = published.read(tmp_path).token
    assert published.read(tmp_path).token == first
    write(tmp_path / "a.csv", [row(tps="150.26")])
    assert published.read(tmp_path).token not in ("", first)


def test_the_shipped_files_parse_and_point_at_public_urls() -> None:
    index = published.index()
    assert index is published.index()  # read once per process
    assert index.rows and index.skipped == 0
    assert all(r.url.startswith("https://") for r in index.rows)


def measurement(**changes: str) -> published.Measurement:
    return published.Measurement(**published._row(row(**changes)))


@pytest.mark.django_db
def test_our_estimate_follows_the_setting() -> None:
    model = Model.objects.get(slug="llama-3-1-8b-instruct")
    hw = Hardware.objects.get(slug="rtx-4090")
    tg = published.estimate(measurement(), model, hw)
    deep = published.estimate(measurement(test="tg128 @ d16384", depth="16384"), model, hw)
    batch = published.estimate(
        measurement(test="bb_tg", n_prompt="512", n_gen="128", batch="8"), model, hw
    )
    two = published.estimate(measurement(n_devices="2"), model, hw)
    pp = published.estimate(measurement(test="pp512", n_prompt="512", n_gen="0"), model, hw)
    assert tg and deep and batch and two and pp
    assert deep < tg < batch  # a deeper cache reads more; eight sequences share the weights
    assert pp > tg  # a prompt runs as matrix products
    assert published.estimate(measurement(test="pp512+tg128", n_prompt="512"), model, hw) is None
    # batched-bench's S_PP: each sequence's prompt processed as a prompt of that length
    bb_pp = published.estimate(measurement(test="bb_pp", n_prompt="512", n_gen="0"), model, hw)
    assert bb_pp == pp
    assert published.estimate(measurement(quant="Q4_K - Weird"), model, hw) is None


@pytest.mark.django_db
def test_our_estimate_runs_on_the_measurements_backend() -> None:
    """A Vulkan run is estimated with Vulkan's constants; a backend the device cannot run
    (Metal on a GeForce) leaves its default."""
    model = Model.objects.get(slug="llama-3-1-8b-instruct")
    hw = Hardware.objects.get(slug="rtx-4090")
    cuda = published.estimate(measurement(backend="CUDA"), model, hw)
    vulkan = published.estimate(measurement(backend="Vulkan"), model, hw)
    assert cuda and vulkan and cuda != vulkan
    assert published.estimate(measurement(backend="Metal"), model, hw) == cuda


@pytest.fixture
def shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> published.Index:
    """The pages read an index of 25 rows for Llama 3.1 8B on the RTX 4090, with bad rows."""
    rows = [row(tps=f"{100 + i}", date=f"2025-11-{i + 1:02d}") for i in range(24)]
    reddit = "https://www.reddit.com/r/LocalLLaMA/comments/abc/4090_results/"
    rows.append(
        row(test="pp512", n_prompt="512", n_gen="0", tps="8765.4", date="2026-02-01", url=reddit)
    )
    rows.append(row(tps="broken"))
    rows.append(row(url="file:///etc/passwd"))
    index = published.read(write(tmp_path / "x.csv", rows).parent)
    assert index.skipped == 2
    monkeypatch.setattr(published, "index", lambda: index)
    Revision.bump()  # pages cached before this test are not these
    return index


def cells(html: str, section_id: str) -> list[list[str]]:
    start = html.index(f'id="{section_id}"')
    part = html[start : html.index("</section>", start)]
    body = part[part.index("<tbody>") :]
    return [
        [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in
         re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)]
        for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]  # fmt: skip


@pytest.mark.django_db
def test_the_model_page_shows_published_rows_with_source_estimate_and_ratio(
    client: Client, shown: published.Index
) -> None:
    html = client.get("/models/llama-3-1-8b-instruct/").content.decode()
    assert "25 results for Llama 3.1 8B Instruct published with llama-bench" in html
    rows = cells(html, "panel-published")
    assert len(rows) == published.SHOWN
    snap, _ = snapshot()
    model = Model.objects.get(slug="llama-3-1-8b-instruct")
    hw = Hardware.objects.get(slug="rtx-4090")
    pp = shown.by_model["llama-3-1-8b-instruct"][0]
    ours = published.estimate(pp, model, hw, snap.calibration.value("nvidia"))
    assert ours
    assert rows[0][:8] == [
        "NVIDIA GeForce RTX 4090", "CUDA (sm_89) llama.cpp b6552 1d0125bc", "Q4_K_M", "pp512",
        "FA on", "8,765", tps(ours), f"{8765.4 / ours:.2f}",
    ]  # fmt: skip
    assert rows[0][8].startswith("reddit.com 2026-02-01")
    assert '<th scope="col">Published measurement: source</th>' in html
    assert (
        '<a href="https://www.reddit.com/r/LocalLLaMA/comments/abc/4090_results/" '
        'rel="noopener nofollow">reddit.com</a>'
    ) in html
    assert rows[1][5] == "123"  # then the newest tg128
    # Apart from community submissions: its own section, before theirs.
    assert html.index('id="panel-published"') < html.index('id="community"')
    link = re.search(r'<a href="\?([^"]+)#panel-published">All 25 published measurements</a>', html)
    assert link and "pub=all" in link.group(1)
    every = client.get("/models/llama-3-1-8b-instruct/?pub=all").content.decode()
    assert len(cells(every, "panel-published")) == 25 and "All 25 published" not in every


@pytest.mark.django_db
def test_the_hardware_page_lists_published_rows_by_model(
    client: Client, shown: published.Index
) -> None:
    html = client.get("/hardware/rtx-4090/").content.decode()
    assert "25 results for NVIDIA GeForce RTX 4090 published with llama-bench" in html
    rows = cells(html, "published")
    assert len(rows) == published.SHOWN
    assert rows[0][0] == "llama 8B Q4_K - Medium"
    assert '<a href="/models/llama-3-1-8b-instruct/">llama 8B Q4_K - Medium</a>' in html
    assert "https://github.com/ggml-org/llama.cpp/discussions/15013#discussioncomment-1" in html
    every = client.get("/hardware/rtx-4090/?pub=all").content.decode()
    assert len(cells(every, "published")) == 25


@pytest.mark.django_db
def test_pages_without_published_rows_say_so(client: Client, shown: published.Index) -> None:
    html = client.get("/hardware/rtx-3090/").content.decode()
    assert "No published benchmark result of NVIDIA GeForce RTX 3090 in our collection yet." in html


def test_a_measurement_keeps_its_settings_in_words() -> None:
    m = measurement(test="bb_tg", n_prompt="512", n_gen="128", batch="16", n_ubatch="2048",
                    flash_attn="")  # fmt: skip
    assert m.settings == "prompt 512, generate 128, batch 16, -ub 2048"
    assert measurement(test="pp512 @ d8192", depth="8192").settings == "FA on"


@pytest.mark.django_db
def test_a_model_outside_the_catalog_shows_no_published_section(client: Client) -> None:
    from catalog.models import EstimateConfig

    model = Model.objects.get(slug="llama-3-1-8b-instruct")
    stored = EstimateConfig.objects.create(key="k" * 16, name="Pasted", config=model.config)
    html = client.get(f"/estimate/{stored.key}/").content.decode()
    assert re.search(r'<section id="panel-published"[^>]* hidden>', html)
