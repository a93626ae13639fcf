"""Read what users paste from llama.cpp's llama-bench: the markdown table, -o json, jsonl or csv.

Pure Python, no Django: ``parse(text)`` returns one ``BenchRow`` per test or raises
``ParseError`` naming the offending line. Column and field names follow the printers in
tools/llama-bench/llama-bench.cpp (examples/llama-bench before mid 2025) from 2023 onwards.
"""

from __future__ import annotations

import bisect
import csv
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from config import safejson

MAX_CHARS = 200_000
MAX_ROWS = 200

EMPTY_MESSAGE = "paste the output of llama-bench (its markdown table, or -o json, jsonl or csv)"
NOT_FOUND_MESSAGE = (
    "this does not look like llama-bench output: expected a table with 'test' and 't/s' "
    "columns, or the output of -o json, -o jsonl or -o csv"
)

# llama_model_ftype_name() in src/llama-model-loader.cpp -> our file-type name. The markdown
# "model" cell and the JSON "model_type" end with it; 2023 builds prefixed "mostly " and
# called Q2_K plain "Q2_K" (before Q2_K_S existed).
QUANT_NAMES: dict[str, str] = {
    "all F32": "F32",
    "F16": "F16",
    "BF16": "BF16",
    "Q4_0": "Q4_0",
    "Q4_1": "Q4_1",
    "Q5_0": "Q5_0",
    "Q5_1": "Q5_1",
    "Q8_0": "Q8_0",
    "MXFP4 MoE": "MXFP4_MOE",
    "Q2_K": "Q2_K",
    "Q2_K - Medium": "Q2_K",
    "Q2_K - Small": "Q2_K_S",
    "Q3_K - Small": "Q3_K_S",
    "Q3_K - Medium": "Q3_K_M",
    "Q3_K - Large": "Q3_K_L",
    "Q4_K - Small": "Q4_K_S",
    "Q4_K - Medium": "Q4_K_M",
    "Q5_K - Small": "Q5_K_S",
    "Q5_K - Medium": "Q5_K_M",
    "Q6_K": "Q6_K",
    "TQ1_0 - 1.69 bpw ternary": "TQ1_0",
    "TQ2_0 - 2.06 bpw ternary": "TQ2_0",
    "IQ2_XXS - 2.0625 bpw": "IQ2_XXS",
    "IQ2_XS - 2.3125 bpw": "IQ2_XS",
    "IQ2_S - 2.5 bpw": "IQ2_S",
    "IQ2_M - 2.7 bpw": "IQ2_M",
    "IQ3_XS - 3.3 bpw": "IQ3_XS",
    "IQ3_XXS - 3.0625 bpw": "IQ3_XXS",
    "IQ1_S - 1.5625 bpw": "IQ1_S",
    "IQ1_M - 1.75 bpw": "IQ1_M",
    "IQ4_NL - 4.5 bpw": "IQ4_NL",
    "IQ4_XS - 4.25 bpw": "IQ4_XS",
    "IQ3_S - 3.4375 bpw": "IQ3_S",
    "IQ3_S mix - 3.66 bpw": "IQ3_M",
}

_FTYPES_LONGEST_FIRST = sorted(QUANT_NAMES, key=len, reverse=True)
# A name in a file name must not touch letters/digits, nor go on with "_<letter or digit>"
# (so "Q2_K" is not found in "UD-Q2_K_XL", nor "Q4_0" in "Q4_0_4_4").
_FILE_QUANTS = [
    (name, re.compile(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9]|_[a-z0-9])", re.IGNORECASE))
    for name in sorted(set(QUANT_NAMES.values()), key=len, reverse=True)
]

_BUILD_RE = re.compile(r"^build:\s*([0-9a-f]{6,40}|unknown)\s*\((\d+)\)", re.IGNORECASE)
_TEST_RE = re.compile(
    r"^(?:pp\s*(?P<pp>\d+)(?:\s*\+\s*tg\s*(?P<pg>\d+))?|tg\s*(?P<tg>\d+))"
    r"(?:\s*@\s*d\s*(?P<depth>\d+))?$",
    re.IGNORECASE,
)
_NUMBER = r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
# "151.83 ± 0.19"; "Â±" is the same sign decoded as Latin-1 by some terminals.
_TS_RE = re.compile(
    rf"^(?P<avg>{_NUMBER})(?:\s*(?:\u00b1|\u00c2\u00b1|\+/-|\+-)\s*(?P<sd>{_NUMBER}))?$"
)
_SIZE_RE = re.compile(rf"^(?P<n>{_NUMBER})\s*(?P<unit>GiB|MiB|KiB|B)$")
_PARAMS_RE = re.compile(rf"^(?P<n>{_NUMBER})\s*(?P<unit>[BMK])$")
_SEPARATOR_CELL_RE = re.compile(r"^:?-+:?$")
_INT_RE = re.compile(r"^-?\d+$")
_FIELD_RE = re.compile(r"^\w+$")

