"""The llama-bench paste parser against real outputs (see data/llama_bench/README.md)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from benchmarks.llamabench import (
    EMPTY_MESSAGE,
    MAX_CHARS,
    MAX_ROWS,
    NOT_FOUND_MESSAGE,
    QUANT_NAMES,
    BenchRow,
    ParseError,
    parse,
    quant_from_filename,
    quant_from_model_type,
)

DATA = Path(__file__).parent / "data" / "llama_bench"
GIB = 2**30
MIB = 2**20


def fixture(name: str) -> str:
    """Return a fixture's text as a user would paste it."""
    return (DATA / name).read_text(encoding="utf-8")


def rows_of(name: str) -> list[BenchRow]:
    """Return the parsed rows of a fixture."""
    return parse(fixture(name))


def row_at(name: str, line: int) -> BenchRow:
    """Return the row a fixture has on a given line."""
    (row,) = [row for row in rows_of(name) if row.line == line]
    return row


def md_row(**fields: object) -> BenchRow:
    """Return a markdown BenchRow: fields markdown never has default to empty/None."""
    defaults: dict[str, object] = {
        "n_depth": 0,
        "model_filename": "",
        "n_gpu_layers": None,
        "n_threads": None,
        "n_batch": None,
        "n_ubatch": None,
        "type_k": None,
        "type_v": None,
        "flash_attn": None,
        "build": "",
    }
    return BenchRow(**{**defaults, **fields})  # type: ignore[arg-type]


# --- every fixture ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("md_2023_metal_mostly.md", 6),
        ("md_2024_github_rendered.md", 6),
        ("md_2024_constructed_many_columns.md", 4),
        ("md_2025_depth_readme.md", 4),
        ("md_2025_vulkan_noise.md", 2),
        ("md_2025_rpc_vulkan.md", 4),
        ("md_2025_rocm_rpc_pg.md", 3),
        ("md_2025_rocm_log.log", 2),
        ("md_2025_cpu_ppc64le.md", 6),
        ("md_2025_metal_blas.md", 4),
        ("md_2026_sycl_mojibake.md", 2),
        ("json_2023_readme.json", 2),
        ("json_2025_readme.json", 2),
        ("jsonl_2025_readme.jsonl", 2),
        ("csv_2025_readme.csv", 2),
        ("jsonl_2025_rocm_depth.jsonl", 6),
    ],
)
def test_each_real_output_yields_one_row_per_test(name: str, count: int) -> None:
    assert len(rows_of(name)) == count


def test_every_fixture_file_is_listed_with_its_source_in_the_readme() -> None:
    readme = fixture("README.md")
    for path in DATA.iterdir():
        if path.name != "README.md":
            assert f"`{path.name}`" in readme


# --- markdown ---------------------------------------------------------------------------------


def test_a_2023_table_reads_the_spaced_test_name_and_the_mostly_model_type() -> None:
    assert row_at("md_2023_metal_mostly.md", 7) == md_row(
        line=7,
        test="pp512",
        n_prompt=512,
        n_gen=0,
        tokens_per_s=629.07,
        stddev=0.21,
        model_type="LLaMA 7B mostly Q8_0",
        quant="Q8_0",
        size_bytes=int(6.67 * GIB),
        params=6_740_000_000,
        backend="Metal",
        n_gpu_layers=1,
        n_threads=4,
    )


def test_a_2023_generation_row_reads_tg_128_as_128_generated_tokens() -> None:
    row = row_at("md_2023_metal_mostly.md", 11)
    assert (row.test, row.n_prompt, row.n_gen, row.tokens_per_s, row.stddev) == (
        "tg128",
        0,
        128,
        88.54,
        0.04,
    )
    assert row.quant == "Q4_0"


def test_a_table_copied_from_github_without_outer_pipes_is_read() -> None:
    assert row_at("md_2024_github_rendered.md", 5) == md_row(
        line=5,
        test="pp128",
        n_prompt=128,
        n_gen=0,
        tokens_per_s=144.47,
        stddev=0.22,
        model_type="llama 7B Q4_0",
        quant="Q4_0",
        size_bytes=int(3.83 * GIB),
        params=7_240_000_000,
        backend="Metal",
        n_gpu_layers=99,
    )
    assert [row.test for row in rows_of("md_2024_github_rendered.md")][-1] == "tg512"


