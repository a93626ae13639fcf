"""The submission form: the setup every row shares, and one row per measured test.

A single result is one row; a pasted llama-bench output fills one row per test. The API feeds
its JSON through the same forms, so both validate alike.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from benchmarks.models import (
    KV_TYPES,
    MAX_BATCH,
    MAX_COUNT,
    MAX_TOKENS_PER_S,
    Backend,
    Runtime,
)
from catalog.models import Hardware, Model
from estimator.quant import FILE_TYPES

MAX_ROWS = 50
MAX_PASTE = 200_000  # characters
OTHER = "other"


class SlugChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A catalog row chosen by its slug, so URLs and the API can name it."""

    def __init__(self, queryset: Any, **kwargs: Any) -> None:
        super().__init__(queryset, to_field_name="slug", **kwargs)


class SetupForm(forms.Form):
    """What every row of one submission shares."""

    model = SlugChoiceField(
        Model.objects.order_by("name"),
        error_messages={"invalid_choice": "No model with that slug in our catalog."},
    )
    hardware = forms.CharField(
        max_length=60,
        label="Device",
        help_text=f"a catalog device, or “{OTHER}” and its name below",
        widget=forms.Select(),
    )
    hardware_text = forms.CharField(
        required=False, max_length=120, label="Other device", help_text="stored, not aggregated"
    )
    hardware_count = forms.IntegerField(
        min_value=1, max_value=MAX_COUNT, initial=1, label="Number of devices"
    )
    runtime = forms.ChoiceField(choices=Runtime.choices, initial=Runtime.LLAMA_CPP)
    runtime_version = forms.CharField(
        required=False,
        max_length=80,
        label="Runtime version",
        help_text="llama.cpp build (e.g. b6123 or its commit), Ollama 0.12.3, …",
    )
    backend = forms.ChoiceField(choices=Backend.choices, initial=Backend.CUDA)
    notes = forms.CharField(
        required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 3})
    )
    link = forms.URLField(required=False, max_length=300, assume_scheme="https")
    name = forms.CharField(required=False, max_length=60, label="Display name (optional)")
    # A field people never see: bots that fill every input fill it too.
    website = forms.CharField(required=False, label="Leave this empty")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        devices = [(h.slug, h.name) for h in Hardware.objects.order_by("segment", "name")]
        field = self.fields["hardware"]
        field.widget.choices = [
            ("", "Choose a device"),
            *devices,
            (OTHER, "Other (write it below)"),
        ]
        self._slugs = {slug for slug, _ in devices}

    def clean_hardware(self) -> Hardware | None:
        slug = self.cleaned_data["hardware"]
        if slug == OTHER:
            return None
        if slug not in self._slugs:
            raise ValidationError(f"No device “{slug[:60]}” in our catalog; choose “{OTHER}”.")
        return Hardware.objects.get(slug=slug)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "hardware" in data and data["hardware"] is None and not data.get("hardware_text"):
            self.add_error("hardware_text", "Name the device, or choose one from the list.")
        if data.get("hardware") is not None:
            data["hardware_text"] = ""
        return data


class RowForm(forms.Form):
    """One measured test: its quant and settings, and the speeds it gave."""

    quant = forms.ChoiceField(
        required=False,
        choices=[("", "Other (write it below)"), *((q, q) for q in FILE_TYPES)],
        help_text="GGUF file type",
    )
    quant_text = forms.CharField(required=False, max_length=200, label="Other quant or file name")
    context = forms.IntegerField(
        min_value=1,
        max_value=10_000_000,
        label="Context",
        help_text="tokens allocated per sequence",
    )
    depth = forms.IntegerField(
        min_value=0, max_value=10_000_000, initial=0, help_text="tokens in the cache when measured"
    )
    batch = forms.IntegerField(
        min_value=1, max_value=MAX_BATCH, initial=1, help_text="parallel sequences"
    )
    flash_attn = forms.NullBooleanField(
        required=False,
        label="Flash attention",
        widget=forms.Select(choices=[("unknown", "Not stated"), ("true", "On"), ("false", "Off")]),
    )
    kv_type = forms.ChoiceField(choices=[(k, k) for k in KV_TYPES], initial="f16", label="KV cache")
    prompt_tokens_per_s = forms.FloatField(
        required=False, min_value=0.01, max_value=MAX_TOKENS_PER_S, label="Prompt t/s"
    )
    gen_tokens_per_s = forms.FloatField(
        required=False,
        min_value=0.01,
        max_value=MAX_TOKENS_PER_S,
        label="Generation t/s",
        help_text="all parallel sequences together",
    )
    test = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("quant") and not data.get("quant_text") and "quant" in data:
            self.add_error("quant_text", "Choose a quant, or write the file name.")
        speeds = ("prompt_tokens_per_s", "gen_tokens_per_s")
        if all(k in data and data[k] is None for k in speeds):
            raise ValidationError("Give the prompt or the generation speed (or both).")
        depth, context = data.get("depth"), data.get("context")
        if depth is not None and context is not None and depth > context:
            self.add_error("depth", f"The depth ({depth}) is more than the context ({context}).")
        return data


class BaseRowFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def clean(self) -> None:
        if any(self.errors):
            return
        rows = [f.cleaned_data for f in self.forms if f.cleaned_data]
        if not rows:
            raise ValidationError("Add at least one result.")


RowFormSet = forms.formset_factory(
    RowForm,
    formset=BaseRowFormSet,
    extra=0,
    min_num=1,
    max_num=MAX_ROWS,
    validate_min=True,
    validate_max=True,
    absolute_max=MAX_ROWS,
)


class PasteForm(forms.Form):
    paste = forms.CharField(
        max_length=MAX_PASTE,
        label="llama-bench output",
        help_text="its markdown table, or the output of -o json / -o jsonl / -o csv",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        strip=False,
    )