_SIZE_UNITS = {"GiB": 1 << 30, "MiB": 1 << 20, "KiB": 1 << 10, "B": 1}
_PARAM_UNITS = {"B": 10**9, "M": 10**6, "K": 10**3}
# Before the "backends" field (late 2024) JSON/CSV had one flag per backend; this is the
# order in which test::get_backend() picked the name.
_LEGACY_BACKENDS = (
    ("cuda", "CUDA"),
    ("opencl", "OpenCL"),
    ("vulkan", "Vulkan"),
    ("kompute", "Kompute"),
    ("metal", "Metal"),
    ("sycl", "SYCL"),
    ("gpu_blas", "GPU BLAS"),
    ("blas", "BLAS"),
)
_TRUE = {"1", "true", "on", "yes"}
_FALSE = {"0", "false", "off", "no"}


@dataclass(frozen=True)
class BenchRow:
    """One llama-bench test result, whatever format it was pasted in."""

    line: int
    test: str
    n_prompt: int
    n_gen: int
    n_depth: int
    tokens_per_s: float
    stddev: float | None
    model_type: str
    model_filename: str
    quant: str | None
    size_bytes: int | None
    params: int | None
    backend: str
    n_gpu_layers: int | None
    n_threads: int | None
    n_batch: int | None
    n_ubatch: int | None
    type_k: str | None
    type_v: str | None
    flash_attn: bool | None
    build: str


