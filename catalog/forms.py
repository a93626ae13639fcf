"""Forms that read a page's state from its query string.

Every page reads its state one way: a `LenientForm`. A page never refuses its own URL: a value
out of range is clamped, a value that is not a number or not one of the choices falls back to
the default, and each correction is written to `notes`, which the page shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.forms import DeclarativeFieldsMetaclass

from catalog.models import Provider


class SharedFields(dict[str, forms.Field]):
    """A lenient form's fields, shared by its instances rather than deep-copied for each: a
    lenient form reads its fields and never changes them (set choices on the class, not on an
    instance). The copy was most of the model page's state cost: ~0.2 ms a request for ten
    fields with 72 GPU choices."""

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedFields:
        return self


class LenientFormMetaclass(DeclarativeFieldsMetaclass):
    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> type:
        cls = super().__new__(mcs, name, bases, attrs)
        cls.base_fields = SharedFields(cls.base_fields)  # type: ignore[attr-defined]
        return cls


class LenientForm(forms.Form, metaclass=LenientFormMetaclass):
    """A form over a query string that always yields a state (`read()`) and says what it had to
    change (`notes`). A field's default is its `initial`; labels name the fields in notes."""

    def __init__(self, data: Mapping[str, str] | None = None) -> None:
        super().__init__(data if data is not None else {})
        self.notes: list[str] = []

    def read(self) -> dict[str, Any]:
        """Every field's value: as given when valid, else corrected (and noted)."""
        values: dict[str, Any] = {}
        for name, field in self.fields.items():
            raw = self.data.get(name)
            default = field.initial
            if raw is None or raw == "":
                values[name] = default
                continue
            try:
                values[name] = field.clean(raw)
            except ValidationError:
                values[name] = self._correct(field, str(raw), default)
        return values

    def _correct(self, field: forms.Field, raw: str, default: Any) -> Any:
        label = field.label
        if isinstance(field, forms.IntegerField):
            try:
                value = int(float(raw))
            except (ValueError, OverflowError):
                self.notes.append(f"{label} must be a number; using {default}.")
                return default
            low, high = field.min_value, field.max_value
            clamped = min(max(value, low), high)  # type: ignore[type-var]
            if clamped == value:  # written as 1e3 or 8192.0: a number, in range
                return value
            self.notes.append(
                f"{label} {value} is out of range ({low} to {high}); using {clamped}."
            )
            return clamped
        if isinstance(field, forms.ChoiceField):
            lowered = {str(k).lower(): k for k, _ in field.choices}  # type: ignore[misc]
            if raw.lower() in lowered:
                return lowered[raw.lower()]
        self.notes.append(f"{label} {raw[:40]!r} is not one of the options; using {default}.")
        return default


SORTS = {
    "-release_date": "Newest",
    "name": "Name",
    "params_total": "Smallest",
    "-params_total": "Largest",
    "-context_length": "Longest context",
}
CONTEXT_STOPS = [4096, 8192, 32768, 131072, 262144, 1_000_000]


class BrowseForm(forms.Form):
    """The browse page's filters; every value arrives in the query string and is bounded."""

    q = forms.CharField(required=False, max_length=100, label="Search")
    params_min = forms.FloatField(
        required=False, min_value=0, max_value=10000, label="Min params (B)"
    )
    params_max = forms.FloatField(
        required=False, min_value=0, max_value=10000, label="Max params (B)"
    )
    modality = forms.ChoiceField(
        required=False,
        choices=[("", "Any input"), ("image", "Images"), ("audio", "Audio"), ("video", "Video")],
        label="Input",
    )
    license = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any license"),
            ("commercial", "Commercial use"),
            ("noncommercial", "Non-commercial"),
        ],
    )
    provider = forms.ChoiceField(required=False, choices=[])
    context_min = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Any context")]
        + [(str(c), f"≥ {c // 1024}K" if c % 1024 == 0 else f"≥ {c:,}") for c in CONTEXT_STOPS],
        label="Context",
    )
    sort = forms.ChoiceField(required=False, choices=list(SORTS.items()))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["provider"].choices = [("", "Any provider")] + [
            (p.slug, p.name) for p in Provider.objects.order_by("name")
        ]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        low, high = data.get("params_min"), data.get("params_max")
        if low is not None and high is not None and low > high:
            self.add_error("params_max", "Max params must not be below min params.")
        return data
