from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from benchmarks import community
from catalog import compare, device_page, estimate, hub, lineup, model_page
from catalog.forms import SORTS, BrowseForm
from catalog.loader import HF_ID_RE
from catalog.methodology import figures as methodology_figures
from catalog.models import EstimateConfig, Family, Hardware, Model, Provider
from catalog.templatetags.units import tokens
from cloudprices.queries import offers_of as rentals_of
from config import ratelimit
from estimator.memory import MemoryOptions, estimate_memory, inventory
from estimator.quant import FILE_TYPES

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


PAGE_CACHE_SECONDS = 3600
RECENT_PARTS = 200  # about 10 MB of rendered parts per process
TEMPLATE = "catalog/model_detail.html"


@require_GET
@vary_on_headers("HX-Request", "HX-Target", "HX-Trigger-Name", "HX-History-Restore-Request")
def model_detail(request: HttpRequest, slug: str) -> HttpResponse:
    snap, prices = model_page.snapshot()
    brief = snap.models.get(slug)
    if brief is None:
        raise Http404(f"No model {slug!r} in the catalog.")
    if request.htmx and request.htmx.target == "community":
        return HttpResponse(_community(request, snap, brief))
    state = model_page.parse_state(request.GET, brief, list(snap.by_slug))
    if request.htmx and not request.htmx.history_restore_request:
        part, panels = model_page.panels_for(request.htmx.target, request.htmx.trigger_name)
        live = LiveParts(snap, prices, brief, state)
        response = HttpResponse(live.render(part, panels))
        response["Server-Timing"] = f'panels;desc="{"cached" if live.hits else "rendered"}"'
        return response
    model = snap.model(brief.pk)
    live = LiveParts(snap, prices, brief, state, model)
    context = {
        "model": model,
        "state": state,
        "facts_html": _facts(snap, brief, "facts"),
        "controls_html": live.render("controls", ()),
        "live_html": live.render("live", model_page.PANELS),
        "facts_more_html": _facts(snap, brief, "facts-more"),
        "community_html": _community(request, snap, brief),
    }
    return render(request, TEMPLATE, context)


def _community(request: HttpRequest, snap: model_page.Snapshot, brief: model_page.Brief) -> str:
    catalog_token = snap.revision.partition(".")[0]
    return community.section(
        request.GET, model=snap.model(brief.pk), catalog=catalog_token, calib=snap.calibration
    )


def _facts(snap: model_page.Snapshot, brief: model_page.Brief, part: str) -> SafeString:
    """The model's specs, parameter breakdown and config: the same for every state, so
    rendered once per catalog revision."""
    key = f"model-facts:{snap.revision}:{brief.slug}:{part}"
    return _recent.get_or_render(key, lambda: _render_facts(brief, part))[0]


def _render_facts(brief: model_page.Brief, part: str) -> str:
    model = (
        Model.objects.select_related("provider", "family")
        .prefetch_related("input_modalities", "output_modalities", "encoders__modality")
        .get(pk=brief.pk)
    )
    return render_to_string(
        f"{TEMPLATE}#{part}",
        {
            "model": model,
            "published": _published_gguf(model),
            **_breakdown(model),
            "nested_configs": [
                (k, v) for k, v in sorted(model.config.items()) if isinstance(v, dict)
            ],
            "siblings": model.family.models.exclude(pk=model.pk).select_related("provider")[:12],
        },
    )


class LiveParts:
    """Parts of the model page's live region, from the cache when this exact state was
    rendered before; the model is read and the numbers computed only on a miss."""

    def __init__(
        self,
        snap: model_page.Snapshot,
        prices: str,
        brief: model_page.Brief,
        state: model_page.PageState,
        model: Model | None = None,
    ) -> None:
        self.snap, self.brief, self.state, self.model = snap, brief, state, model
        self.prices = prices
        self.revisions = f"{snap.revision}:{prices}"
        self.hits = 0

    @cached_property
    def page(self) -> model_page.Page:
        model = self.model or self.snap.model(self.brief.pk)
        return model_page.Page(model, self.state, self.snap, self.prices)

    def render(self, part: str, panels: tuple[str, ...]) -> SafeString:
        key = model_page.cache_key(
            self.revisions, self.brief.slug, self.state, f"{part}:{','.join(panels)}"
        )
        html, hit = _recent.get_or_render(
            key,
            lambda: render_to_string(
                f"{TEMPLATE}#{part}",
                {
                    "model": self.page.model,
                    "state": self.state,
                    "page": self.page,
                    "panels": panels,
                    "oob": part == "update",
                    "oob_controls": part == "relink",
                },
            ),
        )
        self.hits += hit
        return html