class ParseError(ValueError):
    """The paste is not llama-bench output; ``line`` (1-based) says where, when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.message = message
        self.line = line


def parse(text: str) -> list[BenchRow]:
    """Return the rows of a pasted llama-bench output, detecting its format."""
    if len(text) > MAX_CHARS:
        raise ParseError(f"the paste has {len(text):,} characters; the limit is {MAX_CHARS:,}")
    text = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff")
    if not text.strip():
        raise ParseError(EMPTY_MESSAGE)
    lines = text.split("\n")
    for index, line in enumerate(lines):
        reader = _format_starting_at(line.strip())
        if reader is not None:
            try:
                rows = reader(lines, index)
            except ParseError:
                raise
            except (ValueError, ArithmeticError, RecursionError) as exc:
                # Numbers too large or too long for Python, or JSON nested too deep.
                raise ParseError(
                    f"a value cannot be read ({type(exc).__name__})", index + 1
                ) from exc
            if not rows:
                raise ParseError("found the start of llama-bench output but no results", index + 1)
            return rows
    raise ParseError(NOT_FOUND_MESSAGE)


def quant_from_model_type(model_type: str) -> str | None:
    """Return our file-type name for a model description like "llama 8B Q4_K - Medium", or None."""
    desc = model_type.strip().removesuffix(" (guessed)").lower()
    for ftype in _FTYPES_LONGEST_FIRST:
        key = ftype.lower()
        if desc == key or desc.endswith(" " + key):
            return QUANT_NAMES[ftype]
    return None


def quant_from_filename(name: str) -> str | None:
    """Return the longest known file-type name in a GGUF file name ("x-Q4_K_M.gguf"), or None."""
    base = re.split(r"[/\\]", name)[-1]
    for quant, pattern in _FILE_QUANTS:
        if pattern.search(base):
            return quant
    return None


_Reader = Callable[[list[str], int], list[BenchRow]]


def _format_starting_at(stripped: str) -> _Reader | None:
    """Return the reader for the format that starts on this line, if one does."""
    if _starts_json(stripped):
        return _read_json
    if "|" in stripped and _is_header(_split_cells(stripped)):
        return _read_markdown
    if _is_csv_header(stripped):
        return _read_csv
    return None


# --- markdown ---------------------------------------------------------------------------------


@dataclass
class _Table:
    """The header of the markdown table being read."""

    columns: dict[str, int]
    width: int
    outer_pipes: bool


def _read_markdown(lines: list[str], start: int) -> list[BenchRow]:
    """Return the rows of every llama-bench markdown table in the paste."""
    rows: list[BenchRow] = []
    table: _Table | None = None
    previous_was_table = False
    for lineno, raw in enumerate(lines[start:], start + 1):
        stripped = raw.strip()
        cells = _split_cells(stripped) if "|" in stripped else []
        if cells and _is_header(cells):
            columns: dict[str, int] = {}
            for position, name in enumerate(cells):
                columns.setdefault(name.lower(), position)
            table = _Table(columns, len(cells), stripped.startswith("|"))
            previous_was_table = True
            continue
        if table is None or not cells or (table.outer_pipes and not stripped.startswith("|")):
            # Noise (logs, progress lines, prose). A table without outer pipes ends here.
            if table is not None and not table.outer_pipes:
                table = None
            previous_was_table = False
            continue
        if all(_SEPARATOR_CELL_RE.match(cell) for cell in cells):
            previous_was_table = True
            continue
        if len(cells) != table.width:
            if previous_was_table:
                raise ParseError(f"expected {table.width} columns, found {len(cells)}", lineno)
            table = None  # another, unrelated table after a gap
            previous_was_table = False
            continue
        _check_row_count(len(rows), lineno)
        rows.append(_markdown_row(table, cells, lineno))
        previous_was_table = True
    builds = [
        (lineno, f"{match[1]} ({match[2]})")
        for lineno, raw in enumerate(lines, 1)
        if (match := _BUILD_RE.match(raw.strip()))
    ]
    return [replace(row, build=_build_for(row.line, builds)) for row in rows]


def _markdown_row(table: _Table, cells: list[str], lineno: int) -> BenchRow:
    """Return the BenchRow of one markdown table row, its build still unknown."""

    def cell(*names: str) -> str:
        for name in names:
            if name in table.columns:
                return cells[table.columns[name]]
        return ""

    n_prompt, n_gen, n_depth = _parse_test(cell("test"), lineno)
    avg, stddev = _parse_ts(cell("t/s"), lineno)
    model_type = cell("model")
    return BenchRow(
        line=lineno,
        test=_test_name(n_prompt, n_gen, n_depth),
        n_prompt=n_prompt,
        n_gen=n_gen,
        n_depth=n_depth,
        tokens_per_s=avg,
        stddev=stddev,
        model_type=model_type,
        model_filename="",
        quant=quant_from_model_type(model_type),
        size_bytes=_scaled(cell("size"), _SIZE_RE, _SIZE_UNITS),
        params=_scaled(cell("params"), _PARAMS_RE, _PARAM_UNITS),
        backend=cell("backend"),
        n_gpu_layers=_to_int(cell("ngl", "n_gpu_layers")),
        n_threads=_to_int(cell("threads", "n_threads")),
        n_batch=_to_int(cell("n_batch")),
        n_ubatch=_to_int(cell("n_ubatch")),
        type_k=cell("type_k") or None,
        type_v=cell("type_v") or None,
        flash_attn=_to_flag(cell("fa", "flash_attn")),
        build="",
    )


def _split_cells(stripped: str) -> list[str]:
    """Return the trimmed cells of a table line, with or without outer pipes."""
    inner = stripped.removeprefix("|").removesuffix("|")
    return [cell.strip() for cell in inner.split("|")]


def _is_header(cells: list[str]) -> bool:
    """Return whether these cells are a llama-bench table header."""
    names = {cell.lower() for cell in cells}
    return "test" in names and "t/s" in names


def _build_for(lineno: int, builds: list[tuple[int, str]]) -> str:
    """Return the build footer that follows a row's table, else the last one before it."""
    after = [build for line, build in builds if line > lineno]
    before = [build for line, build in builds if line < lineno]
    if after:
        return after[0]
    return before[-1] if before else ""


def _parse_test(cell: str, lineno: int) -> tuple[int, int, int]:
    """Return (n_prompt, n_gen, n_depth) of a test name like "pp512", "tg 128", "pp512 @ d4096"."""
    match = _TEST_RE.match(cell)
    if match is None:
        raise ParseError(
            f"test {cell!r} is not a llama-bench test (like pp512, tg128 or pp512 @ d4096)",
            lineno,
        )
    n_prompt = int(match["pp"] or 0)
    n_gen = int(match["tg"] or match["pg"] or 0)
    n_depth = int(match["depth"] or 0)
    _check_test(n_prompt, n_gen, n_depth, lineno)
    return n_prompt, n_gen, n_depth


def _parse_ts(cell: str, lineno: int) -> tuple[float, float | None]:
    """Return (average, standard deviation) of a t/s cell like "151.83 ± 0.19"."""
    match = _TS_RE.match(cell)
    if match is None:
        raise ParseError(f"t/s value {cell!r} is not a number", lineno)
    stddev = match["sd"]
    return float(match["avg"]), float(stddev) if stddev is not None else None


