"""Every page makes as many queries with 1,000 models in the catalog as with 10."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog import parts
from catalog.models import Model, Revision

pytestmark = pytest.mark.django_db
REVISION_SQL = "SELECT id, token FROM catalog_revision WHERE id IN (1, 2, 3)"

PAGES = [
    "/",
    "/?q=generated&sort=name&page=2",
    "/?modality=text&license=commercial&params_max=20&page=3",
    "/?params_min=-1",  # corrected: rendered and not kept
    "/providers/meta/",
    "/families/llama/",
    "/models/generated-1/",
    "/models/generated-1/?ctx=32768&gpu=rtx-3090",
    "/hardware/rtx-4090/",
    "/hardware/rtx-4090/?all=1&sort=name&q=generated",
    "/hardware/",
    "/compare/?models=generated-1,generated-2,generated-3",
    "/gpus/prices/",
    "/gpus/prices/?min_memory_gb=24&sort=memory",
    "/methodology/",
    "/estimate/",
    "/sitemap.xml",
    "/api/v1/models/?limit=50",
    "/api/v1/benchmarks/?limit=50",
]


def generate(fields: dict[str, Any], modalities: list[Any], n: int) -> None:
    """Replace the catalog's models with n copies of one model (its fields and modalities)."""
    Model.objects.all().delete()
    rows = Model.objects.bulk_create(
        Model(
            **{
                **fields,
                "slug": f"generated-{i}",
                "name": f"Generated {i}",
                "hf_id": f"generated/model-{i}",
            }
        )
        for i in range(1, n + 1)
    )
    through = Model.input_modalities.through
    through.objects.bulk_create(
        through(model_id=m.pk, modality_id=mod.pk) for m in rows for mod in modalities
    )
    Revision.bump()  # bulk operations send no signals
    cache.clear()


def counts(client: Client) -> dict[str, Any]:
    """Each page's queries when its parts are rendered (not served from a cache)."""
    out = {}
    for page in PAGES:
        client.get(page)  # a first visit may fill this process's per-revision snapshot
        cache.clear()
        parts.recent.parts.clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page)
        assert response.status_code == 200, page
        out[page] = len(queries)
    return out


def test_query_counts_do_not_grow_with_the_catalog(client: Client) -> None:
    template = Model.objects.get(slug="llama-3-1-8b-instruct")
    modalities = list(template.input_modalities.all())
    fields = {f.attname: getattr(template, f.attname) for f in Model._meta.concrete_fields}
    del fields["id"]
    generate(fields, modalities, 10)
    small = counts(client)
    generate(fields, modalities, 1000)
    large = counts(client)
    assert large == small
    assert max(small.values()) <= 12, small


@pytest.mark.parametrize(
    ("page", "reads"),
    [
        ("/", [REVISION_SQL]),  # tests read the tokens on every request
        ("/?q=qwen&modality=image", [REVISION_SQL]),
        ("/providers/qwen/", [REVISION_SQL]),
        ("/families/qwen/", [REVISION_SQL]),
        ("/hardware/", [REVISION_SQL]),
        ("/compare/?models=qwen3-8b,phi-4", [REVISION_SQL]),
        ("/methodology/", []),  # its figures ship with the code
        ("/estimate/", []),
    ],
)
def test_a_page_seen_before_reads_only_the_revision_tokens(
    client: Client, page: str, reads: list[str]
) -> None:
    client.get(page)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(page).status_code == 200
    assert [q["sql"] for q in queries] == reads
