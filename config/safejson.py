"""The one JSON reader for everything a stranger sends us (API bodies, pasted configs).

Python's `json` accepts what we cannot store or compute on: NaN and Infinity (and `1e400`,
which it reads as infinity), integers of thousands of digits, strings with NUL (PostgreSQL
text refuses it) or unpaired surrogates (they have no UTF-8), and nesting thousands of levels
deep (it parses, then whatever walks the value recursively overflows the stack). `loads`
refuses all of these with a sentence a person can act on.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_INT = (1 << 63) - 1  # what a PostgreSQL bigint holds
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


class JsonError(ValueError):
    """The input is not JSON we accept; the message says why."""


def loads(data: str | bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The value of a JSON text, or JsonError.

    `max_bytes` bounds the length of bytes (of a str: its characters). A flat object or list
    is one level deep.
    """
    if len(data) > max_bytes:
        raise JsonError(f"The JSON is over {max_bytes:,} bytes.")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonError(
                f"The JSON is not valid UTF-8 (byte 0x{data[exc.start]:02x} at {exc.start})."
            ) from None
    else:
        text = data
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except JsonError:
        raise
    except json.JSONDecodeError as exc:
        raise JsonError(
            f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    except RecursionError:
        raise _too_deep(max_depth) from None
    except ValueError:  # Python will not read an integer of over 4,300 digits
        raise JsonError(f"An integer in the JSON is too large (over {MAX_INT:,}).") from None
    check(value, max_depth=max_depth)
    return value


def _refuse_constant(name: str) -> float:
    raise JsonError(f"{name} is not a JSON number; send a finite number or null.")


def check(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """JsonError if a decoded JSON `value` nests deeper than `max_depth` or holds a value we
    cannot store (for readers that decode JSON themselves, as llama-bench pastes are).

    Iterative, so depth costs no stack; a path is spelled out for containers and errors only.
    """
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, dict):
            items: Any = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            _check_scalar(node, path)
            continue
        if depth >= max_depth:
            raise _too_deep(max_depth)
        for key, child in items:
            if isinstance(key, str):
                _check_scalar(key, path, what="A key")
            if isinstance(child, (dict, list)):
                stack.append((child, _join(path, key), depth + 1))
            elif not (child is None or child is True or child is False):
                _check_scalar(child, path, key)


def _too_deep(max_depth: int) -> JsonError:
    levels = "1 level" if max_depth == 1 else f"{max_depth} levels"
    return JsonError(f"The JSON is nested more than {levels} deep.")


def _check_scalar(value: Any, path: str, key: str | int | None = None, what: str = "") -> None:
    if isinstance(value, str):
        if not (bad := _BAD_CHARACTER.search(value)):
            return
    elif isinstance(value, int):
        if -MAX_INT <= value <= MAX_INT:
            return
    elif not isinstance(value, float) or math.isfinite(value):
        return
    where = path if key is None else _join(path, key)
    place = f" in {where[:80]!r}" if where else ""
    if isinstance(value, int):
        raise JsonError(f"The integer{place} is too large (over {MAX_INT:,}).")
    if isinstance(value, float):  # 1e400: Python reads it as infinity
        raise JsonError(f"The number{place} is too large; send a finite number.")
    what = what or "A string"
    if bad.group() == "\x00":
        raise JsonError(f"{what}{place} contains a NUL character (\\u0000), which we cannot store.")
    raise JsonError(
        f"{what}{place} contains an unpaired surrogate (\\u{ord(bad.group()):04x}), "
        "which is not text."
    )


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key