def _scaled(cell: str, pattern: re.Pattern[str], units: Mapping[str, int]) -> int | None:
    """Return "4.58 GiB" or "8.03 B" as a whole number, or None if the cell is not one."""
    match = pattern.match(cell)
    if match is None:
        return None
    return int(Decimal(match["n"]) * units[match["unit"]])


# --- JSON and JSONL ---------------------------------------------------------------------------


def _starts_json(stripped: str) -> bool:
    """Return whether a line opens a JSON object or an array of objects."""
    return stripped.startswith("{") or stripped == "[" or re.match(r"\[\s*\{", stripped) is not None


def _read_json(lines: list[str], start: int) -> list[BenchRow]:
    """Return the rows of JSON arrays (-o json) and objects (-o jsonl) in the paste."""
    text = "\n".join(lines)
    line_starts = [0]
    for line in lines[:-1]:
        line_starts.append(line_starts[-1] + len(line) + 1)
    decoder = json.JSONDecoder()
    records: list[tuple[int, object]] = []
    index = start
    while index < len(lines):
        stripped = lines[index].strip()
        if not _starts_json(stripped):
            index += 1
            continue
        pos = line_starts[index] + len(lines[index]) - len(lines[index].lstrip())
        if stripped.startswith("["):
            end = _decode_array(text, pos, decoder, line_starts, records)
        else:
            _check_row_count(len(records), index + 1)
            value, end = _decode(text, pos, decoder)
            records.append((index + 1, value))
        index = bisect.bisect_right(line_starts, end - 1)
    return [_record_row(value, lineno) for lineno, value in records]


def _decode(text: str, pos: int, decoder: json.JSONDecoder) -> tuple[object, int]:
    """Return one JSON value decoded at pos and where it ends; a value we could not store or
    show (NaN, NUL, a lone surrogate, deep nesting) is a ParseError like invalid JSON."""
    try:
        value, end = decoder.raw_decode(text, pos)
        safejson.check(value)
    except json.JSONDecodeError as error:
        raise ParseError(f"invalid JSON: {error.msg}", error.lineno) from None
    except safejson.JsonError as error:
        raise ParseError(str(error), text.count("\n", 0, pos) + 1) from None
    return value, end


def _decode_array(
    text: str,
    pos: int,
    decoder: json.JSONDecoder,
    line_starts: list[int],
    records: list[tuple[int, object]],
) -> int:
    """Append each element of the JSON array opening at pos, with its line; return its end."""
    index = pos + 1
    while True:
        index = _skip_space(text, index)
        if text.startswith("]", index):
            return index + 1
        lineno = bisect.bisect_right(line_starts, index)
        _check_row_count(len(records), lineno)
        value, index = _decode(text, index, decoder)
        records.append((lineno, value))
        index = _skip_space(text, index)
        if text.startswith(",", index):
            index += 1
        elif not text.startswith("]", index):
            where = bisect.bisect_right(line_starts, index)
            raise ParseError("invalid JSON: expected ',' or ']' after an object", where)


def _skip_space(text: str, index: int) -> int:
    """Return the index of the next non-whitespace character."""
    while index < len(text) and text[index] in " \t\n":
        index += 1
    return index


# --- CSV --------------------------------------------------------------------------------------


def _is_csv_header(stripped: str) -> bool:
    """Return whether a line is the header of -o csv output (bare field names)."""
    names = [name.strip() for name in stripped.split(",")]
    return "avg_ts" in names and "n_prompt" in names and all(_FIELD_RE.match(n) for n in names)


def _read_csv(lines: list[str], start: int) -> list[BenchRow]:
    """Return the rows of -o csv output (one or more header + rows blocks)."""
    names: list[str] = []
    rows: list[BenchRow] = []
    for lineno, raw in enumerate(lines[start:], start + 1):
        stripped = raw.strip()
        if _is_csv_header(stripped):
            names = [name.strip() for name in next(csv.reader([stripped]))]
            continue
        values = next(csv.reader([stripped]), [])
        # llama-bench quotes every value; anything else with another field count is noise.
        if not stripped.startswith('"') and len(values) != len(names):
            continue
        if len(values) != len(names):
            raise ParseError(f"expected {len(names)} fields, found {len(values)}", lineno)
        _check_row_count(len(rows), lineno)
        rows.append(_record_row(dict(zip(names, values, strict=True)), lineno))
    return rows


