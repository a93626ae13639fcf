"""The JSON API (v1): one NinjaAPI whose every answer is JSON, errors included, and whose
bodies are read by the strict JSON reader; routers live in the apps. /api/v1/openapi.json."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError, ValidationError
from ninja.parser import Parser

from config import safejson
from config.errors import DATABASE_DOWN, RETRY_AFTER_SECONDS, SERVER_ERROR, database_down

MAX_BODY = 256 * 1024  # bytes: a pasted config.json (at most 200,000 characters) and options
MAX_DEPTH = 32
SLUG = r"^[-a-zA-Z0-9_]+$"  # what Django's SlugField holds

log = logging.getLogger("django.request")


def read_json(request: HttpRequest, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """The request body as JSON, or safejson.JsonError; an oversized body is refused by its
    Content-Length, before it is read."""
    if request.content_type != "application/json":
        # Browsers send other types cross-site without asking (a CORS "simple request"); JSON
        # needs a preflight this API never grants, so another site cannot post for its visitors.
        raise safejson.JsonError("Send the body as Content-Type: application/json.")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_bytes:
        raise safejson.JsonError(f"The body is over {max_bytes:,} bytes.")
    if not request.body:
        raise safejson.JsonError("The body is empty; send a JSON object.")
    return safejson.loads(request.body, max_bytes=max_bytes, max_depth=max_depth)


class StrictParser(Parser):
    """Every JSON body of the API goes through safejson."""

    def parse_body(self, request: HttpRequest) -> Any:
        return read_json(request, max_bytes=MAX_BODY)


api = NinjaAPI(
    title="ModelFit API",
    version="1",
    description="Open-weight models, hardware and estimates. Sizes are bytes; bandwidth is GB/s.",
    docs_url=None,  # the interactive docs load scripts from a CDN, which our CSP forbids
    urls_namespace="api-v1",
    parser=StrictParser(),
)


class ErrorOut(Schema):
    error: str
    detail: list[dict[str, Any]] = []


def error(request: HttpRequest, message: str, status: int, field: str = "") -> HttpResponse:
    detail = [{"field": field, "message": message}] if field else []
    return api.create_response(request, {"error": message, "detail": detail}, status=status)


def _too_large(request: HttpRequest) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error(request, f"The body is over {limit:,} bytes.", 413, "body")


def _field(loc: Any) -> str:
    """The parameter an error is about: `limit`, `ctx` (not `body.ctx`), `config.x`."""
    # loc is (source, parameter, ...); a body's fields sit under the body parameter's name.
    loc = tuple(loc)
    parts = loc[2:] if loc[:1] == ("body",) and len(loc) > 2 else loc[1:]
    return ".".join(str(p) for p in parts)


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    details = [{"field": _field(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors]
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details) or "invalid request"
    return api.create_response(request, {"error": message, "detail": details}, status=400)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # django-ninja reports any failure to read a body as "Cannot parse request body"; the
    # cause says what is wrong with it.
    cause = exc.__cause__
    if isinstance(cause, safejson.JsonError):
        return error(request, str(cause), 400, "body")
    if isinstance(cause, RequestDataTooBig):
        return _too_large(request)
    return error(request, str(exc), exc.status_code)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error(request, str(exc) or f"no API endpoint at {request.path}", 404)


@api.exception_handler(Exception)
def server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """JSON 503 when the database is unreachable, JSON 500 for anything else; logged as Django
    logs an unhandled exception (django-ninja would hand it to Django's HTML error page)."""
    if isinstance(exc, RequestDataTooBig):
        return _too_large(request)
    status = 503 if database_down(exc) else 500
    log.error(
        "%s: %s", "Service Unavailable" if status == 503 else "Internal Server Error",
        request.path, exc_info=exc, extra={"status_code": status, "request": request},
    )  # fmt: skip
    if status == 503:
        response = error(request, DATABASE_DOWN, 503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if settings.DEBUG:
        return error(request, f"{type(exc).__name__}: {exc}", 500)
    return error(request, SERVER_ERROR, 500)
