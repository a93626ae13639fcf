"""Storing submissions: rate limit, duplicates, the plausibility verdict. Shared by the form,
the paste flow and the API."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from benchmarks.models import Source, Status, Submission
from benchmarks.plausibility import judge, setup_of
from catalog.models import Revision
from config import ratelimit

SETUP_FIELDS = ("model", "hardware", "hardware_text", "hardware_count", "runtime",
                "runtime_version", "backend")  # fmt: skip
ROW_FIELDS = ("quant", "quant_text", "context", "depth", "batch", "flash_attn", "kv_type",
              "prompt_tokens_per_s", "gen_tokens_per_s")  # fmt: skip


class Duplicate(Exception):
    def __init__(self, rows: dict[int, str]) -> None:
        super().__init__("; ".join(rows.values()))
        self.rows = rows  # row index -> message


def fingerprint(setup: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    """The same setup and figures hash alike, however they were typed."""
    hardware = setup["hardware"]
    values = [
        setup["model"].pk,
        row["quant"] or row["quant_text"].strip().lower(),
        hardware.pk if hardware else setup["hardware_text"].strip().lower(),
        setup["hardware_count"], setup["runtime"], setup["runtime_version"].strip().lower(),
        setup["backend"], row["context"], row["depth"], row["batch"], row["flash_attn"],
        row["kv_type"],
        None if row["prompt_tokens_per_s"] is None else round(row["prompt_tokens_per_s"], 2),
        None if row["gen_tokens_per_s"] is None else round(row["gen_tokens_per_s"], 2),
    ]  # fmt: skip
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


def model_errors(setup: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """Row index -> what does not fit the chosen model (a context beyond its own)."""
    model = setup["model"]
    return {
        i: f"A context of {row['context']:,} tokens is more than {model.name}'s "
        f"{model.context_length:,}."
        for i, row in enumerate(rows)
        if row["context"] > model.context_length
    }


def store(
    setup: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], source: Source, ip: str
) -> list[Submission]:
    """Judge and save every row (all or none); raises Duplicate or ratelimit.Limited."""
    ratelimit.spend("benchmarks", ip, settings.BENCHMARK_RATE_LIMIT, "submissions")
    prints = [fingerprint(setup, row) for row in rows]
    seen: dict[str, int] = {}
    duplicates: dict[int, str] = {}
    for i, p in enumerate(prints):
        if p in seen:
            duplicates[i] = f"Row {i + 1} repeats row {seen[p] + 1}."
        seen.setdefault(p, i)
    stored = Submission.objects.filter(fingerprint__in=prints)
    for p, created in stored.values_list("fingerprint", "created_at"):
        index = prints.index(p)
        duplicates[index] = (
            f"Row {index + 1}: this exact result was already submitted on {created:%Y-%m-%d}."
        )
    if duplicates:
        raise Duplicate(dict(sorted(duplicates.items())))
    now = timezone.now()
    submissions = []
    for row, p in zip(rows, prints, strict=True):
        verdict = judge(setup_of({**setup, **row}))
        submissions.append(
            Submission(
                model=setup["model"],
                quant=row["quant"],
                quant_text=row["quant_text"],
                hardware=setup["hardware"],
                hardware_text=setup["hardware_text"],
                hardware_count=setup["hardware_count"],
                runtime=setup["runtime"],
                runtime_version=setup["runtime_version"],
                backend=setup["backend"],
                context=row["context"],
                depth=row["depth"],
                batch=row["batch"],
                flash_attn=row["flash_attn"],
                kv_type=row["kv_type"],
                prompt_tokens_per_s=row["prompt_tokens_per_s"],
                gen_tokens_per_s=row["gen_tokens_per_s"],
                test=row.get("test", ""),
                notes=setup["notes"],
                link=setup["link"],
                name=setup["name"],
                status=Status.PUBLISHED if verdict.published else Status.PENDING,
                held_reason=verdict.reason,
                estimate_gen_tokens_per_s=verdict.estimate_gen,
                roofline_gen_tokens_per_s=verdict.roofline_gen,
                roofline_prompt_tokens_per_s=verdict.roofline_prompt,
                source=source,
                ip_hash=ip,
                fingerprint=p,
                created_at=now,
            )
        )
    try:
        with transaction.atomic():
            Submission.objects.bulk_create(submissions)
    except IntegrityError as exc:  # a twin stored between our check and our insert
        raise Duplicate({0: "This exact result was submitted a moment ago."}) from exc
    Revision.bump(Revision.BENCHMARKS)  # bulk_create sends no signals
    return submissions


def refresh(submission: Submission) -> None:
    """Recompute what a stored result derives from its setup (after a moderator edits it):
    the fingerprint, our estimate and the rooflines. The status stays the moderator's."""
    fields = {f: getattr(submission, f) for f in SETUP_FIELDS + ROW_FIELDS}
    verdict = judge(setup_of(submission))
    submission.fingerprint = fingerprint(fields, fields)
    submission.estimate_gen_tokens_per_s = verdict.estimate_gen
    submission.roofline_gen_tokens_per_s = verdict.roofline_gen
    submission.roofline_prompt_tokens_per_s = verdict.roofline_prompt
