from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    """Every test starts with no submissions counted against its address and no cached
    community section (rows stored by an earlier test are rolled back; the cache is not)."""
    cache.clear()