def test_a_2024_table_reads_threads_batch_ubatch_cache_types_and_flash_attention() -> None:
    assert row_at("md_2024_constructed_many_columns.md", 6) == md_row(
        line=6,
        test="pp512",
        n_prompt=512,
        n_gen=0,
        tokens_per_s=5786.09,
        stddev=12.80,
        model_type="llama 8B Q4_K - Medium",
        quant="Q4_K_M",
        size_bytes=int(4.58 * GIB),
        params=8_030_000_000,
        backend="CUDA",
        n_gpu_layers=99,
        n_threads=8,
        n_batch=1024,
        n_ubatch=512,
        type_k="q8_0",
        type_v="q8_0",
        flash_attn=True,
        build="0000000 (3500)",
    )


def test_a_depth_row_reads_prompt_512_at_depth_512() -> None:
    assert row_at("md_2025_depth_readme.md", 9) == md_row(
        line=9,
        test="pp512 @ d512",
        n_prompt=512,
        n_gen=0,
        n_depth=512,
        tokens_per_s=6425.91,
        stddev=18.88,
        model_type="qwen2 7B Q4_K - Medium",
        quant="Q4_K_M",
        size_bytes=int(4.36 * GIB),
        params=7_620_000_000,
        backend="CUDA",
        n_gpu_layers=99,
    )


def test_a_generation_depth_row_reads_128_tokens_at_depth_512() -> None:
    row = row_at("md_2025_depth_readme.md", 10)
    assert (row.test, row.n_prompt, row.n_gen, row.n_depth) == ("tg128 @ d512", 0, 128, 512)


def test_rows_without_depth_have_depth_0() -> None:
    assert [row.n_depth for row in rows_of("md_2025_depth_readme.md")] == [0, 0, 512, 512]


def test_command_and_vulkan_device_lines_before_the_table_are_ignored() -> None:
    assert row_at("md_2025_vulkan_noise.md", 16) == md_row(
        line=16,
        test="pp512",
        n_prompt=512,
        n_gen=0,
        tokens_per_s=139.97,
        stddev=1.06,
        model_type="qwen3 4B Q4_K - Medium",
        quant="Q4_K_M",
        size_bytes=int(2.37 * GIB),
        params=4_020_000_000,
        backend="Vulkan",
        n_gpu_layers=99,
        flash_attn=True,
        build="141a908a (5298)",
    )


def test_the_quant_comes_from_the_model_type_not_the_unsloth_file_name() -> None:
    # The command ran Qwen3-4B-UD-Q4_K_XL.gguf; llama.cpp reports its ftype as Q4_K - Medium.
    assert {row.quant for row in rows_of("md_2025_vulkan_noise.md")} == {"Q4_K_M"}


def test_two_models_in_one_table_keep_their_own_quant() -> None:
    rows = rows_of("md_2025_rpc_vulkan.md")
    assert [(row.model_type, row.quant) for row in rows] == [
        ("qwen2 14B Q4_0", "Q4_0"),
        ("qwen2 14B Q4_0", "Q4_0"),
        ("gemma3 12B Q6_K", "Q6_K"),
        ("gemma3 12B Q6_K", "Q6_K"),
    ]
    assert {row.backend for row in rows} == {"RPC,Vulkan"}
    assert {row.build for row in rows} == {"8c83449c (5315)"}


def test_a_pg_row_reads_both_prompt_and_generated_tokens() -> None:
    assert row_at("md_2025_rocm_rpc_pg.md", 11) == md_row(
        line=11,
        test="pp512+tg128",
        n_prompt=512,
        n_gen=128,
        tokens_per_s=244.87,
        stddev=0.20,
        model_type="llama 3B Q4_K - Medium",
        quant="Q4_K_M",
        size_bytes=int(1.87 * GIB),
        params=3_210_000_000,
        backend="ROCm,RPC",
        n_gpu_layers=99,
        flash_attn=True,
        build="c81de6e1 (6092)",
    )


def test_a_raw_rocm_log_reads_flash_attention_and_ignores_the_mmap_column() -> None:
    row = row_at("md_2025_rocm_log.log", 8)
    assert (row.test, row.tokens_per_s, row.stddev, row.backend) == ("tg128", 20.93, 0.0, "ROCm")
    assert (row.flash_attn, row.quant, row.build) == (True, "Q4_K_M", "4807e8f9 (6609)")
    assert row.model_type == "glm4moe 106B.A12B Q4_K - Medium"
    assert row.params == 110_470_000_000


