from __future__ import annotations

from django import forms

from catalog.forms import LenientForm
from cloudprices.models import Provider, Tier

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
