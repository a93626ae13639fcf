"""Each process remembers the revision tokens for REVISION_CHECK_MS, so a page served from the
cache makes no query; its own edits show at once, other processes' edits after that time."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from catalog.models import Model, Revision

URL = "/models/llama-3-1-8b-instruct/"
SLIDER = {"HX-Request": "true", "HX-Trigger-Name": "ctx", "HX-Target": "live-summary"}

pytestmark = pytest.mark.django_db


def set_token_as_another_process_would(which: int, token: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE catalog_revision SET token = %s WHERE id = %s", [token, which])


def test_a_cached_fragment_makes_no_query_while_the_tokens_are_fresh(  # type: ignore[no-untyped-def]
    client: Client, settings, django_assert_num_queries
) -> None:
    settings.REVISION_CHECK_MS = 60_000
    client.get(URL + "?ctx=12347", headers=SLIDER)  # renders and remembers the tokens
    with django_assert_num_queries(0):
        response = client.get(URL + "?ctx=12347", headers=SLIDER)
    assert 'panels;desc="cached"' in response["Server-Timing"]


def test_another_process_s_change_shows_once_the_tokens_are_read_again(  # type: ignore[no-untyped-def]
    settings, django_assert_num_queries
) -> None:
    settings.REVISION_CHECK_MS = 60_000
    before = Revision.current()
    set_token_as_another_process_would(Revision.PRICES, "f" * 32)
    with django_assert_num_queries(0):
        assert Revision.current() == before  # within the window: remembered
    settings.REVISION_CHECK_MS = 0  # the window has passed
    with django_assert_num_queries(1):
        assert Revision.current() == (before.catalog, "f" * 32, before.benchmarks)


def test_this_process_s_own_change_shows_at_once(settings) -> None:  # type: ignore[no-untyped-def]
    settings.REVISION_CHECK_MS = 60_000
    catalog, prices, benchmarks = Revision.current()
    model = Model.objects.get(slug="llama-3-1-8b-instruct")
    model.name = "Renamed"
    model.save()  # the catalog signal bumps the token
    assert Revision.current().catalog != catalog
    Revision.bump(Revision.PRICES)
    assert Revision.current().prices != prices
    Revision.bump(Revision.BENCHMARKS)
    assert Revision.current().benchmarks != benchmarks
