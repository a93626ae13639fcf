"""Search engines and link previews: robots.txt, the sitemap, canonical and social tags."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from catalog.models import Family, Hardware, Model, Provider

pytestmark = pytest.mark.django_db


def test_robots_txt_points_at_the_sitemap_and_keeps_crawlers_out_of_admin_and_api(
    client: Client,
) -> None:
    response = client.get("/robots.txt")
    assert response["Content-Type"] == "text/plain"
    assert response.content.decode().splitlines() == [
        "User-agent: *",
        "Disallow: /admin/",
        "Disallow: /api/",
        "Disallow: /benchmarks/submitted/",
        "Sitemap: http://testserver/sitemap.xml",
    ]


def test_the_sitemap_lists_every_page(client: Client) -> None:
    xml = client.get("/sitemap.xml").content.decode()
    urls = set(re.findall(r"<loc>(.*?)</loc>", xml))
    pages = (
        "/",
        "/hardware/",
        "/gpus/prices/",
        "/benchmarks/submit/",
        "/methodology/",
        "/compare/",
        "/estimate/",
    )
    expected = {f"http://testserver{p}" for p in pages}
    for table in (Model, Provider, Family, Hardware):
        expected |= {f"http://testserver{row.get_absolute_url()}" for row in table.objects.all()}
    assert urls == expected
    assert len(urls) == 7 + Model.objects.count() + Provider.objects.count() + (
        Family.objects.count() + Hardware.objects.count()
    )


def test_a_model_page_has_its_canonical_url_and_social_tags(client: Client) -> None:
    html = client.get("/models/llama-3-1-8b-instruct/?ctx=32768&gpu=rtx-3090").content.decode()
    head = html[: html.index("</head>")]
    title = re.search(r"<title>(.*?)</title>", head).group(1)  # type: ignore[union-attr]
    assert title == "Llama 3.1 8B Instruct: VRAM, speed on your GPU, how to run it · ModelFit"
    assert f'<meta property="og:title" content="{title}">' in head
    assert '<meta property="og:description" content="Will Llama 3.1 8B Instruct (8.03B' in head
    # the state is a view of the page, not another page
    canonical = '<link rel="canonical" href="http://testserver/models/llama-3-1-8b-instruct/">'
    assert canonical in head
    assert (
        '<meta property="og:url" content="http://testserver/models/llama-3-1-8b-instruct/">' in head
    )
    assert head.count('rel="canonical"') == 1


def test_the_content_length_counts_the_added_tags(client: Client) -> None:
    response = client.get("/methodology/")
    assert int(response["Content-Length"]) == len(response.content)
    assert response.content.decode().rstrip().endswith("</html>")


def test_pagination_stays_in_the_canonical_url(client: Client) -> None:
    head = client.get("/?page=2&sort=name").content.decode().split("</head>")[0]
    assert '<link rel="canonical" href="http://testserver/?page=2">' in head


def test_fragments_and_errors_are_left_alone(client: Client) -> None:
    fragment = client.get(
        "/models/llama-3-1-8b-instruct/?ctx=4096", headers={"HX-Request": "true"}
    ).content.decode()
    assert "og:title" not in fragment and "canonical" not in fragment
    assert "og:title" not in client.get("/models/no-such-model/").content.decode()
