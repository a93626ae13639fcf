"""Forms that read a page's state from its query string.

Every page reads its state one way: a `LenientForm`. A page never refuses its own URL: a value
out of range is clamped, a value that is not a number or not one of the choices falls back to
the default, and each correction is written to `notes`, which the page shows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.forms.forms import DeclarativeFieldsMetaclass
from django.http import QueryDict


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
        if isinstance(field, forms.IntegerField):  # FloatField and DecimalField are ones too
            return self._number(field, raw, default)
        if isinstance(field, forms.ChoiceField):
            lowered = {str(k).lower(): k for k, _ in field.choices}  # type: ignore[misc]
            if raw.lower() in lowered:
                return field.clean(lowered[raw.lower()])
            shown = dict((str(k), v) for k, v in field.choices).get(  # type: ignore[misc]
                "" if default is None else str(default), default
            )
            self.notes.append(f"{label} {raw[:40]!r} is not one of the options; using {shown}.")
            return default
        most = getattr(field, "max_length", None)
        if isinstance(field, forms.CharField) and most is not None and len(raw) > most:
            self.notes.append(f"{label} is longer than {most} characters; using the first {most}.")
            return field.clean(raw[:most])
        self.notes.append(f"{label} {raw[:40]!r} is not one of the options; using {default}.")
        return default

    def _number(self, field: forms.IntegerField, raw: str, default: Any) -> Any:
        """A number written another way (1e3, 8192.0) as the field's type, clamped into its
        range; the default when it is not a finite number."""
        label = field.label
        try:
            number = float(raw)
            if isinstance(field, forms.DecimalField):
                places = Decimal(1).scaleb(-(field.decimal_places or 0))
                value: Any = Decimal(raw.strip())
                if not value.is_finite():  # NaN would compare with nothing
                    raise ValueError(raw)
                value = value.quantize(places)
            elif isinstance(field, forms.FloatField):
                if not math.isfinite(number):
                    raise ValueError(raw)
                value = number
            else:
                value = int(number)
                if value != number and math.isfinite(number):
                    self.notes.append(f"{label} takes whole numbers; using {value}.")
        except (ValueError, OverflowError, ArithmeticError):
            if default is None:
                self.notes.append(f"{label} must be a number; ignored.")
            else:
                self.notes.append(f"{label} must be a number; using {default}.")
            return default
        low = value if field.min_value is None else field.min_value
        high = value if field.max_value is None else field.max_value
        clamped = min(max(value, low), high)
        if clamped == value:  # in range: an integer written as 1e3, a price with more places
            return value
        self.notes.append(
            f"{label} {value:g} is out of range ({low} to {high}); using {clamped}."
            if isinstance(value, float)
            else f"{label} {value} is out of range ({low} to {high}); using {clamped}."
        )
        return clamped


SORTS = {
    "-release_date": "Newest",
    "name": "Name",
    "params_total": "Smallest",
    "-params_total": "Largest",
    "-context_length": "Longest context",
    "speed": "Fastest on the machine",
}
CONTEXT_STOPS = [4096, 8192, 32768, 131072, 262144, 1_000_000]


class BrowseForm(LenientForm):
    """The browse page's filters (`Model.objects.browse` applies them); provider choices come
    from the catalog (`browse_form`)."""

    q = forms.CharField(required=False, max_length=100, label="Search", initial="")
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
        initial="",
    )
    license = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any license"),
            ("commercial", "Commercial use"),
            ("noncommercial", "Non-commercial"),
        ],
        label="License",
        initial="",
    )
    provider = forms.ChoiceField(required=False, choices=[], label="Provider", initial="")
    context_min = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Any context")]
        + [(str(c), f"≥ {c // 1024}K" if c % 1024 == 0 else f"≥ {c:,}") for c in CONTEXT_STOPS],
        label="Context",
    )
    sort = forms.ChoiceField(
        required=False, choices=list(SORTS.items()), label="Sort", initial="-release_date"
    )

    def read(self) -> dict[str, Any]:
        values = super().read()
        low, high = values["params_min"], values["params_max"]
        if low is not None and high is not None and low > high:
            self.notes.append(f"Max params (B) {high:g} is below min params ({low:g}); ignored.")
            values["params_max"] = None
        return values

    @classmethod
    def query(cls, values: Mapping[str, Any]) -> str:
        """The query string of these filters: only the values that are not the default."""
        shown = {
            name: f"{value:g}" if isinstance(value, float) else str(value)
            for name, value in values.items()
            if value not in (None, "") and value != cls.base_fields[name].initial
        }
        return urlencode(shown)

    @classmethod
    def showing(cls, values: Mapping[str, Any]) -> BrowseForm:
        """A form bound to these (corrected) values, for the page to show."""
        return cls(QueryDict(cls.query(values)))


def browse_form(providers: Sequence[tuple[str, str]]) -> type[BrowseForm]:
    """The browse form with these (slug, name) providers to choose from (set on a subclass:
    a lenient form's fields are shared, see SharedFields)."""
    provider = forms.ChoiceField(
        required=False, choices=[("", "Any provider"), *providers], label="Provider", initial=""
    )
    return type("CatalogBrowseForm", (BrowseForm,), {"provider": provider})


GPU_COUNTS = (1, 2, 4, 8)


class MachinePickForm(LenientForm):
    """The home page's machine: a catalog device or the CPU alone (`catalog.machines.CPU`), how
    many, and whether to list only what runs on it; its RAM is read by catalog.machine_state.
    Device choices are set on a subclass per catalog (`machine_pick_form`)."""

    gpu = forms.ChoiceField(label="GPU", required=False, choices=[], initial="")
    gpu_count = forms.TypedChoiceField(
        label="GPUs", coerce=int, choices=[(n, str(n)) for n in GPU_COUNTS], initial=1
    )
    runs = forms.ChoiceField(
        label="Only what runs on it", required=False, choices=[("", "no"), ("1", "yes")],
        initial="",
    )  # fmt: skip


def machine_pick_form(devices: Sequence[tuple[str, str]]) -> type[MachinePickForm]:
    """The machine form with these (slug, name) devices, the CPU alone and no machine to choose
    from (set on a subclass: a lenient form's fields are shared, see SharedFields)."""
    gpu = forms.ChoiceField(
        label="GPU",
        required=False,
        choices=[("", "No machine"), ("cpu", "No GPU (CPU only)"), *devices],
        initial="",
    )
    return type("CatalogMachinePickForm", (MachinePickForm,), {"gpu": gpu})