def test_a_cpu_table_has_threads_but_no_gpu_layers() -> None:
    rows = rows_of("md_2025_cpu_ppc64le.md")
    assert [row.test for row in rows] == ["pp16", "pp32", "pp64", "pp128", "pp256", "tg1"]
    assert {(row.backend, row.n_threads, row.n_gpu_layers) for row in rows} == {("CPU", 10, None)}
    assert rows[-1].n_gen == 1
    assert rows[0].build == "0bcb40b48 (6833)"


def test_a_metal_table_keeps_the_backend_as_printed_and_reads_threads() -> None:
    assert row_at("md_2025_metal_blas.md", 16) == md_row(
        line=16,
        test="pp4096+tg128",
        n_prompt=4096,
        n_gen=128,
        tokens_per_s=119.34,
        stddev=0.0,
        model_type="llama 70B Q4_K - Medium",
        quant="Q4_K_M",
        size_bytes=int(39.59 * GIB),
        params=70_550_000_000,
        backend="Metal,BLAS",
        n_threads=24,
        flash_attn=True,
        build="4d3726278 (7315)",
    )


def test_a_build_line_pasted_above_the_table_still_gives_the_build() -> None:
    assert {row.build for row in rows_of("md_2025_metal_blas.md")} == {"4d3726278 (7315)"}


def test_a_plus_minus_sign_mangled_by_the_terminal_still_reads_the_stddev() -> None:
    assert row_at("md_2026_sycl_mojibake.md", 12) == md_row(
        line=12,
        test="pp512",
        n_prompt=512,
        n_gen=0,
        tokens_per_s=373.50,
        stddev=3.96,
        model_type="qwen35moe 35B.A3B Q4_K - Medium",
        quant="Q4_K_M",
        size_bytes=int(20.60 * GIB),
        params=34_660_000_000,
        backend="SYCL",
        n_gpu_layers=99,
        build="5c0e94683 (9159)",
    )


def test_a_model_under_one_gib_reads_its_size_in_mib() -> None:
    table = (
        "| model | size | params | backend | threads | test | t/s |\n"
        "| --- | ---: | ---: | --- | ---: | ---: | ---: |\n"
        "| qwen3 0.6B F16 | 1.40 GiB | 751.63 M | MTL,BLAS | 4 | pp512 | 1876.57 ± 2.48 |\n"
        "| llama 1B Q4_K - Medium | 636.18 MiB | 1.10 B | Metal,BLAS | 16 | tg128 | 242.56 |\n"
    )
    first, second = parse(table)
    assert (first.params, first.quant, first.backend) == (751_630_000, "F16", "MTL,BLAS")
    assert second.size_bytes == int(636.18 * MIB)


@pytest.mark.parametrize(
    ("cell", "avg", "stddev"),
    [("151.83 ± 0.19", 151.83, 0.19), ("151.83 +/- 0.19", 151.83, 0.19), ("151.83", 151.83, None)],
)
def test_the_t_s_cell_may_use_plus_minus_ascii_or_have_no_stddev(
    cell: str, avg: float, stddev: float | None
) -> None:
    (row,) = parse(
        f"| model | test | t/s |\n| --- | --- | --- |\n| llama 8B Q8_0 | tg128 | {cell} |"
    )
    assert (row.tokens_per_s, row.stddev) == (avg, stddev)


def test_noise_lines_around_a_table_are_ignored_and_lines_count_from_the_paste() -> None:
    noise_before = [
        "$ ./llama-bench -m models/llama-3.1-8b-q4_k_m.gguf",
        "ggml_cuda_init: found 1 CUDA devices:",
        "  Device 0: NVIDIA GeForce RTX 4090, compute capability 8.9, VMM: yes",
        "system_info: n_threads = 8 | CPU : SSE3 = 1 | AVX = 1 |",
    ]
    noise_after = ["", "real\t0m42.1s", "user@host:~$"]
    text = "\n".join([*noise_before, fixture("md_2025_depth_readme.md"), *noise_after])
    bare = rows_of("md_2025_depth_readme.md")
    shifted = [dataclasses.replace(row, line=row.line + len(noise_before)) for row in bare]
    assert parse(text) == shifted


