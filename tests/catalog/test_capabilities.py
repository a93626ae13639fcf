"""Capabilities as sourced facts (docs/catalog-data.md): what the data files may say and how,
the page's "What it can do" table and the FAQ's answers from them, "unknown" without a source,
and coding/maths strength from published scores of models of similar size
(catalog.capabilities)."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

from catalog.capabilities import Entry, standing
from catalog.datafiles import CatalogError, parse_model
from catalog.models import Model, Revision
from tests.catalog.test_context_extension import entry

URL = "https://huggingface.co/acme/Rocket-8B"


def caps(**facts: Any) -> dict[str, Any]:
    return parse_model(entry(capabilities=facts), "acme.toml: models[0]").fields["capabilities"]


def test_each_fact_is_read_with_its_source() -> None:
    got = caps(
        tool_calling={"value": True, "source": URL, "note": "template renders tools"},
        thinking={"value": "switchable", "source": URL},
        languages={"value": ["English", "French"], "count": 12, "source": URL},
        images_per_prompt={"value": 5, "source": URL},
    )
    assert got == {
        "tool_calling": {"value": True, "source": URL, "note": "template renders tools"},
        "thinking": {"value": "switchable", "source": URL, "note": ""},
        "languages": {"value": ["English", "French"], "count": 12, "source": URL, "note": ""},
        "images_per_prompt": {"value": 5, "source": URL, "note": ""},
    }
    assert caps() == {}  # nothing stated: every fact unknown


@pytest.mark.parametrize(
    ("facts", "error"),
    [
        ({"censored": {"value": True, "source": URL}}, "unknown facts ['censored']"),
        ({"tool_calling": {"value": "yes", "source": URL}}, "field 'value' must be true or false"),
        ({"tool_calling": {"value": True}}, "field 'source' is missing"),
        ({"tool_calling": {"value": True, "source": "/home/me/card.md"}}, "must be an http(s) URL"),
        ({"thinking": {"value": "sometimes", "source": URL}}, "must be one of none, always"),
        ({"languages": {"value": [], "source": URL}}, "must list languages, or 'count'"),
        ({"languages": {"value": ["a", "b"], "count": 1, "source": URL}}, "is less than the 2"),
        ({"images_per_prompt": {"value": 0, "source": URL}}, "must be an integer >= 1"),
    ],
)
def test_bad_facts_name_the_file_and_field(facts: dict[str, Any], error: str) -> None:
    with pytest.raises(CatalogError, match=re.escape(error)) as raised:
        caps(**facts)
    assert str(raised.value).startswith("acme.toml: models[0] (acme/Rocket-8B): capabilities")


def test_every_catalog_fact_has_a_public_source() -> None:
    """Public URLs, never a local path; every stated fact of every model."""
    from catalog.datafiles import DATA_DIR, parse_provider_file

    stated = 0
    for path in sorted((DATA_DIR / "providers").glob("*.toml")):
        for m in parse_provider_file(path).models:
            for fact in m.fields["capabilities"].values():
                assert fact["source"].startswith("https://"), fact
                stated += 1
    assert stated > 350


# Coding and maths against models of similar size.


def snap_with(*scores: Entry) -> Any:
    table: dict[Any, list[Entry]] = {}
    for e in scores:
        table.setdefault(e.key, []).append(e)
    return SimpleNamespace(remember=lambda key, compute: table)


def score(pk: int, size: float, value: float, bench: str = "HumanEval", setting: str = "0-shot",
          source: str = "https://a.example/card") -> Entry:  # fmt: skip
    return Entry(pk, f"M{pk}", int(size * 1e9), bench, setting, value, "%", source)


def test_standing_among_models_of_half_to_twice_the_size() -> None:
    me = SimpleNamespace(pk=1, params_total=8_000_000_000)
    snap = snap_with(
        score(1, 8, 70), score(2, 7, 80), score(3, 14, 60), score(4, 5, 50),
        score(5, 70, 99),  # too big to compare
        score(6, 9, 99, setting="5-shot"),  # another setting
    )  # fmt: skip
    s = standing(snap, me, "coding")
    assert s is not None
    assert (s.rank, s.of, s.median, s.verdict) == (2, 4, 60, "middling")
    assert s.text.startswith(
        "HumanEval (0-shot): 70%, 2nd of 4 models of 4.00B to 16.00B with a published score in "
        "the same setting (median of the others 60%"
    )
    assert standing(snap, me, "maths") is None  # no maths score at all


def test_an_unstated_setting_compares_only_within_one_source() -> None:
    me = SimpleNamespace(pk=1, params_total=8_000_000_000)
    other = "https://b.example/blog"
    snap = snap_with(
        score(1, 8, 90, bench="GSM8K", setting=""), score(2, 8, 50, bench="GSM8K", setting=""),
        score(3, 8, 40, bench="GSM8K", setting=""),
        score(4, 8, 95, bench="GSM8K", setting="", source=other),
    )  # fmt: skip
    s = standing(snap, me, "maths")
    assert s is not None and (s.rank, s.of, s.verdict) == (1, 3, "strong")
    alone = snap_with(score(1, 8, 90, bench="GSM8K", setting=""),
                      score(4, 8, 95, bench="GSM8K", setting="", source=other))  # fmt: skip
    assert standing(alone, me, "maths") is None  # two others needed


# The page and the FAQ.


def faq(client: Client, slug: str) -> dict[str, str]:
    page = client.get(f"/models/{slug}/").content.decode()
    part = page[page.index('id="faq-h"') : page.index("</dl>", page.index('id="faq-h"'))]
    return {
        html.unescape(q): html.unescape(a)
        for q, a in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", part)
    }


@pytest.mark.django_db
def test_the_faq_answers_from_the_facts_with_their_source(client: Client) -> None:
    qwen = Model.objects.get(slug="qwen3-8b")
    assert qwen.capabilities["thinking"]["value"] == "switchable"
    answers = faq(client, "qwen3-8b")
    thinking = answers["Does Qwen3 8B have a thinking (reasoning) mode?"]
    assert thinking == (
        "Yes, switchable: thinking can be turned on and off, per "
        f"{qwen.capabilities['thinking']['source']}."
    )
    assert answers["Which languages does Qwen3 8B support?"].startswith(
        "119 languages, per https://"
    )
    tools = answers["Does Qwen3 8B support function calling (tool use)?"]
    assert tools.startswith(f"Yes, per {qwen.capabilities['tool_calling']['source']}")


@pytest.mark.django_db
def test_an_unsourced_fact_is_unknown_on_the_page_and_in_the_faq(client: Client) -> None:
    Model.objects.filter(slug="qwen3-8b").update(capabilities={})
    Revision.bump()  # as saving a model (admin, load_catalog) does
    answers = faq(client, "qwen3-8b")
    for question in ("Does Qwen3 8B support function calling (tool use)?",
                     "Does Qwen3 8B have a thinking (reasoning) mode?",
                     "Which languages does Qwen3 8B support?"):  # fmt: skip
        assert answers[question] == "Unknown: none of our sources states it."
    page = client.get("/models/qwen3-8b/").content.decode()
    table = page[
        page.index('id="capabilities"') : page.index("</section>", page.index('id="capabilities"'))
    ]
    assert table.count("<td>unknown</td>") == 3


@pytest.mark.django_db
def test_coding_strength_is_stated_with_the_score_and_its_source(client: Client) -> None:
    model = Model.objects.get(slug="llama-3-1-8b-instruct")
    answer = faq(client, model.slug)["Is Llama 3.1 8B Instruct good for coding?"]
    assert re.fullmatch(
        r"For its size, (strong|middling|weak): \S.* \d+(st|nd|rd|th) of \d+ models of "
        r"4\.02B to 16\.06B .*; source https://\S+\)\.",
        answer,
    ), answer
    value = re.search(r": ([\d.]+)%", answer)
    assert value and model.scores.filter(value=float(value.group(1))).exists()
