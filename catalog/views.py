from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from benchmarks import community
from catalog import compare, device_page, estimate, hub, lineup, parts
from catalog.datafiles import HF_ID_RE
from catalog.forms import BrowseForm, browse_form
from catalog.methodology import content as methodology_content
from catalog.models import Hardware, Model, Provider
from catalog.snapshot import Snapshot, device_groups, snapshot
from config import ratelimit
from estimator.units import tokens

PAGE_SIZE = 24

# Every page is its content, rendered once per revision (catalog, prices or community runs) and
# page state and kept as a part (catalog.parts), inside a page rendered per request: the page
# carries the visitor's CSRF token, so it is never cached whole.


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Browse and search: the filters are read leniently (corrections are noted on the page)."""
    snap, _ = snapshot()
    form = _browse_form(snap)(request.GET)
    filters = form.read()
    query = form.query(filters)
    raw_page = request.GET.get("page", "")
    number = int(raw_page) if raw_page.isdigit() and len(raw_page) < 7 else 1
    key = None if form.notes else parts.key("browse", snap.revision, query, number)

    def render_list() -> str:
        page = Paginator(Model.objects.browse(filters), PAGE_SIZE).get_page(number)
        context = {
            "form": form.showing(filters),
            "notes": form.notes,
            "page": page,
            "query": query,
            "total": len(snap.models),
        }
        return render_to_string("catalog/index.html#content", context)

    return render(request, "catalog/index.html", {"content_html": parts.cached(key, render_list)})


def _browse_form(snap: Snapshot) -> type[BrowseForm]:
    """The browse form with the catalog's providers, made once per catalog revision."""
    return snap.remember(
        "browse-form",
        lambda: browse_form(list(Provider.objects.order_by("name").values_list("slug", "name"))),
    )


@require_GET
def provider_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A provider's line-up: figures, leaderboards, benchmark coverage, release timeline."""
    snap, _ = snapshot()
    heading = lineup.headings(snap).get(("provider", slug))
    if heading is None:
        raise Http404(f"No provider {slug!r} in the catalog.")
    context = {"heading": heading, "content_html": lineup.provider_content(snap, slug)}
    return render(request, "catalog/provider_detail.html", context)


@require_GET
def family_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A family: its sizes, leaderboards, timeline and which size fits which GPU."""
    snap, _ = snapshot()
    heading = lineup.headings(snap).get(("family", slug))
    if heading is None:
        raise Http404(f"No family {slug!r} in the catalog.")
    context = {
        "heading": heading,
        "fit_quant": lineup.FIT_QUANT,
        "content_html": lineup.family_content(snap, slug),
    }
    return render(request, "catalog/family_detail.html", context)


@require_GET
def hardware_list(request: HttpRequest) -> HttpResponse:
    snap, _ = snapshot()
    missing = request.GET.get("missing") == "1"

    def render_list() -> str:
        labels = dict(Hardware.Segment.choices)
        segments = [
            (labels[value], [d for d in snap.devices if d.segment == value])
            for value in labels
            if any(d.segment == value for d in snap.devices)
        ]
        context = {
            "segments": segments,
            "groups": device_groups(snap),
            "missing": missing,
            "contexts": [(c, tokens(c)) for c in device_page.CONTEXTS],
        }
        return render_to_string("catalog/hardware_list.html#content", context)

    content = parts.cached(parts.key("hardware-list", snap.revision, missing), render_list)
    return render(request, "catalog/hardware_list.html", {"content_html": content})


@require_GET
@vary_on_headers("HX-Request", "HX-Target")
def hardware_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A device's facts, everything that runs on it, its rental prices and community results."""
    snap, prices = snapshot()
    device = snap.by_slug.get(slug)
    if device is None:
        raise Http404(f"No device {slug!r} in the catalog.")
    section = community.section(
        request.GET,
        hardware=device,
        catalog=snap.revision.partition(".")[0],
        calib=snap.calibration,
    )
    if request.htmx and request.htmx.target == "community":
        return HttpResponse(section)
    settings, form = device_page.parse(request.GET, device)
    context = {
        "device": device,
        "facts_html": device_page.facts_content(device, snap),
        "runs_html": device_page.runs_content(device, settings, form, snap),
        "rent_html": device_page.rent_content(device, prices),
        "community_html": section,
    }
    return render(request, "catalog/hardware_detail.html", context)


@require_GET
def hardware_pick(request: HttpRequest) -> HttpResponse:
    """The "pick my device" form: to the device's page with its settings."""
    snap, _ = snapshot()
    slug = request.GET.get("device", "")
    if slug not in snap.by_slug:
        return redirect(reverse("catalog:hardware_list") + "?missing=1")
    query = urlencode([(k, request.GET[k][:12]) for k in ("count", "ctx") if request.GET.get(k)])
    url = reverse("catalog:hardware_detail", args=[slug])
    return redirect(f"{url}?{query}" if query else url)


@require_GET
def methodology(request: HttpRequest) -> HttpResponse:
    """How every number is computed, and the estimator beside real llama.cpp."""
    return render(request, "catalog/methodology.html", {"content_html": methodology_content()})


@require_GET
def compare_models(request: HttpRequest) -> HttpResponse:
    """Up to six models side by side: specs, memory at common settings, speed on one device."""
    snap, _ = snapshot()
    choice = compare.parse(request.GET, snap)
    if request.GET.get("add") and not choice.notes:  # the "add a model" form: one URL per set
        return redirect(f"{reverse('catalog:compare')}?{compare.query(choice)}")
    names = compare.names(snap)
    context = {
        "names": [names[s] for s in choice.slugs],
        "content_html": compare.content(choice, snap),
    }
    return render(request, "catalog/compare.html", context)


@require_http_methods(["GET", "POST"])
def estimate_start(request: HttpRequest) -> HttpResponse:
    """Estimate any model: a Hugging Face repo id (?repo=) or a pasted config.json (POST)."""
    error, repo, text, name = "", "", "", ""
    status = 200
    wants = request.method == "POST" or request.GET.get("repo", "").strip()
    if wants:
        try:
            ratelimit.spend(
                "estimate", ratelimit.client_hash(request), settings.ESTIMATE_RATE_LIMIT,
                "estimates",
            )  # fmt: skip
        except ratelimit.Limited as exc:
            response = render(request, "catalog/estimate.html", {"error": str(exc)}, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
    if request.method == "POST":
        text = request.POST.get("config", "")
        name = request.POST.get("name", "").strip()[:200] or "Your config.json"
        try:
            config = estimate.parse(text)
        except estimate.BadConfig as exc:
            error = str(exc)
        else:
            return redirect(estimate.store(config, name))
    elif repo := request.GET.get("repo", "").strip():
        known = Model.objects.filter(hf_id__iexact=repo).first()
        if known:
            return redirect(known)
        if not HF_ID_RE.match(repo):
            error = f"{repo[:80]!r} is not a Hugging Face repository id like Qwen/Qwen3-8B."
        else:
            try:
                fetched = hub.fetch_config(repo, use_token=False)
                estimate.check(fetched.config)
            except (hub.HubError, estimate.BadConfig) as exc:
                error = str(exc)
            else:
                name = fetched.repo_id.split("/", 1)[1]
                return redirect(estimate.store(fetched.config, name, fetched.repo_id))
    status = 400 if error else status
    context = {"error": error, "repo": repo, "text": text, "name": name}
    return render(request, "catalog/estimate.html", context, status=status)
