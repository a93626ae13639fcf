"""The HTTP every price client shares: one request, retried on 429 and 5xx with backoff."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import requests

from cloudprices.clients import ProviderError

BACKOFF_SECONDS = (1.0, 2.0, 4.0)  # waits before the 1st, 2nd and 3rd retry
MAX_RETRY_AFTER = 60.0


def json_headers(api_key: str | None = None) -> dict[str, str]:
    """Accept JSON; with a key, send it as a bearer token (RunPod and Vast.ai take one)."""
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def session(given: requests.Session | None) -> AbstractContextManager[requests.Session]:
    """The caller's session, left open, or a new one closed after use."""
    return contextlib.nullcontext(given) if given is not None else requests.Session()


def request_json(
    http: requests.Session,
    method: str,
    url: str,
    *,
    error: type[ProviderError],
    timeout: float,
    sleep: Callable[[float], None],
    headers: dict[str, str] | None = None,
    body: Any = None,
    params: dict[str, str] | None = None,
) -> Any:
    """Send one request (JSON `body` for POST) and return the decoded JSON reply, retrying on
    429 and 5xx; every failure is raised as the provider's own `error`."""
    for attempt in range(len(BACKOFF_SECONDS) + 1):
        try:
            response = http.request(
                method, url, json=body, params=params, headers=headers, timeout=timeout
            )
        except requests.RequestException as exc:
            raise error(f"{method} {url} failed: {exc}") from exc
        retryable = response.status_code == 429 or response.status_code >= 500
        if not retryable or attempt == len(BACKOFF_SECONDS):
            break
        sleep(retry_delay(response, BACKOFF_SECONDS[attempt]))
    if not 200 <= response.status_code < 300:
        raise error(f"{method} {url} answered HTTP {response.status_code}: {response.text:.200}")
    try:
        return response.json()
    except ValueError as exc:
        raise error(f"{method} {url} answered with a body that is not JSON: {exc}") from exc


def retry_delay(response: requests.Response, backoff: float) -> float:
    """Seconds to wait before retrying: a numeric Retry-After (capped), else the backoff."""
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:  # absent, or an HTTP date, which is not worth parsing here
        return backoff
    if not math.isfinite(seconds) or seconds < 0:
        return backoff
    return min(seconds, MAX_RETRY_AFTER)
