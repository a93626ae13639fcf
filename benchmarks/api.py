"""Community benchmarks in the JSON API: submit a result (the form's validation and rate limit)
and list published ones."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from benchmarks import submit
from benchmarks.forms import OTHER, RowForm, SetupForm
from benchmarks.models import Source, Submission
from config import ratelimit
from config.api import ErrorOut, api
from estimator.quant import FILE_TYPES

router = Router(tags=["benchmarks"])
MAX_BODY = 20_000  # bytes

SETUP_FIELDS = ("model", "hardware", "hardware_text", "hardware_count", "runtime",
                "runtime_version", "backend", "notes", "link", "name")  # fmt: skip
ROW_FIELDS = ("context", "depth", "batch", "kv_type", "prompt_tokens_per_s", "gen_tokens_per_s")
REQUEST_SCHEMA = {
    "type": "object",
    "required": ["model", "quant", "hardware", "runtime", "backend", "context"],
    "properties": {
        "model": {"type": "string", "description": "catalog model slug"},
        "quant": {"type": "string", "description": "a GGUF file type (Q4_K_M, ...) or free text"},
        "hardware": {"type": "string", "description": f"catalog device slug, or {OTHER!r}"},
        "hardware_text": {"type": "string", "description": f"the device, when {OTHER!r}"},
        "hardware_count": {"type": "integer", "minimum": 1, "default": 1},
        "runtime": {"type": "string", "example": "llama.cpp"},
        "runtime_version": {"type": "string"},
        "backend": {"type": "string", "example": "cuda"},
        "context": {"type": "integer", "description": "context allocated per sequence"},
        "depth": {"type": "integer", "default": 0, "description": "tokens cached when measured"},
        "batch": {"type": "integer", "default": 1, "description": "parallel sequences"},
        "flash_attn": {"type": ["boolean", "null"]},
        "kv_type": {"type": "string", "default": "f16"},
        "prompt_tokens_per_s": {"type": ["number", "null"]},
        "gen_tokens_per_s": {"type": ["number", "null"], "description": "all sequences together"},
        "notes": {"type": "string"},
        "link": {"type": "string"},
        "name": {"type": "string"},
    },
}


class CreatedOut(Schema):
    id: int
    status: str = Field(description="published, or pending (held for a moderator)")
    reason: str = Field(description="why it is held; empty when published")


class SubmissionOut(Schema):
    id: int
    model: str
    quant: str
    hardware: str | None = Field(description="catalog device slug; null for another device")
    hardware_text: str
    hardware_count: int
    runtime: str
    runtime_version: str
    backend: str
    context: int
    depth: int
    batch: int
    flash_attn: bool | None
    kv_type: str
    prompt_tokens_per_s: float | None
    gen_tokens_per_s: float | None
    test: str
    name: str
    created_at: dt.datetime

    @staticmethod
    def resolve_model(obj: Submission) -> str:
        return obj.model.slug

    @staticmethod
    def resolve_quant(obj: Submission) -> str:
        return obj.quant or obj.quant_text

    @staticmethod
    def resolve_hardware(obj: Submission) -> str | None:
        return obj.hardware.slug if obj.hardware else None


class SubmissionPage(Schema):
    count: int
    items: list[SubmissionOut]


class ListFilters(Schema):
    model: str | None = Field(None, max_length=120, description="model slug")
    hardware: str | None = Field(None, max_length=60, description="device slug")
    limit: int = Field(100, ge=1, le=1000)


def _error(errors: dict[str, list[str]]) -> dict[str, Any]:
    detail = [
        {"field": "" if field == "__all__" else field, "message": message}
        for field, messages in errors.items()
        for message in messages
    ]
    text = "; ".join(
        f"{d['field']}: {d['message']}" if d["field"] else d["message"] for d in detail
    )
    return {"error": text, "detail": detail}


@router.post(
    "/benchmarks/",
    response={201: CreatedOut, 400: ErrorOut, 429: ErrorOut},
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": REQUEST_SCHEMA}},
            "required": True,
        }
    },
)
def create(request: HttpRequest) -> Any:
    """Submit one measured result; the same checks as the form. 201 with its status."""
    if request.content_type != "application/json":
        # Browsers send other types cross-site without asking (a CORS "simple request"); JSON
        # needs a preflight this API never grants, so another site cannot submit for its visitors.
        return Status(
            400, _error({"__all__": ["Send the body as Content-Type: application/json."]})
        )
    if len(request.body) > MAX_BODY:
        return Status(400, _error({"__all__": [f"The body is over {MAX_BODY:,} bytes."]}))
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        return Status(400, _error({"__all__": [f"The body is not JSON: {exc}."]}))
    if not isinstance(body, dict):
        return Status(400, _error({"__all__": ["The body must be a JSON object."]}))
    # Numbers go to the forms as text: a JSON integer of 400 digits would overflow float().
    data = {
        k: str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
        for k in (*SETUP_FIELDS, *ROW_FIELDS)
        if (v := body.get(k)) is not None
    }
    quant = str(body.get("quant") or "")
    data |= {"quant": quant, "quant_text": ""} if quant in FILE_TYPES else {"quant_text": quant}
    flash = body.get("flash_attn")
    if flash is not None and not isinstance(flash, bool):
        return Status(400, _error({"flash_attn": ["Must be true, false or null."]}))
    data["flash_attn"] = {True: "true", False: "false", None: "unknown"}[flash]
    data.setdefault("hardware_count", 1)
    data.setdefault("depth", 0)
    data.setdefault("batch", 1)
    data.setdefault("kv_type", "f16")
    setup, row = SetupForm(data), RowForm(data)
    errors = {}
    if not setup.is_valid():
        errors |= setup.errors
    if not row.is_valid():
        errors |= row.errors
    if errors:
        return Status(400, _error(errors))
    rows = [row.cleaned_data]
    if problems := submit.model_errors(setup.cleaned_data, rows):
        return Status(400, _error({"context": list(problems.values())}))
    try:
        (stored,) = submit.store(
            setup.cleaned_data, rows, Source.API, ratelimit.client_hash(request)
        )
    except submit.Duplicate as exc:
        return Status(
            400, _error({"__all__": [m.removeprefix("Row 1: ") for m in exc.rows.values()]})
        )
    except ratelimit.Limited as exc:
        response = api.create_response(request, _error({"__all__": [str(exc)]}), status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    return Status(201, {"id": stored.pk, "status": stored.status, "reason": stored.held_reason})


@router.get("/benchmarks/", response={200: SubmissionPage, 400: ErrorOut})
def list_published(request: HttpRequest, filters: Query[ListFilters]) -> dict[str, Any]:
    """Published results, newest first; filter by model and device slug."""
    rows = Submission.objects.published().select_related("model", "hardware")
    if filters.model:
        rows = rows.filter(model__slug=filters.model)
    if filters.hardware:
        rows = rows.filter(hardware__slug=filters.hardware)
    return {"count": rows.count(), "items": list(rows[: filters.limit])}
