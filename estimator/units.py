"""Units and the one way each is written for people: bytes in GiB, parameters, context lengths,
tokens per second. Values stay exact integers (bytes, tokens) until they are formatted here;
templates use the same functions as filters (catalog/templatetags/units.py)."""

from __future__ import annotations

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30


def gib(value: int | None) -> str:
    """Bytes as GiB (2^30 bytes), the unit every memory size on the site uses: 12.3 GiB, 24 GiB,
    141 GiB; small amounts keep a digit that is not zero (0.05 GiB, < 0.01 GiB) rather than
    read as nothing."""
    if value is None:
        return "unknown"
    amount = value / GIB
    if amount >= 100 or amount == int(amount):
        return f"{amount:,.0f} GiB"
    if amount < 0.01:
        return "< 0.01 GiB"
    return f"{amount:,.2f} GiB" if amount < 0.1 else f"{amount:,.1f} GiB"


def params(value: int | None) -> str:
    """A parameter count as 8.03B / 494M / 1.03T."""
    if value is None:
        return "unknown"
    if value >= 10**12:
        return f"{value / 10**12:.2f}T"
    if value >= 10**9:
        return f"{value / 10**9:.{1 if value >= 100 * 10**9 else 2}f}B"
    if value >= 10**6:
        return f"{value / 10**6:.{0 if value >= 10 * 10**6 else 1}f}M"
    return f"{value / 10**3:.0f}K"


def tokens(value: int | None) -> str:
    """A context length as 128K or 1M when a multiple of 1024 tokens, else exactly (1,010,000)."""
    if value is None:
        return "unknown"
    if value >= 1 << 20 and value % (1 << 20) == 0:
        return f"{value >> 20}M"
    if value >= 1024 and value % 1024 == 0:
        return f"{value >> 10}K"
    return f"{value:,}"


def tps(value: float | None) -> str:
    """Tokens per second without the unit: whole numbers from 10 up (1,234), one decimal below
    (6.2); a dash when unknown."""
    if value is None:
        return "—"
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"
