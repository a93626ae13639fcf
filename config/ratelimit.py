"""Per-client limits, counted in the cache (Redis in production, shared by every worker).

A client is its network rather than its exact address: an IPv4 /24 or an IPv6 /64, since one
host or household can hand out many addresses inside those. Behind `TRUSTED_PROXIES` reverse
proxies the address is the one the outermost proxy saw (entries further left in
X-Forwarded-For can be forged). Windows are clock hours; the count is incremented before the
action, atomically, so concurrent requests cannot all slip under the limit.

When the shared cache is down (`config.cache` then never raises but cannot count), each process
counts in its own memory until it is back: limits still hold, per worker rather than for the
whole site, instead of letting everything through or failing the request.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from config.cache import CacheUnavailable

logger = logging.getLogger(__name__)

WINDOW = 3600


class Limited(Exception):
    def __init__(self, limit: int, retry_after: int, what: str) -> None:
        minutes = max(1, round(retry_after / 60))
        super().__init__(
            f"Too many {what} from your address: at most {limit} an hour. Try again in about "
            f"{minutes} minute{'s' if minutes != 1 else ''}."
        )
        self.retry_after = retry_after


def client_address(request: HttpRequest) -> str:
    hops = settings.TRUSTED_PROXIES
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [a for a in forwarded if a]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.META.get("REMOTE_ADDR") or "unknown"


def login_address(request: HttpRequest) -> str | None:
    """`client_address` for django-axes, or None when it is no IP address (it is stored in an
    inet column, and a header from a misconfigured proxy chain must not make the login fail)."""
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def login_username(request: HttpRequest, credentials: Mapping[str, Any] | None) -> str | None:
    """The username of a login attempt for django-axes, cut to the 150 characters a Django
    username holds: axes stores it in a column of 255, and a longer one was a database error."""
    source = credentials if credentials else request.POST
    username = source.get("username")
    return None if username is None else str(username)[:150]


def client_network(request: HttpRequest) -> str:
    """The client's /24 (IPv4) or /64 (IPv6) network, or the raw value if it is no address."""
    address = client_address(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def client_hash(request: HttpRequest) -> str:
    """The client's network, salted and hashed: enough to count, useless to identify."""
    key = (settings.BENCHMARK_IP_SALT or settings.SECRET_KEY).encode()
    return hmac.new(key, client_network(request).encode(), hashlib.sha256).hexdigest()


def spend(name: str, client: str, limit: int, what: str) -> None:
    """Count one action of `client`; Limited when it is over `limit` this hour."""
    now = time.time()
    window = int(now // WINDOW)
    key = f"rate:{name}:{client[:32]}:{window}"
    try:
        count = _count_shared(key)
    except CacheUnavailable:
        count = local_counts.count(key, window)
    else:
        local_counts.shared_counts_again()
    if count > limit:
        raise Limited(limit, int(WINDOW - now % WINDOW) + 1, what)


def _count_shared(key: str) -> int:
    cache.add(key, 0, WINDOW)
    try:
        return cache.incr(key)
    except CacheUnavailable:
        raise
    except ValueError:  # the window ended between add and incr
        cache.add(key, 1, WINDOW)
        return 1


class LocalCounts:
    """This process's counts of the current window, used while the shared cache is down."""

    def __init__(self) -> None:
        self.window = 0
        self.counts: dict[str, int] = {}
        self.in_use = False
        self.lock = threading.Lock()

    def count(self, key: str, window: int) -> int:
        with self.lock:
            if not self.in_use:
                self.in_use = True
                logger.warning("Shared cache down: rate limits are counted in this process")
            if window != self.window:  # an hour has passed: the old counts are void
                self.window, self.counts = window, {}
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]

    def shared_counts_again(self) -> None:
        if self.in_use:
            with self.lock:
                self.in_use = False
                self.counts = {}
            logger.info("Shared cache back: rate limits are counted there again")


local_counts = LocalCounts()
