"""The bundled catalog files: coverage, sources, and parameter counts against official totals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from catalog.loader import DATA_DIR, parse_hardware_file, parse_provider_file

PROVIDERS = [parse_provider_file(p) for p in sorted((DATA_DIR / "providers").glob("*.toml"))]
MODELS = [m for p in PROVIDERS for m in p.models]
HARDWARE = parse_hardware_file(DATA_DIR / "hardware.toml")
WITH_OFFICIAL = [m for m in MODELS if m.fields["params_official"] is not None]


def test_catalog_has_at_least_260_models_from_28_providers() -> None:
    assert len(MODELS) >= 260
    assert len({p.fields["slug"] for p in PROVIDERS}) >= 28


def test_catalog_has_at_least_95_devices_in_every_segment() -> None:
    assert len(HARDWARE) >= 95
    assert {h["segment"] for h in HARDWARE} >= {"consumer", "workstation", "datacenter", "apple"}


@pytest.mark.parametrize(
    "slug",
    [
        "phi-3-5-vision-instruct",
        "phi-4-multimodal-instruct",
        "llama-3-1-8b-instruct",
        "mixtral-8x7b-instruct-v0-1",
        "qwen3-30b-a3b",
        "gemma-3-27b-it",
        "deepseek-v3",
        "gpt-oss-20b",
        "c4ai-command-r-v01",
        "falcon-40b-instruct",
        "olmo-2-0325-32b-instruct",
        "starcoder2-15b",
        # 2025-2026 releases (issue 14)
        "gemma-4-31b-it",
        "gemma-4-26b-a4b-it",
        "gemma-3n-e4b-it",
        "qwen3-5-27b",
        "qwen3-5-397b-a17b",
        "qwen3-6-35b-a3b",
        "qwen3-vl-8b-instruct",
        "qwen3-vl-30b-a3b-instruct",
        "glm-4-7",
        "glm-5",
        "deepseek-v3-2",
        "kimi-k2-5",
        "minimax-m2-5",
        "llama-4-scout-17b-16e-instruct",
        "nvidia-nemotron-3-nano-30b-a3b-bf16",
        "ministral-3-8b-instruct-2512-bf16",
        "devstral-2-123b-instruct-2512",
        "lfm2-8b-a1b",
        "granite-4-0-h-small",
    ],
)
def test_catalog_covers_the_architecture_families_users_start_from(slug: str) -> None:
    assert slug in {m.fields["slug"] for m in MODELS}


def test_at_least_ten_models_have_an_official_total() -> None:
    assert len(WITH_OFFICIAL) >= 10


@pytest.mark.parametrize("record", WITH_OFFICIAL, ids=lambda m: m.fields["hf_id"])
def test_computed_parameter_count_equals_the_official_total(record) -> None:  # type: ignore[no-untyped-def]
    assert record.fields["params_total"] == record.fields["params_official"]


def test_named_official_totals_are_in_the_catalog() -> None:
    by_id = {m.fields["hf_id"]: m.fields["params_total"] for m in MODELS}
    assert by_id["meta-llama/Llama-3.1-8B-Instruct"] == 8_030_261_248
    assert by_id["mistralai/Mixtral-8x7B-Instruct-v0.1"] == 46_702_792_704
    assert by_id["Qwen/Qwen3-30B-A3B"] == 30_532_122_624
    assert by_id["microsoft/Phi-3.5-vision-instruct"] == 4_146_621_440
    assert by_id["google/gemma-3-4b-it"] == 4_300_079_472


def test_multimodal_models_label_their_encoders() -> None:
    by_id = {m.fields["hf_id"]: m for m in MODELS}
    for hf_id in ("microsoft/Phi-3.5-vision-instruct", "microsoft/Phi-4-multimodal-instruct"):
        record = by_id[hf_id]
        assert record.encoders, hf_id
        assert "image" in record.input_modalities
    assert {e["modality"] for e in by_id["microsoft/Phi-4-multimodal-instruct"].encoders} == {
        "image",
        "audio",
    }


def test_every_catalog_architecture_is_read_exactly_not_by_the_generic_fallback() -> None:
    assert [m.fields["hf_id"] for m in MODELS if not m.fields["architecture_exact"]] == []


def test_every_model_cites_its_config_and_card() -> None:
    for m in MODELS:
        assert m.fields["sources"].get("config"), m.fields["hf_id"]
        assert m.fields["sources"].get("card"), m.fields["hf_id"]


def test_model_slugs_follow_the_repo_name_rule() -> None:
    for m in MODELS:
        repo = m.fields["hf_id"].split("/")[1]
        assert m.fields["slug"] == repo.lower().replace(".", "-")


def test_every_hardware_value_has_a_source() -> None:
    for h in HARDWARE:
        assert h["sources"].get("memory"), h["slug"]
        assert h["sources"].get("bandwidth"), h["slug"]
        if h["fp16_tflops"] is not None:
            assert h["sources"].get("fp16_tflops"), h["slug"]


def test_gpu_memory_sizes_are_whole_gibibytes() -> None:
    for h in HARDWARE:
        if h["kind"] == "gpu":
            assert h["memory_bytes"] % (1 << 30) == 0, h["slug"]


def test_project_never_reads_the_shared_folder() -> None:
    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"\.\./shared|shared/reference")
    offenders = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if ".venv" not in p.parts
        and p.name != Path(__file__).name
        and pattern.search(p.read_text())
    ]
    assert offenders == []


def test_no_data_file_cites_a_local_path() -> None:
    """Sources and notes are shown to visitors (/methodology/ prints the engine cases' notes):
    public URLs or citations, never this machine's files."""
    estimator_data = DATA_DIR.parents[1] / "estimator" / "data"
    files = [*DATA_DIR.rglob("*.toml"), *estimator_data.rglob("*.toml")]
    files += [*estimator_data.rglob("*.json"), *estimator_data.rglob("*.csv")]
    assert len(files) > 40
    for path in sorted(files):
        text = path.read_text()
        for local in ("/work/", "/tmp/", "shared/reference/", "shared/tools/"):
            assert local not in text, (path.name, local)