# --- JSON/CSV records -------------------------------------------------------------------------


def _record_row(record: object, lineno: int) -> BenchRow:
    """Return the BenchRow of one JSON object or CSV row (field names as in llama-bench)."""
    if not isinstance(record, dict):
        raise ParseError("expected a JSON object with llama-bench fields", lineno)
    n_prompt = _required_int(record, "n_prompt", lineno)
    n_gen = _required_int(record, "n_gen", lineno)
    n_depth = _to_int(record.get("n_depth")) or 0
    _check_test(n_prompt, n_gen, n_depth, lineno)
    avg = _to_float(record.get("avg_ts"))
    if avg is None:
        raise ParseError("'avg_ts' is missing or not a number", lineno)
    model_type = _to_str(record.get("model_type"))
    model_filename = _to_str(record.get("model_filename"))
    commit = _to_str(record.get("build_commit"))
    number = _to_int(record.get("build_number"))
    return BenchRow(
        line=lineno,
        test=_test_name(n_prompt, n_gen, n_depth),
        n_prompt=n_prompt,
        n_gen=n_gen,
        n_depth=n_depth,
        tokens_per_s=avg,
        stddev=_to_float(record.get("stddev_ts")),
        model_type=model_type,
        model_filename=model_filename,
        quant=quant_from_model_type(model_type) or quant_from_filename(model_filename),
        size_bytes=_to_int(record.get("model_size")),
        params=_to_int(record.get("model_n_params")),
        backend=_to_str(record.get("backends")) or _legacy_backend(record),
        n_gpu_layers=_to_int(record.get("n_gpu_layers")),
        n_threads=_to_int(record.get("n_threads")),
        n_batch=_to_int(record.get("n_batch")),
        n_ubatch=_to_int(record.get("n_ubatch")),
        type_k=_to_str(record.get("type_k")) or None,
        type_v=_to_str(record.get("type_v")) or None,
        flash_attn=_to_flag(record.get("flash_attn")),
        build=f"{commit} ({number})" if commit and number is not None else commit,
    )


def _required_int(record: Mapping[str, object], name: str, lineno: int) -> int:
    """Return a required integer field or raise naming it."""
    value = _to_int(record.get(name))
    if value is None:
        raise ParseError(f"{name!r} is missing or not a whole number", lineno)
    return value


def _legacy_backend(record: Mapping[str, object]) -> str:
    """Return the backend name old JSON/CSV encoded as per-backend flags ("" if it has none)."""
    if not any(key in record for key, _ in _LEGACY_BACKENDS):
        return ""
    for key, name in _LEGACY_BACKENDS:
        if _to_flag(record.get(key)):
            return name
    return "CPU"


# --- shared -----------------------------------------------------------------------------------


def _test_name(n_prompt: int, n_gen: int, n_depth: int) -> str:
    """Return llama-bench's current test name: "pp512", "tg128", "pp512+tg128", "... @ d4096"."""
    if n_gen == 0:
        name = f"pp{n_prompt}"
    elif n_prompt == 0:
        name = f"tg{n_gen}"
    else:
        name = f"pp{n_prompt}+tg{n_gen}"
    return f"{name} @ d{n_depth}" if n_depth > 0 else name


def _check_test(n_prompt: int, n_gen: int, n_depth: int, lineno: int) -> None:
    """Refuse token counts no llama-bench test can have."""
    if min(n_prompt, n_gen, n_depth) < 0 or n_prompt + n_gen == 0:
        raise ParseError("the test processes no prompt and generates no tokens", lineno)


def _check_row_count(count: int, lineno: int) -> None:
    """Refuse a paste with more than MAX_ROWS results, before reading the next one."""
    if count >= MAX_ROWS:
        raise ParseError(f"more than {MAX_ROWS} results; paste at most {MAX_ROWS}", lineno)


def _to_str(value: object) -> str:
    """Return a text field trimmed, "" when absent."""
    return value.strip() if isinstance(value, str) else ""


def _to_int(value: object) -> int | None:
    """Return a whole number from a JSON number or a CSV/markdown cell, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    return None


def _to_float(value: object) -> float | None:
    """Return a finite number from a JSON number or a CSV cell, else None."""
    if isinstance(value, str):
        text = value.strip()
        number = float(text) if re.fullmatch(_NUMBER, text) else math.nan
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) else None


def _to_flag(value: object) -> bool | None:
    """Return a boolean from true/false, 1/0 or "1"/"0"; None for -1 (auto) or anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {1: True, 0: False}.get(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return None
