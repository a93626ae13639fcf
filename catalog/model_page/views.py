"""The model page (/models/<slug>/) and the same page for a model that is not in the catalog
(/estimate/<key>/). With HTMX a control gets back only the panels it changes."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from benchmarks import community
from catalog import estimate
from catalog.model_page import facts, panels
from catalog.model_page.page import TEMPLATE, LiveParts, panels_for
from catalog.model_page.state import read_state
from catalog.models import EstimateConfig
from catalog.snapshot import Brief, Snapshot, has_encoder, snapshot

HTMX_HEADERS = ("HX-Request", "HX-Target", "HX-Trigger-Name", "HX-History-Restore-Request")


@require_GET
@vary_on_headers(*HTMX_HEADERS)
def model_detail(request: HttpRequest, slug: str) -> HttpResponse:
    snap, prices = snapshot()
    brief = snap.models.get(slug)
    if brief is None:
        raise Http404(f"No model {slug!r} in the catalog.")
    if request.htmx and request.htmx.target == "community":
        return HttpResponse(_community(request, snap, brief))
    state = read_state(request.GET, brief, list(snap.by_slug))
    if request.htmx and not request.htmx.history_restore_request:
        part, names = panels_for(request.htmx.target, request.htmx.trigger_name)
        live = LiveParts(snap, prices, brief, state)
        response = HttpResponse(live.render(part, names))
        response["Server-Timing"] = f'panels;desc="{"cached" if live.hits else "rendered"}"'
        return response
    model = snap.model(brief.pk)
    live = LiveParts(snap, prices, brief, state, model)
    above, below = facts.facts(snap, brief)
    context = {
        "model": model,
        "state": state,
        "facts_html": above,
        "controls_html": live.render("controls", ()),
        "live_html": live.render("live", panels.NAMES),
        "facts_more_html": below,
        "community_html": _community(request, snap, brief),
    }
    return render(request, TEMPLATE, context)


def _community(request: HttpRequest, snap: Snapshot, brief: Brief) -> str:
    catalog_token = snap.revision.partition(".")[0]
    return community.section(
        request.GET, model=snap.model(brief.pk), catalog=catalog_token, calib=snap.calibration
    )


@require_GET
@vary_on_headers(*HTMX_HEADERS)
def estimate_detail(request: HttpRequest, key: str) -> HttpResponse:
    """The model page's live panels for a model that is not in the catalog."""
    stored = get_object_or_404(EstimateConfig, key=key)
    try:
        model = estimate.model(stored)
    except estimate.BadConfig as exc:  # stored under older rules: say so, never a 500
        context = {"error": f"This stored estimate can no longer be shown. {exc}"}
        return render(request, "catalog/estimate.html", context, status=422)
    snap, prices = snapshot()
    brief = Brief(
        0, f"estimate-{key}", model.context_length, model.is_moe, has_encoder(model.config)
    )
    state = read_state(request.GET, brief, list(snap.by_slug))
    live = LiveParts(snap, prices, brief, state, model)
    if request.htmx and not request.htmx.history_restore_request:
        part, names = panels_for(request.htmx.target, request.htmx.trigger_name)
        return HttpResponse(live.render(part, names))
    context = {
        "model": model,
        "stored": stored,
        **facts.breakdown(model),
        "controls_html": live.render("controls", ()),
        "live_html": live.render("live", panels.NAMES),
    }
    return render(request, "catalog/estimate_detail.html", context)
