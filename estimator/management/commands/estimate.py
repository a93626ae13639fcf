from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from estimator import limits
from estimator.config import ConfigError
from estimator.devices import from_figures, from_hardware
from estimator.estimate import estimate
from estimator.kv import KvError
from estimator.memory import MemoryOptions
from estimator.throughput import Device
from estimator.units import MIB

RANGES = {
    "ctx": limits.CONTEXT,
    "parallel": limits.PARALLEL,
    "ubatch": limits.UBATCH,
    "depth": limits.DEPTH,
    "batch": limits.PARALLEL,
    "gpu_count": limits.GPU_COUNT,
}


class Command(BaseCommand):
    help = (
        "Estimate what llama.cpp allocates for a model: weights (per-tensor quant types as "
        "llama-quantize picks them), GGUF file size, KV cache (full, sliding-window, recurrent), "
        "compute and output buffers. Sizes in bytes with --json, MiB in the table."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--config", type=Path, help="a Hugging Face config.json")
        source.add_argument("--model", help="a catalog model slug")
        parser.add_argument(
            "--quant", default="Q4_K_M", choices=list(limits.QUANTS), help="GGUF file type"
        )
        self._int(parser, "--ctx", limits.CONTEXT)
        parser.add_argument(
            "--kv", choices=limits.KV, help="KV cache type for K and V (default f16)"
        )
        parser.add_argument("--kv-k", choices=limits.KV, help="K cache type")
        parser.add_argument(
            "--kv-v", choices=limits.KV, help="V cache type (quantized needs flash attention)"
        )
        parser.add_argument("--flash-attn", choices=["on", "off"], default="on")
        self._int(parser, "--parallel", limits.PARALLEL)
        self._int(parser, "--ubatch", limits.UBATCH)
        parser.add_argument(
            "--swa-full", action="store_true", help="full-size sliding-window cache"
        )
        self._int(parser, "--depth", limits.DEPTH)
        self._int(parser, "--batch", limits.PARALLEL, "sequences decoded together")
        parser.add_argument("--runtime", choices=limits.RUNTIMES, default="llama.cpp")
        hw = parser.add_mutually_exclusive_group()
        hw.add_argument("--gpu", help="a catalog hardware slug (e.g. rtx-4090, apple-m2-ultra)")
        hw.add_argument("--memory-gb", type=float, help="device memory in GiB")
        parser.add_argument("--bandwidth-gbps", type=float, help="memory bandwidth, GB/s")
        parser.add_argument("--tflops", type=float, help="dense FP16 TFLOPS")
        parser.add_argument(
            "--vendor", choices=["nvidia", "amd", "intel", "apple"], default="nvidia"
        )
        parser.add_argument(
            "--backend",
            choices=["cuda", "rocm", "vulkan", "metal", "sycl", "cpu"],
            help="llama.cpp backend (informational; the vendor selects the calibration)",
        )
        self._int(parser, "--gpu-count", limits.GPU_COUNT)
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    @staticmethod
    def _int(parser: CommandParser, flag: str, r: limits.Range, text: str = "") -> None:
        parser.add_argument(
            flag, type=int, default=r.default,
            help=f"{text or r.help} ({r.low}-{r.high}, default {r.default})",
        )  # fmt: skip

    def handle(self, *args: Any, **o: Any) -> None:
        config = self._config(o)
        for name, bounds in RANGES.items():
            if not bounds.low <= o[name] <= bounds.high:
                flag = "--" + name.replace("_", "-")
                raise CommandError(f"{flag} must be between {bounds.low} and {bounds.high}")
        opts = MemoryOptions(
            file_type=o["quant"],
            n_ctx=o["ctx"],
            type_k=o["kv_k"] or o["kv"] or "f16",
            type_v=o["kv_v"] or o["kv"] or "f16",
            flash_attn=o["flash_attn"] == "on",
            n_seq=o["parallel"],
            n_ubatch=o["ubatch"],
            swa_full=o["swa_full"],
        )
        device = self._device(o)
        try:
            report = estimate(
                config, opts, device, depth=o["depth"], batch=o["batch"], runtime=o["runtime"]
            ).as_dict()
        except (ConfigError, KvError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        if o["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        r = report

        def mib(key: str) -> str:
            return f"{r[key] / MIB:,.2f} MiB"

        rows = [
            ("parameters", f"{r['params']:,}"),
            ("weights", f"{mib('weights_bytes')} ({r['bits_per_weight']:.2f} bits/weight)"),
            ("GGUF file", f"{r['file_bytes']:,} bytes"),
            ("KV cache", mib("kv_cache_bytes")),
            ("  full attention", mib("kv_full_bytes")),
            ("  sliding window", mib("kv_swa_bytes")),
            ("  recurrent state", mib("recurrent_state_bytes")),
            ("compute buffer", f"{mib('compute_buffer_bytes')} (approx.)"),
            ("output buffer", mib("output_buffer_bytes")),
            ("total", mib("total_bytes")),
            ("weights by type", ""),
        ]
        rows += [(f"  {t}", f"{b / MIB:,.2f} MiB") for t, b in report["tensor_type_bytes"].items()]
        if "grade" in r:
            rows += [
                ("grade", f"{r['grade']} - {r['grade_reason']}"),
                ("headroom", mib("headroom_bytes")),
                ("max context", f"{r['max_context']:,} tokens"),
                ("GPU layers", f"{r['gpu_layers']} of {r['n_layers']}"),
                (
                    "decode",
                    f"{r['decode_tokens_per_s']} tokens/s per sequence "
                    f"({r['tokens_per_s_low']}-{r['tokens_per_s_high']})",
                ),
                ("aggregate", f"{r['aggregate_tokens_per_s']} tokens/s for {r['batch']}"),
                ("prefill", f"{r['prefill_tokens_per_s'] or 'unknown'} tokens/s"),
                (
                    "time to first token",
                    f"{r['ttft_s'] if r['ttft_s'] is not None else 'unknown'} s",
                ),
            ]
        if "vllm_kv_tokens" in r:
            rows += [
                ("vLLM KV tokens", f"{r['vllm_kv_tokens']:,}"),
                (
                    "vLLM concurrency",
                    f"{r['vllm_max_concurrency']} requests of {opts.n_ctx} tokens",
                ),
            ]
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            self.stdout.write(f"{key:<{width}}  {value}")
        for note in report["notes"]:
            self.stdout.write(self.style.WARNING(note))

    def _device(self, o: dict[str, Any]) -> Device | None:
        if o["gpu"]:
            from catalog.models import Hardware

            hw = Hardware.objects.filter(slug=o["gpu"]).first()
            if hw is None:
                raise CommandError(f"no catalog hardware with slug {o['gpu']!r}")
            return from_hardware(hw, o["gpu_count"])
        if o["memory_gb"] is not None:
            if o["bandwidth_gbps"] is None:
                raise CommandError("--memory-gb needs --bandwidth-gbps")
            if not (0 < o["memory_gb"] <= 100_000 and 0 < o["bandwidth_gbps"] <= 100_000):
                raise CommandError("--memory-gb and --bandwidth-gbps must be positive")
            if o["tflops"] is not None and not 0 < o["tflops"] <= 100_000:
                raise CommandError("--tflops must be positive")
            return from_figures(
                o["memory_gb"], o["bandwidth_gbps"], o["tflops"], o["vendor"], o["gpu_count"]
            )
        return None

    def _config(self, o: dict[str, Any]) -> dict[str, Any]:
        if o["config"]:
            try:
                data = json.loads(o["config"].read_text())
            except (OSError, ValueError, RecursionError) as exc:
                raise CommandError(f"cannot read {o['config']}: {exc}") from None
            if not isinstance(data, dict):
                raise CommandError(f"{o['config']} is not a JSON object")
            try:
                limits.check_config(data)
            except ConfigError as exc:
                raise CommandError(f"{o['config']}: {exc}") from None
            return data
        from catalog.models import Model

        model = Model.objects.filter(slug=o["model"]).first()
        if model is None:
            raise CommandError(f"no catalog model with slug {o['model']!r}")
        return dict(model.config)
