from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from benchmarks import llamabench, paste, submit
from benchmarks.forms import MAX_ROWS, PasteForm, RowFormSet, SetupForm
from benchmarks.models import Source, Submission
from config import ratelimit

log = logging.getLogger(__name__)
TEMPLATE = "benchmarks/submit.html"
SIGNING_SALT = "benchmarks.submitted"


@require_http_methods(["GET", "POST"])
def submit_view(request: HttpRequest) -> HttpResponse:
    """The submission form: one result, or a pasted llama-bench output read into rows to
    review; post/redirect/get, with inline errors over HTMX."""
    if request.method == "GET":
        return _render(request, *_blank(request.GET))
    if request.POST.get("action") == "read":
        return _read_paste(request)
    setup = SetupForm(request.POST)
    rows = RowFormSet(request.POST, prefix="rows")
    pasted = PasteForm(initial={"paste": request.POST.get("paste", "")})
    if request.POST.get("website"):  # the honeypot: a bot; say nothing useful to it
        log.info("benchmark submission dropped: honeypot filled")
        return _done(request, [])
    if not (setup.is_valid() and rows.is_valid()):
        return _render(request, setup, rows, pasted)
    # A row left at its defaults is "empty" to the formset and has no data: leave it out.
    filled = [form for form in rows.forms if form.cleaned_data]
    data = [form.cleaned_data for form in filled]
    problems = submit.model_errors(setup.cleaned_data, data)
    if not problems:
        try:
            stored = submit.store(
                setup.cleaned_data,
                data,
                Source.PASTE if request.POST.get("paste") else Source.FORM,
                ratelimit.client_hash(request),
            )
            return _done(request, stored)
        except submit.Duplicate as exc:
            problems = exc.rows
        except ratelimit.Limited as exc:
            setup.add_error(None, str(exc))
            response = _render(request, setup, rows, pasted, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
    for i, message in problems.items():
        filled[i].add_error(None, message)
    return _render(request, setup, rows, pasted)


def _blank(params: Any) -> tuple[SetupForm, Any, PasteForm]:
    """The form, prefilled from the query string (the model page links here with its state)."""
    setup = SetupForm(
        initial={k: params[k] for k in ("model", "hardware") if params.get(k)}
        | {"hardware_count": params.get("hardware_count") or 1}
    )
    row = {"context": 4096, "depth": 0, "batch": 1, "kv_type": "f16", "flash_attn": "unknown"}
    if params.get("quant"):
        row["quant"] = params["quant"]
    return setup, RowFormSet(prefix="rows", initial=[row]), PasteForm()


def _read_paste(request: HttpRequest) -> HttpResponse:
    """Read a pasted llama-bench output into rows for review; the setup typed so far stays."""
    pasted = PasteForm(request.POST)
    kept = {k: v for k, v in request.POST.items() if k in SetupForm.base_fields and v}
    setup, rows, _ = _blank(request.POST)
    status, retry_after = 200, 0
    if pasted.is_valid():
        try:  # reading up to 200,000 characters is work we do for a stranger
            limit = settings.BENCHMARK_PASTE_RATE_LIMIT
            ratelimit.spend("paste", ratelimit.client_hash(request), limit, "pasted outputs")
            bench = llamabench.parse(pasted.cleaned_data["paste"])
        except ratelimit.Limited as exc:
            pasted.add_error("paste", str(exc))
            status, retry_after = 429, exc.retry_after
        except llamabench.ParseError as exc:
            pasted.add_error("paste", str(exc))
        else:
            initial, skipped = paste.initial_rows(bench)
            models = sorted({r.model_filename or r.model_type for r in bench} - {""})
            if len(models) > 1:
                pasted.add_error(
                    "paste",
                    f"This output has results for {len(models)} models ({', '.join(models)}); "
                    "paste one model's rows at a time.",
                )
            elif len(initial) > MAX_ROWS:
                pasted.add_error(
                    "paste",
                    f"This output has {len(initial)} tests; submit at most {MAX_ROWS} at a time.",
                )
            elif not initial:
                pasted.add_error("paste", "No prompt or generation test in this output.")
            else:
                # What the output says of its run (runtime, build, backend) wins over the form.
                setup = SetupForm(initial=kept | paste.initial_setup(bench))
                rows = RowFormSet(prefix="rows", initial=initial)
                return _render(request, setup, rows, pasted, skipped=skipped, read=len(initial))
    setup = SetupForm(initial=kept | {"hardware_count": kept.get("hardware_count", 1)})
    response = _render(request, setup, rows, pasted, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _render(
    request: HttpRequest,
    setup: SetupForm,
    rows: Any,
    pasted: PasteForm,
    *,
    status: int = 200,
    skipped: list[str] | None = None,
    read: int = 0,
) -> HttpResponse:
    context = {"setup": setup, "rows": rows, "pasted": pasted, "skipped": skipped, "read": read}
    template = TEMPLATE + "#form" if request.htmx else TEMPLATE
    return render(request, template, context, status=status)


def _done(request: HttpRequest, stored: list[Submission]) -> HttpResponse:
    token = signing.dumps([s.pk for s in stored], salt=SIGNING_SALT)
    url = f"{reverse('benchmarks:submitted')}?t={token}"
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


@require_GET
def submitted(request: HttpRequest) -> HttpResponse:
    """What happened to the rows just submitted: published, or held and why."""
    try:
        ids = signing.loads(request.GET.get("t", ""), salt=SIGNING_SALT, max_age=7 * 86400)
    except signing.BadSignature:
        ids = None
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        return render(request, "benchmarks/submitted.html", {"invalid": True}, status=400)
    rows = Submission.objects.filter(pk__in=ids).select_related("model", "hardware")
    return render(request, "benchmarks/submitted.html", {"submissions": rows})
