"""Every page renders its key content without JavaScript; junk input never gives a 500."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def get(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, url
    return response.content.decode()


def test_browse_lists_models_newest_first_with_24_per_page(client: Client) -> None:
    html = get(client, "/")
    assert html.count('<tr>\n      <th scope="row">') == 24
    assert "page 1 of" in html


def test_browse_search_finds_a_model_by_words_in_any_order(client: Client) -> None:
    html = get(client, "/?q=vision+phi")
    assert "Phi-3.5-vision" in html or "Phi 3.5 Vision" in html
    assert "1 match" in html


def test_browse_filters_by_size_modality_license_provider_and_context(client: Client) -> None:
    html = get(client, "/?params_min=1&params_max=10&modality=image&provider=google")
    names = re.findall(r'<a href="/models/([^/]+)/">', html)
    assert "gemma-3-4b-it" in names
    assert "gemma-3-27b-it" not in names  # 27B is above the 10B maximum
    assert "gemma-3-1b-it" not in names  # text only
    html = get(client, "/?license=noncommercial")
    assert "c4ai-command-r-v01" in html
    assert "llama-3-1-8b-instruct" not in html
    html = get(client, "/?context_min=1000000")
    assert "qwen2-5-7b-instruct-1m" in html
    assert "llama-3-1-8b-instruct" not in html


def test_browse_sorts_by_size(client: Client) -> None:
    html = get(client, "/?sort=params_total")
    first = re.search(r'<a href="/models/([^/]+)/">', html)
    assert first is not None and first.group(1) == "smollm2-135m-instruct"


@pytest.mark.parametrize(
    ("query", "note"),
    [
        ("?params_min=abc", "Min params (B) must be a number; ignored."),
        ("?params_min=1e400", "Min params (B) must be a number; ignored."),
        ("?params_min=-5", "Min params (B) -5 is out of range (0 to 10000); using 0."),
        ("?params_min=20&params_max=1", "Max params (B) 1 is below min params (20); ignored."),
        ("?sort=evil", "Sort &#x27;evil&#x27; is not one of the options; using Newest."),
        ("?modality=smell", "Input &#x27;smell&#x27; is not one of the options; using Any input."),
        ("?context_min=7", "Context &#x27;7&#x27; is not one of the options; using Any context."),
        ("?provider=%01",
         "Provider &#x27;\\x01&#x27; is not one of the options; using Any provider."),
        ("?q=" + "x" * 500, "Search is longer than 100 characters; using the first 100."),
    ],
)  # fmt: skip
def test_browse_corrects_junk_and_says_how(client: Client, query: str, note: str) -> None:
    html = get(client, "/" + query)
    notes = html[html.index("Some filters were corrected:") :].split("</ul>")[0]
    assert re.findall(r"<li>(.*?)</li>", notes) == [note]


def test_a_corrected_filter_shows_its_corrected_value(client: Client) -> None:
    html = get(client, "/?params_min=-5&modality=smell")
    assert 'name="params_min" value="0"' in html
    assert '<option value="" selected>Any input</option>' in html


@pytest.mark.parametrize(("query", "shown"), [("?page=zzz", 1), ("?page=99999", "last")])
def test_browse_pages_past_the_end_show_the_last(client: Client, query: str, shown: object) -> None:
    html = get(client, "/" + query)
    number, last = map(int, re.search(r"page (\d+) of (\d+)", html).groups())  # type: ignore[union-attr]
    assert number == (last if shown == "last" else shown)
    assert "Some filters were corrected" not in html


def test_browse_links_pages_with_the_filters_as_read(client: Client) -> None:
    html = get(client, "/?params_max=10.0&sort=-release_date&license=commercial")
    assert 'href="?params_max=10&amp;license=commercial&amp;page=2" rel="next"' in html


def test_model_page_shows_specs_with_sources(client: Client) -> None:
    html = get(client, "/models/phi-3-5-vision-instruct/")
    assert "microsoft/Phi-3.5-vision-instruct" in html
    assert "4146621440" in html  # computed total, equal to the official total
    assert "matches" in html
    assert "3821079552" in html  # language model
    assert "Image encoder" in html
    assert "huggingface.co/microsoft/Phi-3.5-vision-instruct/blob/main/config.json" in html
    assert "MIT" in html


def test_model_page_of_a_moe_model_shows_active_parameters(client: Client) -> None:
    html = get(client, "/models/qwen3-30b-a3b/")
    assert "30532122624" in html
    assert "3353032704" in html
    assert "8 of 128 experts" in html


def test_model_page_says_unknown_for_an_unknown_encoder_count(client: Client) -> None:
    html = get(client, "/models/phi-4-multimodal-instruct/")
    assert "at least" in html
    assert "unknown — Conformer" in html


def test_provider_family_and_hardware_pages(client: Client) -> None:
    assert "Llama 3.1 8B Instruct" in get(client, "/providers/meta/")
    assert "Gemma" in get(client, "/families/gemma/")
    html = get(client, "/hardware/")
    assert "Apple silicon" in html and "Datacenter GPUs" in html
    html = get(client, "/hardware/rtx-4090/")
    assert "24 GiB" in html and "1008 GB/s" in html
    html = get(client, "/hardware/apple-m2-ultra/")
    assert "192 GiB" in html and "800 GB/s" in html


@pytest.mark.parametrize(
    "url",
    [
        "/models/no-such-model/",
        "/providers/nobody/",
        "/families/none/",
        "/hardware/tpu-v9/",
        "/nothing/",
    ],
)
def test_unknown_slugs_give_the_404_page(client: Client, url: str) -> None:
    html = get(client, url, status=404)
    assert "Not found" in html


def test_pages_send_csp_and_need_no_inline_script(client: Client) -> None:
    response = client.get("/models/llama-3-1-8b-instruct/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    html = response.content.decode()
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    # Only non-executable data blocks (FAQ JSON-LD) may be inline.
    assert all('type="application/ld+json"' in tag for tag in inline)
    assert " style=" not in html


def test_hsts_is_sent_over_https_when_configured(client: Client, settings: object) -> None:
    settings.SECURE_HSTS_SECONDS = 31536000  # type: ignore[attr-defined]
    response = client.get("/healthz", secure=True)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_healthz_is_plain_ok(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok"


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (8_030_261_248, "8.03B"),
        (671_026_419_200, "671.0B"),
        (1_026_408_232_448, "1.03T"),
        (494_032_768, "494M"),
        (2_950_272, "3.0M"),
        (210_944, "211K"),
    ],
)
def test_parameter_counts_are_shown_with_sensible_precision(count: int, shown: str) -> None:
    from estimator.units import params

    assert params(count) == shown
