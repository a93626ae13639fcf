"""Celery: the hourly price refresh, a thin wrapper around cloudprices.refresh.refresh."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from cloudprices.refresh import PROVIDERS, RefreshBusy, refresh


@shared_task(bind=True, name="cloudprices.refresh_prices", max_retries=3)
def refresh_prices(self: Any, providers: list[str] | None = None) -> dict[str, Any]:
    """Refresh every provider; retry the ones that failed, with backoff."""
    try:
        outcomes = refresh(providers or PROVIDERS)
    except RefreshBusy:
        return {"busy": True}
    failed = [o.provider for o in outcomes if not o.ok]
    if failed and self.request.retries < self.max_retries:
        # 2, 4, 8 minutes by default: a provider's bad minute should not cost the hour.
        countdown = settings.PRICE_REFRESH_RETRY_SECONDS * 2**self.request.retries
        raise self.retry(kwargs={"providers": failed}, countdown=countdown)
    return {o.provider: {"ok": o.ok, "fetched": o.fetched, "error": o.error} for o in outcomes}