def test_progress_lines_between_rows_do_not_end_the_table() -> None:
    text = (
        "| model | backend | ngl | test | t/s |\n"
        "| --- | --- | --: | --: | --: |\n"
        "llama-bench: benchmark 1/2: starting\n"
        "| llama 8B Q4_0 | CUDA | 99 | pp512 | 100.00 ± 1.00 |\n"
        "llama-bench: benchmark 2/2: starting\n"
        "| llama 8B Q4_0 | CUDA | 99 | tg128 | 10.00 ± 0.10 |\n"
    )
    assert [(row.line, row.test) for row in parse(text)] == [(4, "pp512"), (6, "tg128")]


def test_each_table_takes_the_build_footer_that_follows_it() -> None:
    text = fixture("md_2025_vulkan_noise.md") + "\n" + fixture("md_2025_cpu_ppc64le.md")
    assert [row.build for row in parse(text)] == ["141a908a (5298)"] * 2 + ["0bcb40b48 (6833)"] * 6


def test_an_unrelated_table_after_a_gap_is_ignored() -> None:
    text = (
        fixture("md_2025_vulkan_noise.md") + "\n| GPU | price |\n| --- | --- |\n| 4090 | $1599 |\n"
    )
    assert len(parse(text)) == 2


# --- JSON, JSONL, CSV -------------------------------------------------------------------------

README_2025_PP512 = {
    "test": "pp512",
    "n_prompt": 512,
    "n_gen": 0,
    "n_depth": 0,
    "model_type": "qwen2 7B Q4_K - Medium",
    "model_filename": "models/Qwen2.5-7B-Instruct-Q4_K_M.gguf",
    "quant": "Q4_K_M",
    "size_bytes": 4_677_120_000,
    "params": 7_615_616_512,
    "backend": "CUDA",
    "n_gpu_layers": 99,
    "n_threads": 8,
    "n_batch": 2048,
    "n_ubatch": 512,
    "type_k": "f16",
    "type_v": "f16",
    "flash_attn": False,
    "build": "8cf427ff (5163)",
}


def test_a_json_array_row_reads_every_field_and_the_line_of_its_object() -> None:
    assert row_at("json_2025_readme.json", 2) == BenchRow(
        line=2, tokens_per_s=7100.002165, stddev=140.341520, **README_2025_PP512
    )


def test_the_second_json_object_starts_on_line_39() -> None:
    row = row_at("json_2025_readme.json", 39)
    assert (row.test, row.n_gen, row.tokens_per_s, row.stddev) == (
        "tg128",
        128,
        118.881588,
        1.041811,
    )


def test_a_jsonl_row_reads_every_field_and_its_line() -> None:
    assert row_at("jsonl_2025_readme.jsonl", 1) == BenchRow(
        line=1, tokens_per_s=7263.609157, stddev=90.940578, **README_2025_PP512
    )


def test_a_csv_row_reads_the_quoted_values_like_json() -> None:
    assert row_at("csv_2025_readme.csv", 2) == BenchRow(
        line=2, tokens_per_s=7285.676949, stddev=100.064434, **README_2025_PP512
    )
    assert row_at("csv_2025_readme.csv", 3).test == "tg128"


def test_a_depth_row_reads_prompt_512_at_depth_4096() -> None:
    assert row_at("jsonl_2025_rocm_depth.jsonl", 9) == BenchRow(
        line=9,
        test="pp512 @ d4096",
        n_prompt=512,
        n_gen=0,
        n_depth=4096,
        tokens_per_s=3794.006436,
        stddev=0.0,
        model_type="llama 1B Q4_K - Medium",
        model_filename="/models/gguf/Llama-3.2-1B-Instruct-Q4_K_M.gguf",
        quant="Q4_K_M",
        size_bytes=799_862_912,
        params=1_235_814_432,
        backend="ROCm",
        n_gpu_layers=99,
        n_threads=16,
        n_batch=2048,
        n_ubatch=512,
        type_k="f16",
        type_v="f16",
        flash_attn=True,
        build="1c1409e1 (6865)",
    )


