"""Site-wide middleware: server time on every response; bad bytes refused at the edge; JSON
errors under /api/."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

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


def reject_bad_input(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """400 for a NUL character in the path or the query string: no view or database (PostgreSQL
    refuses NUL in text) ever sees one."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            message = "The address contains a NUL character (%00), which no page accepts."
            if request.path.startswith("/api/"):
                return JsonResponse({"error": message, "detail": []}, status=400)
            return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
        return get_response(request)

    return middleware


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
