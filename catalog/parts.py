"""Rendered parts of pages, kept per revision: in this process (the last few hundred) and in
the shared cache (Redis in production).

A part is a pure function of the revision tokens in its key (catalog, prices, benchmarks) and
the page state, so it is shared by every visitor and never changes under its key: a
process-local copy cannot go stale. The process copy saves a network round trip and a copy of
up to ~50 KB per hit. A request whose state needed corrections passes `key=None`: its part is
rendered and not kept.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from django.core.cache import cache
from django.utils.safestring import SafeString, mark_safe

CACHE_SECONDS = 3600
RECENT = 200  # parts kept in each process: about 10 MB


def key(kind: str, *parts: object) -> str:
    """A cache key for a part: a digest, short enough for any cache backend's key checks."""
    name = ":".join(map(str, parts)).encode()
    return f"{kind}:{hashlib.blake2b(name, digest_size=16).hexdigest()}"


class RecentParts:
    """The parts this process served last, in front of the shared cache."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.parts: OrderedDict[str, str] = OrderedDict()
        self.lock = threading.Lock()

    def get_or_render(self, key: str | None, render: Callable[[], str]) -> tuple[SafeString, bool]:
        """The part under `key` from this process or the shared cache, else rendered and stored
        in both; and whether it was found. A None key is rendered and not stored."""
        if key is None:
            return mark_safe(render()), False
        html = self._get(key) or cache.get(key)
        hit = html is not None
        if html is None:
            html = str(render())
            cache.set(key, html, CACHE_SECONDS)
        self._put(key, html)
        return mark_safe(html), hit  # rendered by our templates, escaped there

    def _get(self, key: str) -> str | None:
        with self.lock:
            html = self.parts.get(key)
            if html is not None:
                self.parts.move_to_end(key)
            return html

    def _put(self, key: str, html: str) -> None:
        with self.lock:
            self.parts[key] = html
            self.parts.move_to_end(key)
            while len(self.parts) > self.size:
                self.parts.popitem(last=False)


recent = RecentParts(RECENT)


def cached(key: str | None, render: Callable[[], str]) -> SafeString:
    """The part under `key`, rendered once per key (see RecentParts)."""
    return recent.get_or_render(key, render)[0]
