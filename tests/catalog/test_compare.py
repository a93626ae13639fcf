"""/compare/: models side by side, junk reported, a constant number of queries."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

URL = "/compare/"


def header(html: str) -> list[str]:
    thead = html[html.index('<table class="compare">') :].split("</thead>")[0]
    return re.findall(r'<th scope="col"><a href="/models/[^"]+/">([^<]+)</a>', thead)


def test_models_side_by_side_in_the_order_asked(client: Client) -> None:
    html = client.get(URL + "?models=qwen3-8b,llama-3-1-8b-instruct&gpu=rtx-3090").content.decode()
    assert header(html) == ["Qwen3 8B", "Llama 3.1 8B Instruct"]
    assert "<title>Compare Qwen3 8B vs Llama 3.1 8B Instruct · ModelFit</title>" in html
    # the same estimate as the model page at Q4_K_M, 8K context
    page = client.get("/models/llama-3-1-8b-instruct/?gpu=rtx-3090").content.decode()
    total = re.search(r"<th scope=\"row\">Total</th><td class=\"num\"><strong>([^<]+)", page)
    assert total and f"<strong>{total.group(1)}</strong>" in html


def test_unknown_duplicate_and_surplus_models_are_reported(client: Client) -> None:
    many = ",".join([
        "qwen3-8b", "qwen3-8b", "nope", "llama-3-1-8b-instruct", "gemma-3-4b-it",
        "gemma-3-12b-it", "gemma-3-27b-it", "phi-4", "mistral-7b-instruct-v0-3",
    ])  # fmt: skip
    html = client.get(URL + f"?models={many}&ctx=abc&gpu=<x>").content.decode()
    box = html[html.index('<div class="errors" role="status">') :].split("</div>")[0]
    assert re.findall(r"<li>([^<]*)</li>", box) == [
        "Device &#x27;&lt;x&gt;&#x27; is not one of the options; using NVIDIA GeForce RTX 4090.",
        "Context &#x27;abc&#x27; is not one of the options; using 8K.",
        "No model &#x27;nope&#x27; in our catalog; left out.",
        "At most 6 models side by side; mistral-7b-instruct-v0-3 left out.",
    ]
    assert len(header(html)) == 6


def test_adding_a_model_redirects_to_the_comparison_s_own_url(client: Client) -> None:
    response = client.get(URL + "?models=qwen3-8b&add=phi-4&gpu=rtx-4090&ctx=32768")
    assert response.status_code == 302
    assert response["Location"] == "/compare/?models=qwen3-8b,phi-4&gpu=rtx-4090&ctx=32768"


def test_each_column_can_be_removed(client: Client) -> None:
    html = client.get(URL + "?models=qwen3-8b,phi-4").content.decode()
    assert 'href="?models=phi-4&amp;gpu=rtx-4090&amp;ctx=8192" aria-label="Remove Qwen3 8B"' in html


def test_the_model_page_links_its_similar_models_to_compare(client: Client) -> None:
    html = client.get("/models/llama-3-1-8b-instruct/").content.decode()
    link = re.search(r'href="/compare/\?models=([^&"]+)&amp;gpu=rtx-4090"', html)
    assert link and link.group(1).startswith("llama-3-1-8b-instruct,")


def test_an_empty_comparison_invites_a_choice(client: Client) -> None:
    html = client.get(URL).content.decode()
    assert "Choose models to compare" in html


def test_queries_do_not_grow_with_the_number_of_models(  # type: ignore[no-untyped-def]
    client: Client, django_assert_max_num_queries
) -> None:
    client.get(URL + "?models=qwen3-8b")  # this process reads the devices once per revision
    with django_assert_max_num_queries(6):
        client.get(URL + "?models=qwen3-8b")
    with django_assert_max_num_queries(6):
        client.get(
            URL + "?models=qwen3-8b,phi-4,gemma-3-4b-it,gemma-3-12b-it,llama-3-1-8b-instruct"
        )


def test_published_scores_are_side_by_side_with_their_sources(client: Client) -> None:
    from catalog.models import Model, Score

    for slug, value in (("qwen3-8b", 76.9), ("llama-3-1-8b-instruct", 69.4)):
        Score.objects.create(
            model=Model.objects.get(slug=slug),
            benchmark="TestBench",
            setting="5-shot",
            value=value,
            source=f"https://example.org/{slug}",
        )
    html = client.get(URL + "?models=qwen3-8b,llama-3-1-8b-instruct,phi-4").content.decode()
    row = re.search(r"<th scope=\"row\">TestBench \(5-shot\)</th>.*?</tr>", html).group(0)  # type: ignore[union-attr]
    assert re.findall(r'<td class="num">(?:<a href="([^"]+)"[^>]*>([^<]+)</a>|(—))</td>', row) == [
        ("https://example.org/qwen3-8b", "76.9%", ""),
        ("https://example.org/llama-3-1-8b-instruct", "69.4%", ""),
        ("", "", "—"),
    ]
