"""Error pages: JSON under /api/, the site's own pages elsewhere, 503 when the database is down.

Registered in config/urls.py (`handler400` ... `handler500`) and as CSRF_FAILURE_VIEW, so they
also answer for what goes wrong outside the API's own code: an oversized body or too many
fields (Django raises those when the body is read), a CSRF failure, an exception raised by a
middleware. A database that cannot be reached (OperationalError / InterfaceError, wherever it
is raised) is a 503 with Retry-After rather than a 500: the site recovers by itself when the
database is back (CONN_HEALTH_CHECKS replaces the broken connection). The 500 and 503 pages
render without the request, so no context processor, session or user lookup touches the
database that may be the reason we are here.
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

RETRY_AFTER_SECONDS = 30
DATABASE_DOWN = "The database is unavailable; try again in a minute."
SERVER_ERROR = "Internal server error; it has been logged."


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def api_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message, "detail": []}, status=status)


def bad_request_message(exception: Exception) -> str:
    if isinstance(exception, RequestDataTooBig):
        return (
            f"The request body is too large: at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
    if isinstance(exception, TooManyFieldsSent):
        return f"Too many fields: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}."
    if isinstance(exception, TooManyFilesSent):
        return f"Too many files: at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES}."
    return "Bad request."


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):  # an oversized body is a 413, as inside the API's own endpoints
        status = 413 if isinstance(exception, RequestDataTooBig) else 400
        return api_error(bad_request_message(exception), status)
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return api_error("Forbidden.", 403)
    return defaults.permission_denied(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form posted without (or with a stale) CSRF token or cookie."""
    if is_api(request):
        return api_error(f"CSRF verification failed: {reason}", 403)
    template = loader.get_template("403.html")
    return HttpResponse(template.render({"csrf_failure": True}), status=403)


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return api_error(f"no API endpoint at {request.path}", 404)
    return defaults.page_not_found(request, exception)


def database_down(exc: BaseException | None) -> bool:
    """Whether `exc`, or an exception it was raised from or while handling, says the
    database cannot be reached."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def handler500(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After when the database is down, else 500 (Django logs the traceback).
    Called while the exception is being handled, so sys.exception() is it."""
    unavailable = database_down(sys.exception())
    status = 503 if unavailable else 500
    if is_api(request):
        response: HttpResponse = api_error(DATABASE_DOWN if unavailable else SERVER_ERROR, status)
    else:
        try:
            html = loader.get_template(f"{status}.html").render()
        except Exception:  # the error page must not fail (a missing static manifest, say)
            html = DATABASE_DOWN if unavailable else SERVER_ERROR
        response = HttpResponse(html, status=status)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
