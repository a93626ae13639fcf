"""Decode and prefill speed against the calibration measurements, per device class."""

from __future__ import annotations

import statistics
import tomllib
from pathlib import Path

import pytest

from estimator.validation import DEVICES
from estimator.validation import speed_errors as errors


def test_the_calibration_set_covers_nvidia_and_apple() -> None:
    tg = errors("tg")
    assert len(tg["nvidia"]) >= 150 and len(tg["apple"]) >= 60


@pytest.mark.parametrize("device_class", ["nvidia", "apple"])
def test_decode_median_error_is_at_most_15_percent_per_device_class(device_class: str) -> None:
    errs = errors("tg")[device_class]
    print(f"\\ndecode {device_class}: n={len(errs)} median {statistics.median(errs):.3f}")
    assert statistics.median(errs) <= 0.15


def test_prefill_median_error_on_devices_with_known_fp16_peak_is_within_its_band() -> None:
    errs = errors("pp")["nvidia"]
    assert len(errs) >= 50
    assert statistics.median(errs) <= 0.40


def test_the_calibration_devices_carry_the_catalogs_figures() -> None:
    """estimator/data/calibration_devices.toml copies catalog facts (the estimator reads no
    catalog file): the copy must not drift from catalog/data/hardware.toml."""
    catalog = {
        h["slug"]: h
        for h in tomllib.loads(Path("catalog/data/hardware.toml").read_text())["hardware"]
    }
    assert len(DEVICES) == 19
    for name, copy in DEVICES.items():
        original = catalog[copy["slug"]]
        for key in ("memory_bytes", "bandwidth_gbps", "fp16_tflops", "segment"):
            assert copy.get(key) == original.get(key), (name, key)