class RecentParts:
    """The parts this process served last, in front of the shared cache (Redis in production:
    a network round trip and a 50 KB copy per hit). Keys hold the revisions, so a part never
    changes under its key and a process-local copy cannot go stale."""

    def get_or_render(self, key: str | None, render: Callable[[], str]) -> tuple[SafeString, bool]:
        """The part under `key` from this process or the shared cache, else rendered and stored
        in both; and whether it was cached. A None key (a corrected state) is not cached."""
        if key is None:
            return mark_safe(render()), False
        html = self.get(key) or cache.get(key)
        hit = html is not None
        if html is None:
            html = str(render())
            cache.set(key, html, PAGE_CACHE_SECONDS)
        self.put(key, html)
        return mark_safe(html), hit

    def __init__(self, size: int) -> None:
        self.size = size
        self.parts: OrderedDict[str, str] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self.lock:
            html = self.parts.get(key)
            if html is not None:
                self.parts.move_to_end(key)
            return html

    def put(self, key: str, html: str) -> None:
        with self.lock:
            self.parts[key] = html
            self.parts.move_to_end(key)
            while len(self.parts) > self.size:
                self.parts.popitem(last=False)


_recent = RecentParts(RECENT_PARTS)


def _breakdown(model: Model) -> dict[str, Any]:
    """The tensor inventory, parameters per part and the config's plain fields of a model."""
    tensors = inventory(model.estimator_config)
    groups: dict[str, int] = {}
    for tensor in tensors.tensors:
        group = _tensor_group(tensor.name)
        groups[group] = groups.get(group, 0) + tensor.n_elements
    return {
        "inventory": tensors,
        "param_groups": sorted(groups.items(), key=lambda kv: -kv[1]),
        "config_rows": sorted(
            (k, v) for k, v in model.config.items() if not isinstance(v, (dict, list))
        ),
    }


def _published_gguf(model: Model) -> list[dict[str, object]]:
    """The GGUF files quantizers published (catalog/hub.py), each beside our estimate."""
    rows = []
    for g in model.published_gguf:
        if g.get("quant") not in FILE_TYPES:
            continue
        ours = estimate_memory(model.estimator_config, MemoryOptions(file_type=g["quant"]))
        diff = 100 * (ours.file_bytes / g["size"] - 1)
        rows.append(g | {"estimate": ours.file_bytes, "diff": f"{diff:+.1f} %"})
    return rows


def _tensor_group(name: str) -> str:
    """Group a GGUF tensor name for the parameter breakdown."""
    part = name.split(".")[2] if name.startswith("blk.") else name.split(".")[0]
    if part in {"token_embd"}:
        return "Token embeddings"
    if part == "output":
        return "Output head"
    if part.endswith("_exps") or part == "exp_probs_b":
        return "Routed experts"
    if part.endswith("_shexp") or part == "ffn_gate_inp_shexp":
        return "Shared experts"
    if part == "ffn_gate_inp":
        return "Expert routers"
    if "norm" in part:
        return "Norms"
    if part.startswith("ssm_"):
        return "Linear attention / state space"
    if part.startswith("attn_"):
        return "Attention"
    return "Feed-forward"


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
    snap, _ = model_page.snapshot()
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
    snap, _ = model_page.snapshot()
    context = {
        "segments": segments,
        "groups": model_page.device_groups(snap),
        "missing": request.GET.get("missing") == "1",
        "contexts": [(c, tokens(c)) for c in device_page.CONTEXTS],
    }
    return render(request, "catalog/hardware_list.html", context)


@require_GET
@vary_on_headers("HX-Request", "HX-Target")
def hardware_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A device's facts, everything that runs on it, its rental prices and community results."""
    snap, _ = model_page.snapshot()
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
    snap, _ = model_page.snapshot()
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
    snap, _ = model_page.snapshot()
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
        "devices": model_page.device_groups(snap),
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


@require_GET
@vary_on_headers("HX-Request", "HX-Target", "HX-Trigger-Name", "HX-History-Restore-Request")
def estimate_detail(request: HttpRequest, key: str) -> HttpResponse:
    """The model page's live panels for a model that is not in the catalog."""
    stored = get_object_or_404(EstimateConfig, key=key)
    try:
        model = estimate.model(stored)
    except estimate.BadConfig as exc:  # stored under older rules: say so, never a 500
        context = {"error": f"This stored estimate can no longer be shown. {exc}"}
        return render(request, "catalog/estimate.html", context, status=422)
    snap, prices = model_page.snapshot()
    brief = model_page.Brief(0, f"estimate-{key}", model.context_length, model.is_moe)
    state = model_page.parse_state(request.GET, brief, list(snap.by_slug))
    live = LiveParts(snap, prices, brief, state, model)
    if request.htmx and not request.htmx.history_restore_request:
        part, panels = model_page.panels_for(request.htmx.target, request.htmx.trigger_name)
        return HttpResponse(live.render(part, panels))
    context = {
        "model": model,
        "stored": stored,
        **_breakdown(model),
        "controls_html": live.render("controls", ()),
        "live_html": live.render("live", model_page.PANELS),
    }
    return render(request, "catalog/estimate_detail.html", context)
