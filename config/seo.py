"""Search engines and link previews: robots.txt, the sitemap, and social tags on every page.

Every page template names its title and description once (`{% block title %}`,
`{% block description %}`). Django templates cannot place a block twice, so rather than make
every template repeat them for OpenGraph, `social_tags` reads them from the rendered <head> and
adds og:title, og:description, og:url, og:type, og:site_name, twitter:card and the canonical
link (unless the page set its own). Fragments (no <head>) and other responses pass untouched.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib.sitemaps import Sitemap
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from catalog.models import Family, Hardware, Model, Provider

HEAD = re.compile(rb"<head>.*?</head>", re.S)
TITLE = re.compile(r"<title>(.*?)</title>", re.S)
DESCRIPTION = re.compile(r'<meta name="description" content="([^"]*)">')
CANONICAL = re.compile(r'<link rel="canonical" href="([^"]*)">')
# Query parameters that make a different page, not a different view of the same one.
CANONICAL_PARAMS = ("page", "models")


def canonical_url(request: HttpRequest) -> str:
    kept = [(k, request.GET[k][:300]) for k in CANONICAL_PARAMS if request.GET.get(k)]
    query = urlencode(kept, safe=",")
    return request.build_absolute_uri(request.path) + (f"?{query}" if query else "")


def social_tags(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if (
            response.status_code != 200
            or response.streaming
            or not response.get("Content-Type", "").startswith("text/html")
        ):
            return response
        content = response.content
        match = HEAD.search(content, 0, 16384)
        if match is None:
            return response
        head = match.group(0).decode()
        title = TITLE.search(head)
        description = DESCRIPTION.search(head)
        canonical = CANONICAL.search(head)
        url = canonical.group(1) if canonical else html.escape(canonical_url(request))
        tags = [] if canonical else [f'<link rel="canonical" href="{url}">']
        tags += [
            '<meta property="og:site_name" content="ModelFit">',
            '<meta property="og:type" content="website">',
            f'<meta property="og:url" content="{url}">',
            '<meta name="twitter:card" content="summary">',
        ]
        if title:
            tags.append(f'<meta property="og:title" content="{title.group(1).strip()}">')
        if description:
            tags.append(f'<meta property="og:description" content="{description.group(1)}">')
        block = ("\n  " + "\n  ".join(tags) + "\n</head>").encode()
        response.content = content[: match.end() - 7] + block + content[match.end() :]
        if response.has_header("Content-Length"):  # set by CommonMiddleware, inside this one
            response["Content-Length"] = str(len(response.content))
        return response

    return middleware


@require_GET
@cache_control(max_age=86400, public=True)
def robots_txt(request: HttpRequest) -> HttpResponse:
    sitemap = request.build_absolute_uri(reverse("sitemap"))
    lines = [
        "User-agent: *",
        "Disallow: /admin/",
        "Disallow: /api/",
        "Disallow: /benchmarks/submitted/",
        f"Sitemap: {sitemap}",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")


class Pages(Sitemap):  # type: ignore[type-arg]
    """The site's own pages."""

    changefreq = "daily"
    names = ("catalog:index", "catalog:hardware_list", "cloudprices:prices", "benchmarks:submit",
             "catalog:methodology", "catalog:compare", "catalog:estimate")  # fmt: skip

    def items(self) -> tuple[str, ...]:
        return self.names

    def location(self, item: str) -> str:
        return reverse(item)


class Rows(Sitemap):  # type: ignore[type-arg]
    """Every row of a catalog table that has a page."""

    changefreq = "weekly"

    def __init__(self, queryset: QuerySet[Model] | QuerySet[Provider] | QuerySet[Family]
                 | QuerySet[Hardware]) -> None:  # fmt: skip
        self.queryset = queryset

    def items(self) -> list[object]:
        return list(self.queryset.only("slug").order_by("slug"))


SITEMAPS = {
    "pages": Pages(),
    "models": Rows(Model.objects.all()),
    "providers": Rows(Provider.objects.all()),
    "families": Rows(Family.objects.all()),
    "hardware": Rows(Hardware.objects.all()),
}