def test_jsonl_after_device_lines_lists_every_depth() -> None:
    rows = rows_of("jsonl_2025_rocm_depth.jsonl")
    assert [(row.line, row.test) for row in rows] == [
        (5, "pp512"),
        (6, "tg128"),
        (7, "pp512 @ d1024"),
        (8, "tg128 @ d1024"),
        (9, "pp512 @ d4096"),
        (10, "tg128 @ d4096"),
    ]


def test_a_2023_json_row_takes_its_backend_from_the_cuda_flag() -> None:
    assert row_at("json_2023_readme.json", 32) == BenchRow(
        line=32,
        test="tg128",
        n_prompt=0,
        n_gen=128,
        n_depth=0,
        tokens_per_s=130.965708,
        stddev=1.238924,
        model_type="llama 7B mostly Q4_0",
        model_filename="models/7B/ggml-model-q4_0.gguf",
        quant="Q4_0",
        size_bytes=3_825_065_984,
        params=6_738_415_616,
        backend="CUDA",
        n_gpu_layers=99,
        n_threads=16,
        n_batch=512,
        n_ubatch=None,
        type_k=None,
        type_v=None,
        flash_attn=None,
        build="3469684 (1275)",
    )


@pytest.mark.parametrize(("value", "expected"), [(-1, None), (0, False), (1, True), (True, True)])
def test_json_flash_attn_reads_auto_as_unknown(value: object, expected: bool | None) -> None:
    record = {"n_prompt": 512, "n_gen": 0, "avg_ts": 100.0, "flash_attn": value}
    assert parse(json.dumps(record))[0].flash_attn is expected


def test_json_output_between_device_lines_and_a_crash_message_is_read() -> None:
    text = "\n".join(
        [
            "ggml_vulkan: Found 1 Vulkan devices:",
            "ggml_vulkan: 0 = AMD Radeon RX 580 Series (RADV POLARIS10) (radv) | uma: 0 | fp16: 0",
            fixture("json_2025_readme.json"),
            "[1]    11372 segmentation fault (core dumped)  ./llama.cpp/build/bin/llama-bench",
        ]
    )
    assert [(row.line, row.test) for row in parse(text)] == [(4, "pp512"), (41, "tg128")]


def test_a_json_object_without_a_backend_field_or_flags_has_an_empty_backend() -> None:
    (row,) = parse('{"n_prompt": 0, "n_gen": 128, "avg_ts": 50.5, "model_filename": "m.Q8_0.gguf"}')
    assert (row.backend, row.quant, row.build, row.stddev) == ("", "Q8_0", "", None)


# --- errors -----------------------------------------------------------------------------------


def test_an_empty_paste_asks_for_llama_bench_output() -> None:
    for text in ("", "  \n\t\n"):
        with pytest.raises(ParseError) as error:
            parse(text)
        assert str(error.value) == EMPTY_MESSAGE
        assert error.value.line is None


def test_text_that_is_not_llama_bench_output_is_refused() -> None:
    with pytest.raises(ParseError, match="does not look like llama-bench output") as error:
        parse("Hello, my GPU does 40 tokens per second with Llama 3 8B!\nThanks")
    assert str(error.value) == NOT_FOUND_MESSAGE
    assert error.value.line is None


def test_a_compare_llama_bench_table_is_not_taken_for_llama_bench_output() -> None:
    table = (
        "| CPU | Model | Test | t/s master | t/s PR | Speedup |\n"
        "|:----|:------|:-----|-----------:|-------:|--------:|\n"
        "| M2 Ultra | 1B F16 | pp512 | 624.32 | 570.26 | 0.91 |\n"
    )
    with pytest.raises(ParseError, match="does not look like llama-bench output"):
        parse(table)


def test_a_row_with_missing_cells_names_its_line() -> None:
    lines = fixture("md_2025_depth_readme.md").splitlines()
    lines[7] = "| qwen2 7B Q4_K - Medium         |   4.36 GiB |     7.62 B |           tg128 |"
    with pytest.raises(ParseError) as error:
        parse("\n".join(lines))
    assert str(error.value) == "line 8: expected 7 columns, found 4"
    assert error.value.line == 8


def test_a_t_s_cell_that_is_not_a_number_names_its_line() -> None:
    text = fixture("md_2025_vulkan_noise.md").replace("35.87 ± 1.01", "fast")
    with pytest.raises(ParseError, match=r"^line 17: t/s value 'fast' is not a number$"):
        parse(text)


