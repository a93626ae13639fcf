from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from benchmarks import community
from catalog import compare, device_page, estimate, hub, lineup
from catalog.forms import SORTS, BrowseForm
from catalog.loader import HF_ID_RE
from catalog.methodology import figures as methodology_figures
from catalog.models import Family, Hardware, Model, Provider
from catalog.snapshot import device_groups, snapshot
from cloudprices.queries import offers_of as rentals_of
from config import ratelimit
from estimator.units import tokens

PAGE_SIZE = 24


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    form = BrowseForm(request.GET or None)
    models = Model.objects.with_listing()
    data: dict[str, object] = {}
    if form.is_bound:
        form.is_valid()  # invalid fields are reported on the page and left out of cleaned_data
        data = form.cleaned_data
    if text := str(data.get("q") or ""):
        models = models.search(text)
    if (low := data.get("params_min")) is not None:
        models = models.filter(params_total__gte=int(low * 1e9))
    if (high := data.get("params_max")) is not None:
        models = models.filter(params_total__lte=int(high * 1e9))
    if modality := data.get("modality"):
        models = models.filter(input_modalities__code=modality)
    if data.get("license") == "commercial":
        models = models.filter(commercial_use=True)
    elif data.get("license") == "noncommercial":
        models = models.filter(commercial_use=False)
    if provider := data.get("provider"):
        models = models.filter(provider__slug=provider)
    if context_min := data.get("context_min"):
        models = models.filter(context_length__gte=context_min)
    sort = data.get("sort") or "-release_date"
    models = models.order_by(sort, "name") if sort in SORTS else models
    page = Paginator(models, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "catalog/index.html",
        {"form": form, "page": page, "query": query.urlencode(), "total": Model.objects.count()},
    )


@require_GET
def provider_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A provider's line-up: figures, leaderboards, benchmark coverage, release timeline."""
    provider = get_object_or_404(Provider, slug=slug)
    models = list(
        provider.models.with_listing()
        .prefetch_related("scores__model")
        .order_by("-release_date", "name")
    )
    context = {
        "provider": provider,
        "models": models,
        "families": provider.families.all(),
        "stats": lineup.stats(models),
        "boards": lineup.leaderboards(models),
        "coverage": lineup.coverage(models),
        "timeline": lineup.timeline(models),
    }
    return render(request, "catalog/provider_detail.html", context)


@require_GET
def family_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A family: its sizes, leaderboards, timeline and which size fits which GPU."""
    family = get_object_or_404(Family.objects.select_related("provider"), slug=slug)
    models = list(
        family.models.with_listing()
        .prefetch_related("scores__model")
        .order_by("params_total", "name")
    )
    snap, _ = snapshot()
    context = {
        "family": family,
        "models": models,
        "stats": lineup.stats(models),
        "boards": lineup.leaderboards(models),
        "timeline": lineup.timeline(models),
        "fits": lineup.size_fit(models, snap),
    }
    return render(request, "catalog/family_detail.html", context)


@require_GET
def hardware_list(request: HttpRequest) -> HttpResponse:
    segments = []
    devices = list(Hardware.objects.all())
    for value, label in Hardware.Segment.choices:
        members = [d for d in devices if d.segment == value]
        if members:
            segments.append((label, members))
    snap, _ = snapshot()
    context = {
        "segments": segments,
        "groups": device_groups(snap),
        "missing": request.GET.get("missing") == "1",
        "contexts": [(c, tokens(c)) for c in device_page.CONTEXTS],
    }
    return render(request, "catalog/hardware_list.html", context)


@require_GET
@vary_on_headers("HX-Request", "HX-Target")
def hardware_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A device's facts, everything that runs on it, its rental prices and community results."""
    snap, _ = snapshot()
    device = snap.by_slug.get(slug)
    if device is None:
        raise Http404(f"No device {slug!r} in the catalog.")
    section = community.section(request.GET, hardware=device)
    if request.htmx and request.htmx.target == "community":
        return HttpResponse(section)
    chosen = device_page.parse(request.GET, device)
    rows = device_page.rows(device, chosen, snap)
    context = {
        "device": device,
        "settings": chosen,
        "rows": rows,
        "fitting": sum(r["fits"] for r in rows),
        "contexts": [(c, tokens(c)) for c in device_page.CONTEXTS],
        "counts": device_page.COUNTS if device.kind == "gpu" else (1,),
        "memories": [m >> 30 for m in device_page.memory_options(device)],
        "sorts": device_page.SORTS,
        "offers": rentals_of(device),
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
    data = methodology_figures()
    return render(request, "catalog/methodology.html", {**data, "c": data["constants"]})


@require_GET
def compare_models(request: HttpRequest) -> HttpResponse:
    """Up to six models side by side: specs, memory at common settings, speed on one device."""
    snap, _ = snapshot()
    choice = compare.parse(request.GET, list(snap.models), list(snap.by_slug))
    if request.GET.get("add") and not choice.notes:  # the "add a model" form: one URL per set
        return redirect(f"{reverse('catalog:compare')}?{compare.query(choice)}")
    found = {
        m.slug: m
        for m in Model.objects.with_listing()
        .prefetch_related("scores")
        .filter(slug__in=choice.slugs)
    }
    models = [found[s] for s in choice.slugs]
    columns = compare.columns(models, choice, snap)
    for column in columns:
        others = [s for s in choice.slugs if s != column["model"].slug]
        column["remove"] = compare.query(choice, models=others)
    context = {
        "choice": choice,
        "columns": columns,
        "quants": compare.QUANTS,
        "contexts": [(c, tokens(c)) for c in compare.CONTEXTS],
        "devices": device_groups(snap),
        "all_models": Model.objects.order_by("name").values_list("slug", "name"),
        "query": compare.query(choice),
        "scores": compare.scores(models),
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
