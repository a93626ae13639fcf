from __future__ import annotations

from functools import lru_cache

from django import forms

from catalog.forms import LenientForm
from catalog.model_page.state import QUANTS
from cloudprices.models import Provider, Tier
from estimator import limits
from estimator.serving import MAX_USERS

SORTS = {"price": "Cheapest", "memory": "Most memory", "name": "Name"}


class PriceFilterForm(LenientForm):
    """The prices page's filters, read leniently: every value arrives in the query string and
    is bounded; a value out of range is clamped, an unknown one ignored, and the page says so."""

    min_memory_gb = forms.IntegerField(
        required=False, min_value=0, max_value=2048, label="Min memory per GPU (GB)"
    )
    provider = forms.ChoiceField(
        required=False, choices=[("", "Any provider"), *Provider.choices], label="Provider",
        initial="",
    )  # fmt: skip
    tier = forms.ChoiceField(
        required=False, choices=[("", "Any tier"), *Tier.choices], label="Tier", initial=""
    )
    gpu_count = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Any count")]
        + [(str(n), f"{n} GPU{'s' if n > 1 else ''}") for n in (1, 2, 4, 8)],
        label="GPUs",
    )
    max_price = forms.DecimalField(
        required=False, min_value=0, max_value=1000, decimal_places=2, label="Max $/GPU-hour"
    )
    sort = forms.ChoiceField(
        required=False, choices=list(SORTS.items()), label="Sort", initial="price"
    )


class ServeForm(LenientForm):
    """The prices page's "serve a model" inputs, read leniently as the filters are; the model's
    context and quants bound `ctx` and `quant` (serve_form builds the class per model kind)."""

    model = forms.CharField(required=False, max_length=120, label="Model", initial="")
    quant = forms.ChoiceField(
        required=False, choices=[(q, q) for q in QUANTS], label="Quant", initial="Q4_K_M"
    )
    ctx = forms.IntegerField(
        required=False, min_value=256, max_value=limits.CONTEXT.high,
        label="Context per user (tokens)", initial=8192,
    )  # fmt: skip
    users = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_USERS, label="Users", initial=1
    )
    per_user_tps = forms.FloatField(
        required=False, min_value=0.1, max_value=1000, label="Tokens/s per user", initial=10
    )
    ttft_s = forms.FloatField(
        required=False, min_value=0.05, max_value=600, label="Time to first token (s)"
    )
    prompt_tokens = forms.IntegerField(
        required=False, min_value=1, max_value=limits.CONTEXT.high, label="Prompt (tokens)",
        initial=1024,
    )  # fmt: skip
    runtime = forms.ChoiceField(
        required=False, choices=[(r, r) for r in limits.RUNTIMES], label="Runtime",
        initial="llama.cpp",
    )  # fmt: skip
    serve_tier = forms.ChoiceField(
        required=False, choices=[("", "Any tier"), *Tier.choices], label="Tier", initial=""
    )


@lru_cache(maxsize=64)
def serve_form(context_length: int, quants: tuple[str, ...]) -> type[ServeForm]:
    """The serve form for models of this context and these quants."""
    return type(
        "ModelServeForm",
        (ServeForm,),
        {
            "quant": forms.ChoiceField(
                required=False, choices=[(q, q) for q in quants], label="Quant",
                initial="Q4_K_M",
            ),
            "ctx": forms.IntegerField(
                required=False, min_value=min(256, context_length), max_value=context_length,
                label="Context per user (tokens)", initial=min(8192, context_length),
            ),
            "prompt_tokens": forms.IntegerField(
                required=False, min_value=1, max_value=context_length, label="Prompt (tokens)",
                initial=min(1024, context_length),
            ),
        },
    )  # fmt: skip
