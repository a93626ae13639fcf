"""Speed against measured llama.cpp runs (the calibration set and the published results),
per backend and kind, and the bands the pages show tied to those residuals."""

from __future__ import annotations

import json

import pytest

from estimator import throughput
from estimator.validation import SPEED, residuals, speed_runs, speed_summary
from tests.estimator.speed_data import expected


def test_the_copied_catalog_facts_equal_the_catalog() -> None:
    """estimator/data/speed/ copies catalog devices and configs (the estimator reads no catalog
    file): run `python tests/estimator/speed_data.py` after changing either."""
    devices, models = expected()
    assert json.loads((SPEED / "devices.json").read_text()) == devices
    assert json.loads((SPEED / "models.json").read_text()) == models


def test_every_backend_the_engines_ship_has_measured_runs() -> None:
    kinds = {(r.backend, r.kind) for r in speed_runs()}
    for backend in ("CUDA", "Metal", "ROCm", "Vulkan"):
        assert (backend, "decode") in kinds and (backend, "prefill") in kinds
    assert ("CUDA", "batched") in kinds and ("Metal", "batched") in kinds
    assert len(speed_runs()) >= 1500


def test_the_bands_are_the_80th_percentile_of_the_residuals() -> None:
    """Every band a page shows is the data's, not a chosen number."""
    table = {(s.backend, s.kind): s for s in speed_summary() if s.rows >= 20}
    assert set(table) == set(throughput.BANDS)
    for key, summary in table.items():
        assert throughput.BANDS[key] == round(summary.p80_error, 2), key


@pytest.mark.parametrize("backend", ["CUDA", "Metal", "ROCm", "Vulkan"])
def test_single_user_decode_median_error_is_at_most_15_percent(backend: str) -> None:
    errs = sorted(abs(r - 1) for r in residuals()[(backend, "decode")])
    assert errs[len(errs) // 2] <= 0.15


PREFILL_AND_BATCHED = [
    ("CUDA", "prefill"),
    ("Metal", "prefill"),
    ("ROCm", "prefill"),
    ("Vulkan", "prefill"),
    ("CUDA", "batched"),
    ("Metal", "batched"),
]


@pytest.mark.parametrize("key", PREFILL_AND_BATCHED)
def test_no_backend_is_off_by_more_than_1_3x_at_the_median(key: tuple[str, str]) -> None:
    ratios = sorted(residuals()[key])
    assert 1 / 1.3 <= ratios[len(ratios) // 2] <= 1.3


def test_an_unmeasured_backend_takes_the_wide_band() -> None:
    assert throughput.band("SYCL", "batched") == throughput.UNCALIBRATED_BAND