def test_an_unknown_test_name_names_its_line() -> None:
    text = fixture("md_2025_vulkan_noise.md").replace("pp512", "warmup")
    with pytest.raises(ParseError, match=r"^line 16: test 'warmup' is not a llama-bench test"):
        parse(text)


def test_an_invalid_jsonl_line_names_its_line() -> None:
    lines = fixture("jsonl_2025_readme.jsonl").splitlines()
    broken = "\n".join([lines[0], lines[1].replace('"n_gen": 128,', '"n_gen": 128')])
    with pytest.raises(ParseError, match=r"^line 2: invalid JSON: Expecting ',' delimiter$"):
        parse(broken)


def test_a_json_value_broken_across_lines_names_the_line_it_breaks_on() -> None:
    # A pasted sample found while collecting fixtures had "cpu_strict": f<newline><tab>alse.
    text = fixture("json_2025_readme.json").replace(
        '"cpu_strict": false', '"cpu_strict": f\n\talse', 1
    )
    with pytest.raises(ParseError) as error:
        parse(text)
    assert error.value.line == 16
    assert str(error.value).startswith("line 16: invalid JSON")


def test_a_json_object_without_avg_ts_names_its_line() -> None:
    with pytest.raises(ParseError, match=r"^line 2: 'avg_ts' is missing or not a number$"):
        parse('noise\n{"n_prompt": 512, "n_gen": 0, "avg_ts": "n/a"}')


def test_a_csv_row_with_more_values_than_header_names_names_its_line() -> None:
    with pytest.raises(ParseError, match=r"^line 2: expected 26 fields, found 27$"):
        rows_of("csv_2023_readme_extra_field.csv")


def test_a_header_without_rows_is_reported() -> None:
    text = "| model | test | t/s |\n| --- | --- | --- |\nllama_model_load: error loading model\n"
    with pytest.raises(ParseError, match=r"^line 1: found the start of llama-bench output"):
        parse(text)


def test_a_paste_over_the_character_limit_is_refused_before_parsing() -> None:
    text = fixture("md_2025_depth_readme.md")
    text += " " * (MAX_CHARS + 1 - len(text))
    with pytest.raises(ParseError, match="the limit is 200,000"):
        parse(text)


def test_more_than_200_rows_are_refused_and_200_are_accepted() -> None:
    header = "| model | test | t/s |\n| --- | --- | --- |\n"
    row = "| llama 8B Q4_0 | tg128 | 100.00 ± 1.00 |\n"
    assert len(parse(header + row * MAX_ROWS)) == MAX_ROWS
    with pytest.raises(ParseError, match=r"^line 203: more than 200 results"):
        parse(header + row * (MAX_ROWS + 1))


def test_more_than_200_jsonl_objects_are_refused() -> None:
    line = json.dumps({"n_prompt": 0, "n_gen": 128, "avg_ts": 1.0})
    with pytest.raises(ParseError, match=r"^line 201: more than 200 results"):
        parse("\n".join([line] * (MAX_ROWS + 1)))


def test_the_error_message_starts_with_the_line_when_there_is_one() -> None:
    assert (
        str(ParseError("expected 7 columns, found 5", 3)) == "line 3: expected 7 columns, found 5"
    )
    assert ParseError("expected 7 columns, found 5", 3).line == 3


def test_rows_are_immutable() -> None:
    row = rows_of("md_2025_vulkan_noise.md")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.test = "tg128"  # type: ignore[misc]


# --- quant names ------------------------------------------------------------------------------


