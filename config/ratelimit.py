"""Per-client limits, counted in the cache (Redis in production, shared by every worker).

A client is its network rather than its exact address: an IPv4 /24 or an IPv6 /64, since one
host or household can hand out many addresses inside those. Behind `TRUSTED_PROXIES` reverse
proxies the address is the one the outermost proxy saw (entries further left in
X-Forwarded-For can be forged). Windows are clock hours; the count is incremented before the
action, atomically, so concurrent requests cannot all slip under the limit.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

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
    key = f"rate:{name}:{client[:32]}:{int(now // WINDOW)}"
    cache.add(key, 0, WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # the window ended between add and incr
        cache.add(key, 1, WINDOW)
        count = 1
    if count > limit:
        raise Limited(limit, int(WINDOW - now % WINDOW) + 1, what)
