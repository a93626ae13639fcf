"""Decode and prefill speed against the calibration measurements, per device class."""

from __future__ import annotations

import statistics

import pytest

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
