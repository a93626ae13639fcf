"""The catalog facts the speed validation needs, copied into estimator/data/speed/ (the
estimator reads no catalog file): every device and model a published measurement names.

    python tests/estimator/speed_data.py      # rewrite the copies from the catalog

tests/estimator/test_speed_validation.py keeps the copies equal to the catalog."""

from __future__ import annotations

import csv
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "estimator" / "data" / "published"
OUT = ROOT / "estimator" / "data" / "speed"
DEVICE_FIELDS = ("name", "vendor", "kind", "segment", "architecture", "memory_bytes",
                 "bandwidth_gbps", "fp16_tflops", "tdp_watts")  # fmt: skip


def catalog_devices() -> dict[str, dict[str, Any]]:
    data = tomllib.loads((ROOT / "catalog" / "data" / "hardware.toml").read_text())
    return {h["slug"]: h for h in data["hardware"]}


def catalog_configs() -> dict[str, dict[str, Any]]:
    configs = {}
    for path in sorted((ROOT / "catalog" / "data" / "providers").glob("*.toml")):
        for m in tomllib.loads(path.read_text()).get("models", []):
            slug = m["hf_id"].split("/")[-1].lower().replace(".", "-")
            if "config" in m:
                configs[slug] = m["config"]
    return configs


def named() -> tuple[set[str], set[str]]:
    """Hardware and model slugs the published measurements name."""
    devices, models = set(), set()
    for path in sorted(PUBLISHED.glob("*.csv")):
        with path.open() as f:
            for row in csv.DictReader(f):
                devices.add(row["hardware_slug"])
                models.add(row["model_slug"])
    calibration = tomllib.loads(
        (ROOT / "estimator" / "data" / "calibration_devices.toml").read_text()
    )
    devices |= {d["slug"] for d in calibration["devices"].values()}
    return devices - {""}, models - {""}


def expected() -> tuple[dict[str, Any], dict[str, Any]]:
    catalog, configs = catalog_devices(), catalog_configs()
    devices, models = named()
    dev = {
        slug: {k: catalog[slug][k] for k in DEVICE_FIELDS if catalog[slug].get(k) is not None}
        for slug in sorted(devices)
        if slug in catalog
    }
    mod = {slug: configs[slug] for slug in sorted(models) if slug in configs}
    return dev, mod


def write() -> None:
    dev, mod = expected()
    OUT.mkdir(exist_ok=True)
    (OUT / "devices.json").write_text(json.dumps(dev, indent=1, sort_keys=True) + "\n")
    (OUT / "models.json").write_text(json.dumps(mod, sort_keys=True) + "\n")
    print(f"{len(dev)} devices, {len(mod)} models", file=sys.stderr)


if __name__ == "__main__":
    write()
