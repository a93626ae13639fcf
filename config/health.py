"""Liveness and readiness probes for docker-compose healthchecks and load balancers.

/readyz says only "ok" or "failing" per dependency: hosts, ports and exception text would tell
the public how the site is built, so they go to the log. Only the database makes the site
unable to serve (503); without the cache or the Celery broker pages still work (the cache is an
optimisation, prices refresh later), so the answer is 200 "degraded": a load balancer that
took every instance out because Redis is down would turn a slowdown into an outage.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.cache import Cache

logger = logging.getLogger(__name__)

OK, FAILING, NOT_USED = "ok", "failing", "not used"


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers; touches nothing else."""
    return HttpResponse("ok", content_type="text/plain")


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any failure means "not ready"; the reason is logged, not shown
        logger.warning("readyz: database failing", exc_info=True)
        return FAILING
    return OK


def _check_cache() -> str:
    backend = caches["default"]
    if not isinstance(backend, Cache):
        return NOT_USED  # the process-local cache (no REDIS_URL) cannot fail
    return OK if backend.ping() else FAILING


def _check_broker() -> str:
    from config.celery import app

    try:
        with app.connection_for_write(
            settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS
        ) as conn:
            # One attempt, no sleep before giving up: the probe must answer quickly.
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception:
        logger.warning("readyz: Celery broker failing", exc_info=True)
        return FAILING
    return OK


@require_GET
@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    """Each dependency's state; 503 only when the database fails."""
    checks = {"database": _check_database(), "cache": _check_cache(), "broker": _check_broker()}
    if checks["database"] == FAILING:
        return JsonResponse({"status": "unavailable", "checks": checks}, status=503)
    status = "degraded" if FAILING in checks.values() else "ok"
    return JsonResponse({"status": status, "checks": checks})
