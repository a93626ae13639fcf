from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from benchmarks import community
from catalog import compare, device_page, estimate, hub, lineup, machines, parts, runs
from catalog.datafiles import HF_ID_RE
from catalog.forms import GPU_COUNTS, BrowseForm, browse_form
from catalog.methodology import content as methodology_content
from catalog.models import Hardware, Model, Provider
from catalog.snapshot import Snapshot, device_groups, snapshot
from config import ratelimit
from estimator.units import tokens

PAGE_SIZE = 24
HOME_CONTEXT = 8192  # the context the home page's fits are for (or a model's own, if shorter)
SPEED = "speed"

# Every page is its content, rendered once per revision (catalog, prices or community runs) and
# page state and kept as a part (catalog.parts), inside a page rendered per request: the page
# carries the visitor's CSRF token, so it is never cached whole.


@require_GET
@vary_on_headers("HX-Request")
def index(request: HttpRequest) -> HttpResponse:
    """Browse and search, from the visitor's machine when one is chosen: per model the best quant
    that runs on it and how fast. Filters and machine are read leniently (corrections are noted
    on the page); with HTMX the picker gets back the content alone."""
    snap, _ = snapshot()
    form = _browse_form(snap)(request.GET)
    filters = form.read()
    machine = machines.pick(request.GET, snap)
    chosen = machine.chosen
    if filters["sort"] == SPEED and chosen is None:
        form.notes.append("Sort by speed needs a machine; using Newest.")
        filters["sort"] = BrowseForm.base_fields["sort"].initial
    query = form.query(filters)
    machine_query = urlencode(machine.query_items())
    full_query = "&".join(q for q in (query, machine_query) if q)
    raw_page = request.GET.get("page", "")
    number = int(raw_page) if raw_page.isdigit() and len(raw_page) < 7 else 1
    notes = form.notes or machine.notes
    key = None if notes else parts.key("browse", snap.revision, query, number, machine_query)

    def render_list() -> str:
        cells = runs.table(chosen, HOME_CONTEXT, snap) if chosen else {}
        models = Model.objects.browse(filters | {"sort": _db_sort(filters["sort"])})
        if machine.runs:
            models = models.filter(slug__in=[s for s, c in cells.items() if c.runs])
        if filters["sort"] == SPEED:
            page = _by_speed(models, cells, number)
        else:
            page = Paginator(models, PAGE_SIZE).get_page(number)
        context = {
            "form": form.showing(filters),
            "notes": form.notes,
            "machine": machine,
            "chosen": chosen,
            "machine_notes": machine.notes,
            "machine_query": machine_query,
            "machine_items": machine.query_items().items(),
            "browse_items": QueryDict(query).items(),
            "machine_controls": machines.controls(
                machine.state,
                tuple(machines.APPLIES),
                chosen.memory >> 30 if chosen and chosen.own_ram else None,
            ),
            "devices": device_groups(snap),
            "gpu_counts": GPU_COUNTS,
            "count": chosen.count if chosen else 1,
            "usable": runs.USABLE_TPS,
            "page": page,
            "rows": [
                (m, cells.get(m.slug), _model_link(m, cells.get(m.slug), machine))
                for m in page.object_list
            ],
            "query": full_query,
            "total": len(snap.models),
            "context": HOME_CONTEXT,
        }
        return render_to_string("catalog/index.html#content", context)

    content = parts.cached(key, render_list)
    if request.htmx:
        response = HttpResponse(content)
        index_url = reverse("catalog:index")
        response["HX-Push-Url"] = f"{index_url}?{full_query}" if full_query else index_url
        return response
    return render(request, "catalog/index.html", {"content_html": content})


def _db_sort(sort: str) -> str:
    """The database ordering of a sort (by speed: newest first, then sorted in Python)."""
    return "-release_date" if sort == SPEED else sort


def _by_speed(models: Any, cells: dict[str, runs.Cell], number: int) -> Page:
    """A page of the models fastest first on the machine (what does not run last, by name)."""
    listed = list(models.values_list("slug", "name"))
    listed.sort(key=lambda sn: (-(cells[sn[0]].tps or 0) if sn[0] in cells else 0, sn[1]))
    page = Paginator([slug for slug, _ in listed], PAGE_SIZE).get_page(number)
    found = {m.slug: m for m in Model.objects.with_listing().filter(slug__in=list(page))}
    page.object_list = [found[slug] for slug in page.object_list if slug in found]
    return page


def _model_link(model: Model, cell: runs.Cell | None, machine: machines.Pick) -> str:
    """The model page in the state of this row: its best quant on the machine."""
    url = model.get_absolute_url()
    if cell is None or machine.chosen is None:
        return url
    chosen = machine.chosen
    items: dict[str, Any] = {"quant": cell.quant, "ctx": cell.ctx}
    if chosen.hardware is not None:  # the model page has no "CPU alone": its devices list CPUs
        items |= {"gpu": chosen.slug, "gpu_count": chosen.count, **chosen.machine_items()}
    return f"{url}?{urlencode(items)}"


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
        return redirect(f"{reverse('catalog:compare')}?{compare.query(choice, snap)}")
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