def test_quant_names_cover_llama_cpps_file_types_with_our_names() -> None:
    assert set(QUANT_NAMES.values()) == {
        "F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q2_K_S",
        "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K",
        "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XS", "IQ3_XXS", "IQ1_S", "IQ1_M",
        "IQ4_NL", "IQ4_XS", "IQ3_S", "IQ3_M", "TQ1_0", "TQ2_0", "MXFP4_MOE",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("model_type", "quant"),
    [
        ("llama 7B mostly Q4_0", "Q4_0"),
        ("llama 7B mostly Q4_K - Medium", "Q4_K_M"),
        ("llama 1B all F32", "F32"),
        ("llama 8B BF16", "BF16"),
        ("llama 8B Q2_K - Medium", "Q2_K"),
        ("llama 7B mostly Q2_K", "Q2_K"),
        ("llama 8B Q2_K - Small", "Q2_K_S"),
        ("qwen3moe 30B.A3B Q3_K - Large", "Q3_K_L"),
        ("qwen35moe 35B.A3B IQ4_XS - 4.25 bpw", "IQ4_XS"),
        ("llama 8B IQ3_S - 3.4375 bpw", "IQ3_S"),
        ("llama 8B IQ3_S mix - 3.66 bpw", "IQ3_M"),
        ("llama 8B IQ2_XXS - 2.0625 bpw", "IQ2_XXS"),
        ("llama 8B TQ1_0 - 1.69 bpw ternary", "TQ1_0"),
        ("gpt-oss 20B MXFP4 MoE", "MXFP4_MOE"),
        ("llama 8B Q4_K - Medium (guessed)", "Q4_K_M"),
        ("gpt-oss 120B MXFP4 - 4.25 bpw", None),
        ("bitnet-25 2B IQ2_BN - 2.00 bpw Bitnet", None),
        ("", None),
    ],
)
def test_the_model_type_maps_llama_cpps_ftype_name_to_ours(
    model_type: str, quant: str | None
) -> None:
    assert quant_from_model_type(model_type) == quant


@pytest.mark.parametrize(
    ("filename", "quant"),
    [
        ("Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "Q4_K_M"),
        ("model.q8_0.gguf", "Q8_0"),
        ("models/7B/ggml-model-q4_0.gguf", "Q4_0"),
        ("Llama-3.2-1B.Q3_K_S.gguf", "Q3_K_S"),
        ("Qwen_Qwen3-14B-bf16.gguf", "BF16"),
        ("gemma-3-27b-it-f16-00001-of-00002.gguf", "F16"),
        ("Qwen3-8B-IQ2_XXS.gguf", "IQ2_XXS"),
        ("Qwen3-8B-IQ2_XS.gguf", "IQ2_XS"),
        ("gpt-oss-20b-MXFP4_MOE.gguf", "MXFP4_MOE"),
        (r"C:\models\Mistral-22B-v0.2-q4_k_s.gguf", "Q4_K_S"),
        ("Qwen3-30B-A3B-UD-Q4_K_XL.gguf", None),
        ("GLM-4.5-Air-UD-Q2_K_XL-00001-of-00002.gguf", None),
        ("gpt-oss-20b-mxfp4.gguf", None),
        ("llama-2-7b.Q4_0_4_4.gguf", None),
        ("Phi-3-mini-4k-instruct-q4.gguf", None),
    ],
)
def test_a_file_name_gives_its_quant_only_when_an_exact_known_name_is_in_it(
    filename: str, quant: str | None
) -> None:
    assert quant_from_filename(filename) == quant


MD_HEADER = (
    "| model | size | params | backend | ngl | test | t/s |\n"
    "| --- | ---: | ---: | --- | --: | ---: | ---: |\n"
)


@pytest.mark.parametrize(
    "text",
    [
        MD_HEADER
        + "| llama 8B Q4_K - Medium | 1e999999 GiB | 8.03 B | CUDA | 99 | tg128 | 1.0 ± 0.1 |",
        MD_HEADER
        + "| llama 8B Q4_K - Medium | 4.58 GiB | 8.03 B | CUDA | 99 | tg"
        + "9" * 5000
        + " | 1.0 ± 0.1 |",
        '[{"n_prompt": 0, "n_gen": 128, "avg_ts": ' + "9" * 400 + "}]",
        '[{"n_prompt": 0, "n_gen": 128, "avg_ts": ' + "9" * 5000 + "}]",
        "[" + '{"a":' * 30_000 + "1" + "}" * 30_000 + "]",
    ],
    ids=["huge-size", "long-test", "huge-float", "too-many-digits", "deep-json"],
)
def test_absurd_values_are_a_parse_error_not_a_crash(text: str) -> None:
    with pytest.raises(ParseError):
        parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"model_type": "\\ud800 7B", "n_prompt": 512}]', "unpaired surrogate"),
        ('[{"model_type": "llama\\u0000", "n_prompt": 512}]', "NUL"),
        ('[{"avg_ts": NaN}]', "finite"),
    ],
)
def test_json_values_that_cannot_be_stored_or_shown_are_a_parse_error(
    text: str, message: str
) -> None:
    with pytest.raises(ParseError, match=message):
        parse(text)
