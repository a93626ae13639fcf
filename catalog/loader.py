"""Sync the catalog's data files into the database: every file is read and checked first
(catalog/datafiles.py), so a bad file changes nothing; then rows are created or updated in one
transaction. Idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from catalog.datafiles import (
    DATA_DIR,
    HF_ID_RE,
    MODALITIES,
    CatalogError,
    ModelRecord,
    model_slug,
    parse_hardware_file,
    parse_provider_file,
)
from catalog.models import Encoder, Family, Hardware, Modality, Model, Provider, Score

# Importers of the loader also name what it reads with (the command, import_hf, the importer).
__all__ = ["DATA_DIR", "HF_ID_RE", "CatalogError", "LoadReport", "load_catalog", "model_slug",
           "parse_hardware_file", "parse_provider_file"]  # fmt: skip


@dataclass
class LoadReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    not_in_files: list[str] = field(default_factory=list)

    def count(self, kind: str, outcome: str) -> None:
        bucket: dict[str, int] = getattr(self, outcome)
        bucket[kind] = bucket.get(kind, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def _check_unique(items: Iterable[tuple[str, str]], what: str) -> None:
    seen: dict[str, str] = {}
    for key, where in items:
        if key in seen:
            raise CatalogError(f"{where}: duplicate {what} {key!r} (also in {seen[key]})")
        seen[key] = where


def _sync(
    model_cls: type[Any],
    lookup: dict[str, Any],
    values: dict[str, Any],
) -> tuple[Any, str]:
    """Create or update one row; return it and "created", "updated" or "unchanged"."""
    obj = model_cls.objects.filter(**lookup).first()
    if obj is None:
        return model_cls.objects.create(**lookup, **values), "created"
    changed = [k for k, v in values.items() if getattr(obj, k) != v]
    if not changed:
        return obj, "unchanged"
    for k in changed:
        setattr(obj, k, values[k])
    obj.save(update_fields=changed)
    return obj, "updated"


def load_catalog(
    data_dir: Path = DATA_DIR, progress: Callable[[str], None] | None = None
) -> LoadReport:
    """Validate every file in data_dir, then create/update the rows; idempotent."""
    provider_files = sorted((data_dir / "providers").glob("*.toml"))
    if not provider_files:
        raise CatalogError(f"no provider files in {data_dir / 'providers'}")
    providers = [parse_provider_file(p) for p in provider_files]
    hardware = parse_hardware_file(data_dir / "hardware.toml")

    _check_unique(
        ((p.fields["slug"], path.name) for p, path in zip(providers, provider_files, strict=True)),
        "provider slug",
    )
    _check_unique(
        (
            (fam["slug"], path.name)
            for p, path in zip(providers, provider_files, strict=True)
            for fam in p.families
        ),
        "family slug",
    )
    all_models = [
        (m, path.name) for p, path in zip(providers, provider_files, strict=True) for m in p.models
    ]
    _check_unique(((m.fields["slug"], f) for m, f in all_models), "model slug")
    _check_unique(((m.fields["hf_id"].lower(), f) for m, f in all_models), "hf_id")
    _check_unique(((h["slug"], "hardware.toml") for h in hardware), "hardware slug")
    family_slugs = {fam["slug"] for p in providers for fam in p.families}
    for m, f in all_models:
        if m.fields["family"] not in family_slugs:
            raise CatalogError(
                f"{f}: model {m.fields['hf_id']}: field 'family' names unknown family "
                f"{m.fields['family']!r}"
            )

    report = LoadReport()
    with transaction.atomic():
        modalities = {code: Modality.objects.get_or_create(code=code)[0] for code in MODALITIES}
        provider_objs = {}
        family_objs: dict[str, Family] = {}
        for p in providers:
            fields = dict(p.fields)
            prov, outcome = _sync(Provider, {"slug": fields.pop("slug")}, fields)
            report.count("providers", outcome)
            provider_objs[prov.slug] = prov
            for fam in p.families:
                values = {k: v for k, v in fam.items() if k != "slug"} | {"provider": prov}
                family_objs[fam["slug"]], outcome = _sync(Family, {"slug": fam["slug"]}, values)
                report.count("families", outcome)
        for p in providers:
            prov = provider_objs[p.fields["slug"]]
            for m in p.models:
                values = dict(m.fields)
                slug = values.pop("slug")
                values["family"] = family_objs[values["family"]]
                values["provider"] = prov
                obj, outcome = _sync(Model, {"slug": slug}, values)
                if _sync_model_relations(obj, m, modalities) and outcome == "unchanged":
                    outcome = "updated"
                report.count("models", outcome)
        for h in hardware:
            values = dict(h)
            _, outcome = _sync(Hardware, {"slug": values.pop("slug")}, values)
            report.count("hardware", outcome)

        in_files = {m.fields["slug"] for m, _ in all_models}
        report.not_in_files = sorted(
            Model.objects.exclude(slug__in=in_files).values_list("slug", flat=True)
        )
    if progress:
        progress(f"read {len(provider_files)} provider files and hardware.toml")
    return report


def _sync_model_relations(obj: Model, record: ModelRecord, modalities: dict[str, Modality]) -> bool:
    """Set modalities and encoders to what the file says; True if anything changed."""
    changed = False
    for attr, codes in (
        ("input_modalities", record.input_modalities),
        ("output_modalities", record.output_modalities),
    ):
        manager = getattr(obj, attr)
        if set(manager.values_list("code", flat=True)) != set(codes):
            manager.set([modalities[c] for c in codes])
            changed = True
    current = [
        (e.name, e.modality.code, e.params, e.source)
        for e in obj.encoders.select_related("modality").order_by("id")
    ]
    wanted = [(e["name"], e["modality"], e["params"], e["source"]) for e in record.encoders]
    if current != wanted:
        obj.encoders.all().delete()
        for name, modality, params, source in wanted:
            Encoder.objects.create(
                model=obj, name=name, modality=modalities[modality], params=params, source=source
            )
        changed = True
    keys = ("benchmark", "setting", "value", "unit", "source", "source_kind")
    have = sorted(tuple(row) for row in obj.scores.values_list(*keys))
    want = sorted(tuple(score[k] for k in keys) for score in record.scores)
    if have != want:
        obj.scores.all().delete()
        Score.objects.bulk_create(Score(model=obj, **score) for score in record.scores)
        changed = True
    return changed
