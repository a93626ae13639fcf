from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from catalog import parts
from catalog.model_page.state import QUANTS, quant_choices
from catalog.models import Model, Revision
from catalog.snapshot import Snapshot, snapshot
from cloudprices import queries
from cloudprices.forms import PriceFilterForm, serve_form
from cloudprices.models import SNAPSHOT_AS_OF
from cloudprices.serving import for_catalog_model
from estimator import limits
from estimator.serving import Target
from estimator.units import GIB, gib, tps


@require_GET
def prices(request: HttpRequest) -> HttpResponse:
    """The cheapest offer of every GPU and the providers' status, each rendered once per prices
    revision and minute (a price turns stale two hours after its fetch; a failed fetch is
    recorded without a new revision, so the status shows it within a minute); the table also
    once per filters."""
    form = PriceFilterForm(request.GET)
    values = form.read()
    now = timezone.now()
    token = Revision.current().prices
    minute = f"{now:%Y-%m-%d %H:%M}"
    shown = sorted((k, str(v)) for k, v in values.items() if v not in (None, ""))
    key = None if form.notes else parts.key("gpu-prices", token, shown, minute)
    table = parts.cached(
        key,
        lambda: render_to_string("cloudprices/prices.html#table", _table(form, values, token, now)),
    )
    status = parts.cached(
        parts.key("gpu-prices-status", token, minute),
        lambda: render_to_string(
            "cloudprices/prices.html#status",
            {"statuses": queries.provider_status(token, now), "snapshot_as_of": SNAPSHOT_AS_OF},
        ),
    )
    serve = _serve_html(request.GET, token, minute)
    return render(
        request,
        "cloudprices/prices.html",
        {"table_html": table, "status_html": status, "serve_html": serve},
    )


def _serve_html(query: Any, token: str, minute: str) -> str:
    """The "serve a model" section, rendered once per catalog and prices revision, inputs and
    minute (stale flags move with the clock), like the table."""
    snap, _ = snapshot()
    context = _serving(query, snap, token)
    values = sorted((k, str(v)) for k, v in context["values"].items())
    key = None if context["notes"] else parts.key("gpu-serve", snap.revision, token, values, minute)
    return parts.cached(
        key, lambda: render_to_string("cloudprices/prices.html#serve", {"s": _answer(context)})
    )


def _serving(query: Any, snap: Snapshot, token: str) -> dict[str, Any]:
    """The "serve a model" form as read (values, notes, choices) and the model's brief."""
    brief = snap.models.get(query.get("model", ""))
    form = serve_form(
        brief.context_length if brief else limits.CONTEXT.high,
        quant_choices(brief) if brief else QUANTS,
    )(query)
    values = form.read()
    notes = form.notes
    if values["model"] and brief is None:
        notes.append(f"No model {values['model']!r} in the catalog; pick one.")
    context = {
        "brief": brief,
        "token": token,
        "snap": snap,
        "values": values,
        "notes": notes,
        "models": _models(snap),
        "quants": form.fields["quant"].choices,  # type: ignore[attr-defined]
        "max_ctx": form.fields["ctx"].max_value,  # type: ignore[attr-defined]
        "runtimes": limits.RUNTIMES,
        "tiers": form.fields["serve_tier"].choices,  # type: ignore[attr-defined]
    }
    if brief is not None and values["prompt_tokens"] > values["ctx"]:
        ctx = values["ctx"]
        notes.append(
            f"Prompt (tokens) {values['prompt_tokens']} is over the context per user; using {ctx}."
        )
        values["prompt_tokens"] = ctx
    return context


def _answer(context: dict[str, Any]) -> dict[str, Any]:
    """The context with a catalog model's ranked offers (none without a model)."""
    values, brief = context["values"], context["brief"]
    if brief is None:
        return context
    ctx = values["ctx"]
    target = Target(values["per_user_tps"], values["ttft_s"], values["prompt_tokens"])
    answer = for_catalog_model(
        context["snap"], context["token"], brief, target, quant=values["quant"],
        users=values["users"], ctx=ctx, runtime=values["runtime"],
        tier=values["serve_tier"] or None,
    )  # fmt: skip
    now = timezone.now()
    context["answer"] = answer
    context["rows"] = [
        {
            "gpus": s.gpu_count,
            "url": reverse("catalog:hardware_detail", args=[s.hardware.slug]),
            "name": s.hardware.name,
            "where": s.offer.where,
            "region": s.offer.region,
            "price": f"${s.price_per_hour:.2f}",
            "served": s.users_served,
            "total": tps(s.at_users.aggregate_tokens_per_s),
            "per_user": tps(s.at_users.per_user_tokens_per_s),
            "ttft": "unknown" if s.at_users.ttft_s is None else f"{s.at_users.ttft_s:.2f} s",
            "cost": f"${s.cost_per_million:.3f}",
            "as_of": s.offer.age(now),
            "assumption": s.assumption,
        }
        for s in answer.offers
    ]
    return context


def _table(
    form: PriceFilterForm, values: dict[str, Any], token: str, now: datetime
) -> dict[str, Any]:
    """The filters (as read) and the cheapest offer of each device passing them."""
    min_gb, provider, tier = values["min_memory_gb"], values["provider"], values["tier"]
    offers = queries.filtered(
        min_memory_bytes=min_gb * GIB if min_gb else None,
        provider=provider or None,
        tier=tier or None,
        gpu_count=values["gpu_count"],
        max_price=values["max_price"],
    )
    rows = queries.cheapest_per_device(offers)
    if values["sort"] == "memory":
        rows.sort(key=lambda r: (-r.hardware.memory_bytes, r.offer.price_per_gpu_hour))
    elif values["sort"] == "name":
        rows.sort(key=lambda r: r.hardware.name)
    spark = queries.sparklines([r.hardware.pk for r in rows], provider or None, tier or None, token)
    table = [
        {
            "url": reverse("catalog:hardware_detail", args=[r.hardware.slug]),
            "name": r.hardware.name,
            "memory": gib(r.hardware.memory_bytes),
            "price": f"${r.offer.price_per_gpu_hour:.2f}",
            "where": r.offer.where
            + (f" · {r.offer.gpu_count} GPUs" if r.offer.gpu_count > 1 else ""),
            "region": r.offer.region,
            "offers": r.offers,
            "spark": spark.get(r.hardware.pk, ""),
            "as_of": r.offer.age(now),
        }
        for r in rows
    ]
    fields = form.fields
    return {
        "notes": form.notes,
        "values": values,
        "selects": [
            (
                name,
                fields[name].label,
                [
                    (str(value), text, str(value) == str(values[name] or ""))
                    for value, text in fields[name].choices  # type: ignore[attr-defined]
                ],
            )
            for name in ("provider", "tier", "gpu_count", "sort")
        ],
        "rows": table,
        "spark_days": queries.SPARK_DAYS,
        "spark_width": queries.SPARK_WIDTH,
        "spark_height": queries.SPARK_HEIGHT,
    }


def _models(snap: Snapshot) -> list[tuple[str, str]]:
    """Every catalog model as (slug, name), by name: the form's model picker."""
    return snap.remember(
        "serve-models", lambda: list(Model.objects.order_by("name").values_list("slug", "name"))
    )
