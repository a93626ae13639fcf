"""Community benchmarks in the JSON API: submit a result (the form's validation and rate limit)
and list published ones."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from benchmarks import submit
from benchmarks.forms import OTHER, RowForm, SetupForm
from benchmarks.models import Source, Submission
from config import ratelimit, safejson
from config.api import SLUG, ErrorOut, api, read_json
from estimator.quant import FILE_TYPES

router = Router(tags=["benchmarks"])
MAX_BODY = 20_000  # bytes

SETUP = SetupForm.base_fields
ROW = RowForm.base_fields
# The request's fields, in the order the OpenAPI document lists them, each with the form field
# that validates it; `quant` is a file type or, failing that, any name up to quant_text's length.
FIELDS: dict[str, forms.Field] = {
    "model": SETUP["model"],
    "quant": ROW["quant_text"],
    "hardware": SETUP["hardware"],
    "hardware_text": SETUP["hardware_text"],
    "hardware_count": SETUP["hardware_count"],
    "runtime": SETUP["runtime"],
    "runtime_version": SETUP["runtime_version"],
    "backend": SETUP["backend"],
    "context": ROW["context"],
    "depth": ROW["depth"],
    "batch": ROW["batch"],
    "flash_attn": ROW["flash_attn"],
    "kv_type": ROW["kv_type"],
    "prompt_tokens_per_s": ROW["prompt_tokens_per_s"],
    "gen_tokens_per_s": ROW["gen_tokens_per_s"],
    "notes": SETUP["notes"],
    "link": SETUP["link"],
    "name": SETUP["name"],
}
REQUIRED = ("model", "quant", "hardware", "runtime", "backend", "context")
DESCRIPTIONS = {
    "model": {"description": "catalog model slug", "pattern": "^[-a-z0-9]+$"},
    "quant": {"description": "a GGUF file type (Q4_K_M, ...) or free text"},
    "hardware": {"description": f"catalog device slug, or {OTHER!r}"},
    "hardware_text": {"description": f"the device, when {OTHER!r}"},
    "runtime": {"example": "llama.cpp"},
    "backend": {"example": "cuda"},
    "context": {"description": "context allocated per sequence; at most the model's own"},
    "depth": {"description": "tokens cached when measured; at most the context"},
    "batch": {"description": "parallel sequences"},
    "gen_tokens_per_s": {"description": "all sequences together"},
}


def field_schema(name: str, field: forms.Field) -> dict[str, Any]:
    """The JSON Schema of one request field: the bounds its form field enforces."""
    schema: dict[str, Any]
    if isinstance(field, forms.NullBooleanField):
        schema = {"type": "boolean"}
    elif isinstance(field, forms.FloatField):
        schema = {"type": "number", "minimum": field.min_value, "maximum": field.max_value}
    elif isinstance(field, forms.IntegerField):
        schema = {"type": "integer", "minimum": field.min_value, "maximum": field.max_value}
    elif isinstance(field, forms.ModelChoiceField):
        slug = field.queryset.model._meta.get_field("slug")
        schema = {"type": "string", "minLength": 1, "maxLength": slug.max_length}
    elif isinstance(field, forms.ChoiceField):
        schema = {"type": "string", "enum": [value for value, _ in field.choices if value]}
    else:
        schema = {"type": "string", "maxLength": field.max_length}
        if name in REQUIRED:
            schema["minLength"] = 1
        if isinstance(field, forms.URLField):
            schema["format"] = "uri"
    if name not in REQUIRED:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"].append(None)
    if field.initial is not None and name not in REQUIRED:
        schema["default"] = field.initial
    return schema | DESCRIPTIONS.get(name, {})


REQUEST_SCHEMA = {
    "type": "object",
    "required": list(REQUIRED),
    "additionalProperties": False,
    "properties": {name: field_schema(name, field) for name, field in FIELDS.items()},
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
    model: str | None = Field(None, max_length=120, pattern=SLUG, description="model slug")
    hardware: str | None = Field(None, max_length=60, pattern=SLUG, description="device slug")
    limit: int = Field(100, ge=1, le=1000)


def _error(errors: dict[str, list[str]]) -> dict[str, Any]:
    detail = [
        # The API has one `quant` where the form has a choice and a text field.
        {"field": {"__all__": "", "quant_text": "quant"}.get(field, field), "message": message}
        for field, messages in errors.items()
        for message in messages
    ]
    text = "; ".join(  # a message about the whole body says so itself
        f"{d['field']}: {d['message']}" if d["field"] not in ("", "body") else d["message"]
        for d in detail
    )
    return {"error": text, "detail": detail}


def type_errors(body: dict[str, Any]) -> dict[str, list[str]]:
    """Field -> why its JSON type is wrong: numbers are JSON numbers (not strings, not
    booleans), text is a string, flash_attn a boolean; null is as good as absent."""
    errors = {}
    for name, value in body.items():
        field = FIELDS.get(name)
        if field is None:
            errors[name] = ["Not a field of a result; the OpenAPI document lists them."]
        elif value is None:
            continue
        elif isinstance(field, forms.NullBooleanField):
            if not isinstance(value, bool):
                errors[name] = ["Must be true, false or null."]
        elif isinstance(field, forms.FloatField):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                errors[name] = ["Must be a number (a JSON number, not a string or boolean)."]
        elif isinstance(field, forms.IntegerField):
            if isinstance(value, bool) or not isinstance(value, int):
                errors[name] = ["Must be a whole number (a JSON integer, not a string)."]
        elif not isinstance(value, str):
            errors[name] = ["Must be a string."]
    return errors


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
    try:
        body = read_json(request, max_bytes=MAX_BODY, max_depth=2)  # 2: a list is a type error
    except safejson.JsonError as exc:
        return Status(400, _error({"body": [str(exc)]}))
    if not isinstance(body, dict):
        return Status(400, _error({"body": ["The body must be a JSON object."]}))
    if errors := type_errors(body):
        return Status(400, _error(errors))
    # The forms read text, as from a browser: a number goes as its digits.
    data = {
        name: value if isinstance(value, str) else str(value)
        for name, value in body.items()
        if value is not None and name not in ("quant", "flash_attn")
    }
    quant = body.get("quant") or ""
    data |= {"quant": quant, "quant_text": ""} if quant in FILE_TYPES else {"quant_text": quant}
    data["flash_attn"] = {True: "true", False: "false", None: "unknown"}[body.get("flash_attn")]
    data.setdefault("hardware_count", "1")
    data.setdefault("depth", "0")
    data.setdefault("batch", "1")
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
