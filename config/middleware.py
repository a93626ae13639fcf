"""Site-wide middleware: server time on every response; bad bytes refused at the edge; JSON
errors under /api/."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape

MESSAGES = {
    404: "no API endpoint at {path}",
    405: "{method} is not allowed on {path}",
}


def api_json_errors(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        is_json = response.get("Content-Type", "").startswith("application/json")
        if request.path.startswith("/api/") and response.status_code in MESSAGES and not is_json:
            message = MESSAGES[response.status_code].format(
                path=request.path, method=request.method
            )
            json = JsonResponse({"error": message, "detail": []}, status=response.status_code)
            if "Allow" in response:
                json["Allow"] = response["Allow"]
            return json
        return response

    return middleware


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Self-contained: it answers before the session and user middleware the site's templates need.
BAD_REQUEST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bad request · ModelFit</title></head>
<body><h1>Bad request</h1><p>{message}</p><p><a href="/">ModelFit home</a></p></body></html>
"""


def reject_bad_input(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """400 for a NUL character (which PostgreSQL text cannot hold) in the path, the query
    string, a cookie or a posted form: no view or database ever sees one. JSON bodies are the API's:
    its parser refuses the same (config/safejson.py)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            return _bad_request(request, "The address contains a NUL character (%00).")
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            return _bad_request(request, "The query string contains a NUL character (%00).")
        # Parsed for the session middleware anyway; a quoted cookie may spell NUL as \000.
        if any("\x00" in value for value in request.COOKIES.values()):
            return _bad_request(
                request, "A cookie contains a NUL character; clear this site's cookies."
            )
        if (
            request.method == "POST"
            and request.content_type in FORM_TYPES
            and not request.path.startswith("/api/")  # the API reads its body itself
        ):
            # Reading it may raise RequestDataTooBig or TooManyFieldsSent: Django answers those
            # with a 400 (config/errors.py).
            fields = request.POST.lists()
            if any("\x00" in k or any("\x00" in v for v in vs) for k, vs in fields):
                return _bad_request(request, "A form field contains a NUL character.")
        return get_response(request)

    return middleware


def _bad_request(request: HttpRequest, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"error": message, "detail": []}, status=400)
    return HttpResponse(BAD_REQUEST_PAGE.format(message=escape(message)), status=400)


def server_timing(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Add `Server-Timing: app;dur=<ms>` (browser dev tools and the load benchmark read it).

    Views may have set a Server-Timing entry of their own (the model page says whether its
    panels came from the cache); the total is appended to it.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = get_response(request)
        total = f"app;dur={(time.perf_counter() - start) * 1000:.2f}"
        own = response.get("Server-Timing")
        response["Server-Timing"] = f"{own}, {total}" if own else total
        return response

    return middleware
