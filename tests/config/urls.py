"""The site's URLs and error handlers, plus views that fail on purpose (test_errors.py)."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.db.utils import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as site

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def database_down(request: HttpRequest) -> HttpResponse:
    raise OperationalError('connection to server at "10.1.2.3", port 5432 failed')


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def form(request: HttpRequest) -> HttpResponse:
    """A view with CSRF protection (the API's own views are exempt) that reads its body as
    Django's own parsing does, outside the API's code."""
    return JsonResponse({"fields": len(request.POST), "bytes": len(request.body)})


def database_down_in_middleware(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        if request.path.endswith("/middleware-db-down/"):
            raise OperationalError("the session store cannot be reached")
        return get_response(request)

    return middleware


urlpatterns = [
    path("test/db-down/", database_down),
    path("api/test/db-down/", database_down),
    path("test/broken/", broken),
    path("api/test/broken/", broken),
    path("api/test/form/", form),
    path("test/forbidden/", forbidden),
    path("api/test/forbidden/", forbidden),
    *site,
]
