"""Pages are rendered parts kept per revision (catalog.parts): a change shows once its revision
moves, never before and never later. A change made without a signal (a bulk update) is what
shows whether a page came from the parts cache."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from catalog import parts
from catalog.models import Model, Revision
from cloudprices.models import Offer
from tests.benchmarks.test_community import make

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_parts_from_other_tests() -> Iterator[None]:
    """Parts another test rendered under the same tokens (its transaction rolled back) would
    hide what this one changes."""
    cache.clear()
    parts.recent.parts.clear()
    yield
    parts.recent.parts.clear()


@pytest.fixture
def one_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """Price parts are also kept per minute (an offer's age): hold the clock still."""
    now = timezone.now().replace(second=30)
    monkeypatch.setattr(timezone, "now", lambda: now)


def shown(client: Client, urls: list[str], text: str) -> list[bool]:
    return [text in client.get(url).content.decode() for url in urls]


def test_a_catalog_edit_shows_on_every_page_once_the_catalog_revision_moves(
    client: Client,
) -> None:
    urls = [
        "/?q=llama+8b",
        "/providers/meta/",
        "/families/llama/",
        "/compare/?models=llama-3-1-8b-instruct,qwen3-8b",
        "/hardware/rtx-4090/",
    ]
    assert shown(client, urls, "Llama 3.1 8B Instruct") == [True] * 5
    Model.objects.filter(slug="llama-3-1-8b-instruct").update(name="Llama Renamed")  # no signal
    assert shown(client, urls, "Llama Renamed") == [False] * 5  # the parts of this revision
    Revision.bump()  # as saving a model (admin, load_catalog) does
    assert shown(client, urls, "Llama Renamed") == [True] * 5


def test_a_saved_model_shows_at_once(client: Client) -> None:
    assert "Llama Renamed" not in client.get("/providers/meta/").content.decode()
    model = Model.objects.get(slug="llama-3-1-8b-instruct")
    model.name = "Llama Renamed"
    model.save()
    assert "Llama Renamed" in client.get("/providers/meta/").content.decode()


def test_new_prices_show_once_the_prices_revision_moves(client: Client, one_minute: None) -> None:
    urls = ["/gpus/prices/", "/hardware/h100-sxm/"]
    assert Offer.objects.filter(price_per_gpu_hour__lt=Decimal("0.05")).count() == 0
    assert shown(client, urls, "$0.04") == [False, False]
    cheapest = Offer.objects.filter(hardware__slug="h100-sxm").order_by("price_per_gpu_hour")[0]
    Offer.objects.filter(pk=cheapest.pk).update(price_per_gpu_hour=Decimal("0.04"))
    assert shown(client, urls, "$0.04") == [False, False]
    Revision.bump(Revision.PRICES)  # as a refresh that stored prices does
    assert shown(client, urls, "$0.04") == [True, True]


def test_an_offer_shows_stale_within_a_minute_of_turning_two_hours_old(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched = timezone.now().replace(second=30, microsecond=0) - dt.timedelta(hours=2)
    Offer.objects.filter(hardware__slug="h100-sxm").update(fetched_at=fetched, from_snapshot=False)
    Revision.bump(Revision.PRICES)
    for age, stale in (
        (dt.timedelta(hours=2, seconds=-10), False),
        (dt.timedelta(hours=2, seconds=40), True),  # the next minute: a new part
    ):
        monkeypatch.setattr(timezone, "now", lambda age=age: fetched + age)
        rent = client.get("/hardware/h100-sxm/").content.decode().split('id="rent"')[1]
        assert ("stale:" in rent) is stale, age


def test_a_community_result_shows_once_the_benchmarks_revision_moves(client: Client) -> None:
    url = "/hardware/rtx-4090/"
    result = make(gen_tokens_per_s=150.0)
    assert ">150<" in client.get(url).content.decode()
    Submission = type(result)
    Submission.objects.filter(pk=result.pk).update(gen_tokens_per_s=321.0)  # no signal
    assert ">321<" not in client.get(url).content.decode()
    Revision.bump(Revision.BENCHMARKS)  # as publishing or moderating a result does
    assert ">321<" in client.get(url).content.decode()
