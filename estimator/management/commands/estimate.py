from __future__ import annotations

import json
import math
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from estimator import limits
from estimator.config import ConfigError
from estimator.devices import from_figures, from_hardware
from estimator.estimate import estimate
from estimator.finetune import ALL_LINEAR, TARGET_NAMES, Recipe, finetune_report
from estimator.kv import KvError
from estimator.machine import (
    DEFAULT_RAM_BYTES,
    DEFAULT_RAM_PRESET,
    RAM_PRESETS,
    RESERVED_BY_SEGMENT,
    Machine,
)
from estimator.machine_options import MachineOptionError, machine_from_options
from estimator.memory import MemoryOptions
from estimator.recommend import recommended
from estimator.report import serving_report
from estimator.serving import Target, point, serve
from estimator.throughput import BACKENDS, Device
from estimator.units import GIB, MIB

RANGES = {
    "ctx": limits.CONTEXT,
    "parallel": limits.PARALLEL,
    "ubatch": limits.UBATCH,
    "depth": limits.DEPTH,
    "batch": limits.PARALLEL,
    "gpu_count": limits.GPU_COUNT,
}
# Serving to a target (estimator.serving): bounds as /api/v1/serve/ takes them.
TARGETS = {"target_tps_per_user": (0.1, 1000.0), "target_ttft_s": (0.05, 600.0)}


def flag(name: str) -> str:
    """An option's name (as the API spells it) as this command's flag."""
    return "--" + name.replace("_", "-")


class Command(BaseCommand):
    help = (
        "Estimate what llama.cpp allocates for a model: weights (per-tensor quant types as "
        "llama-quantize picks them), GGUF file size, KV cache (full, sliding-window, recurrent), "
        "compute and output buffers; with a GPU (or --gpu-count 0: a CPU-only machine), the "
        "fit, speed and llama.cpp's placement on the machine (GPU(s) + system RAM). Sizes in "
        "bytes with --json, MiB in the table; memory options in GiB (2^30 bytes), bandwidth "
        "in GB/s (10^9 bytes/s)."
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
        parser.add_argument(
            "--flash-attn", choices=["on", "off"], default="on", help="flash attention (default on)"
        )
        self._int(parser, "--parallel", limits.PARALLEL)
        self._int(parser, "--ubatch", limits.UBATCH)
        parser.add_argument(
            "--swa-full", action="store_true", help="full-size sliding-window cache"
        )
        self._int(parser, "--depth", limits.DEPTH)
        self._int(parser, "--batch", limits.PARALLEL, "sequences decoded together")
        parser.add_argument(
            "--runtime", choices=limits.RUNTIMES, default="llama.cpp",
            help="llama.cpp (default), or vllm to add vLLM's paged-cache view",
        )  # fmt: skip
        hw = parser.add_mutually_exclusive_group()
        hw.add_argument("--gpu", help="a catalog hardware slug (e.g. rtx-4090, apple-m2-ultra)")
        hw.add_argument("--memory-gb", type=float, help="device memory in GiB")
        parser.add_argument("--bandwidth-gbps", type=float, help="memory bandwidth, GB/s")
        parser.add_argument("--tflops", type=float, help="dense FP16 TFLOPS")
        parser.add_argument(
            "--vendor", choices=["nvidia", "amd", "intel", "apple"], default="nvidia",
            help="vendor of the --memory-gb device (default nvidia; apple: unified memory)",
        )  # fmt: skip
        parser.add_argument(
            "--backend",
            choices=["cuda", "rocm", "vulkan", "metal", "sycl", "cpu"],
            help="llama.cpp backend the speeds follow (its own constants and bands): cuda or "
            "vulkan on NVIDIA, rocm or vulkan on AMD, sycl or vulkan on Intel, metal on Apple; "
            "default the first",
        )
        self._int(parser, "--gpu-count", limits.GPU_COUNT)
        self._machine_arguments(parser)
        self._serving_arguments(parser)
        self._finetune_arguments(parser)
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    @staticmethod
    def _machine_arguments(parser: CommandParser) -> None:
        """The machine around the GPU(s) (estimator/machine_options.py says which apply where)."""
        machine = parser.add_argument_group("machine (GPU(s) + system RAM)")
        default_ram = DEFAULT_RAM_BYTES // GIB
        machine.add_argument(
            "--ram-gb", type=int, metavar="GIB",
            help=f"system RAM in GiB ({limits.RAM_GB.low}-{limits.RAM_GB.high}; default "
            f"{default_ram}; Apple, CPU-class, unified-memory devices and --unified: their own)",
        )  # fmt: skip
        bandwidth = machine.add_mutually_exclusive_group()
        bandwidth.add_argument(
            "--ram-bandwidth-gbps", type=float, metavar="GBPS",
            help=f"system RAM bandwidth in GB/s ({limits.RAM_BANDWIDTH.low:g}-"
            f"{limits.RAM_BANDWIDTH.high:g}; default {RAM_PRESETS[DEFAULT_RAM_PRESET][1]:g}, "
            f"{DEFAULT_RAM_PRESET}; CPU-class, unified and --unified: the device's own; not for "
            "Apple)",
        )  # fmt: skip
        bandwidth.add_argument(
            "--ram-preset", choices=list(RAM_PRESETS), metavar="KIT",
            help="system RAM kit, sets the bandwidth: "
            + "; ".join(f"{k} {gbps:g} GB/s" for k, (_, gbps) in RAM_PRESETS.items()),
        )  # fmt: skip
        segments = ", ".join(f"{k} {v / GIB:g}" for k, v in RESERVED_BY_SEGMENT.items())
        machine.add_argument(
            "--reserved-gb", type=float, metavar="GIB",
            help=f"GPU memory already in use per GPU, GiB ({limits.RESERVED_GB.low:g}-"
            f"{limits.RESERVED_GB.high:g}; default by device class: {segments}; Apple and "
            "--unified 0)",
        )  # fmt: skip
        machine.add_argument(
            "--gpu-limit-gb", type=float, metavar="GIB",
            help=f"unified memory the GPU may use, GiB ({limits.GPU_LIMIT_GB.low:g}-"
            f"{limits.GPU_LIMIT_GB.high:g}; default: Apple, macOS's wired limit, 2/3 of RAM up "
            "to 36 GB and 3/4 above; unified, the RAM); Apple, unified-memory devices and "
            "--unified only",
        )  # fmt: skip
        machine.add_argument(
            "--unified", action="store_true",
            help="the GPU uses system memory, as in a DGX Spark- or Strix Halo-class machine "
            "(Apple and the catalog's unified-memory devices always do): one GPU whose RAM is "
            "--ram-gb, default its --memory-gb",
        )  # fmt: skip
        machine.add_argument(
            "--ngl", type=int,
            help=f"force llama.cpp's -ngl, the layers on the GPU(s), the output layer counted as "
            f"one ({limits.NGL.low}-{limits.NGL.high}; default: llama.cpp's own --fit decides)",
        )  # fmt: skip
        machine.add_argument(
            "--n-cpu-moe", type=int, metavar="N",
            help=f"force llama.cpp's --n-cpu-moe: MoE experts of the first N layers in RAM "
            f"({limits.N_CPU_MOE.low}-{limits.N_CPU_MOE.high}; default: llama.cpp's own --fit)",
        )  # fmt: skip
        machine.add_argument(
            "--mmproj", choices=limits.MMPROJ, default="none",
            help="multimodal projector loaded beside the model, llama.cpp --mmproj (default "
            "none)",
        )  # fmt: skip

    @staticmethod
    def _serving_arguments(parser: CommandParser) -> None:
        """Serving to a target: how many users the device serves at a speed (estimator.serving)."""
        serving = parser.add_argument_group(
            "serving to a target (needs --gpu or --memory-gb; each user's context is --ctx / "
            "--parallel, as llama-server splits -c over its slots)"
        )
        serving.add_argument(
            "--prompt-tokens", type=int, metavar="N",
            help=f"the prompt whose time to first token ttft_s gives (1 to a user's context; "
            f"default: --depth, else half of --ctx); also the prompt of --target-ttft-s "
            f"(default {Target.prompt_tokens:,})",
        )  # fmt: skip
        serving.add_argument(
            "--target-tps-per-user", type=float, metavar="TPS",
            help="decode tokens/s every user must see (0.1-1000): adds max_users_at_target, "
            "the most users served at it with their aggregate and per-user tokens/s, time to "
            "first token and what stopped more users (memory, speed, ttft, max users)",
        )  # fmt: skip
        serving.add_argument(
            "--target-ttft-s", type=float, metavar="S",
            help="seconds to the first token for a prompt of --prompt-tokens that every new "
            "user must see (0.05-600); adds max_users_at_target too (without "
            "--target-tps-per-user, any speed)",
        )  # fmt: skip

    @staticmethod
    def _finetune_arguments(parser: CommandParser) -> None:
        """Fine-tuning memory per GPU (estimator/finetune.py): adds `finetune` to the JSON."""
        ft = parser.add_argument_group(
            "fine-tuning (PyTorch on NVIDIA/AMD GPUs, Hugging Face + PEFT defaults; over "
            "--gpu-count GPUs with FSDP)"
        )
        ft.add_argument(
            "--finetune", choices=limits.FINETUNE,
            help="LoRA (BF16 base), QLoRA (NF4 base) or full fine-tuning (BF16 weights and "
            "gradients, FP32 master weights and AdamW moments): adds `finetune`, bytes per GPU",
        )  # fmt: skip
        for name, r in (("--lora-rank", limits.LORA_RANK), ("--seq-len", limits.SEQ_LEN),
                        ("--micro-batch", limits.MICRO_BATCH)):  # fmt: skip
            ft.add_argument(
                name, type=int, metavar="N",
                help=f"{r.help} ({r.low}-{r.high:,}, default {r.default})",
            )  # fmt: skip
        ft.add_argument(
            "--lora-targets", metavar="LIST",
            help=f"matrices LoRA adapts: {ALL_LINEAR} (default) or a comma list of "
            f"{', '.join(TARGET_NAMES)}",
        )  # fmt: skip
        ft.add_argument(
            "--grad-checkpointing", choices=("on", "off"),
            help="recompute each block's activations in the backward pass (default on)",
        )  # fmt: skip
        ft.add_argument(
            "--optimizer", choices=limits.FT_OPTIMIZERS,
            help="AdamW with FP32 moments (default) or bitsandbytes' 8-bit AdamW",
        )  # fmt: skip

    @staticmethod
    def _finetune_rows(ft: dict[str, Any]) -> list[tuple[str, str]]:
        per = f" per GPU, {ft['n_gpus']} GPUs ({ft['sharding']})" if ft["n_gpus"] > 1 else ""
        rows = [(f"fine-tune ({ft['method']})", f"{ft['total_bytes'] / MIB:,.2f} MiB{per}")]
        rows += [
            (f"  {part}", f"{ft[f'{part}_bytes'] / MIB:,.2f} MiB")
            for part in ("weights", "adapter", "gradient", "optimizer", "activation")
        ]
        if "fit_status" in ft:
            rows.append(("  fit", f"{ft['fit_status']} - {ft['fit_reason']}"))
        return rows

    def _finetune(
        self, config: dict[str, Any], device: Device | None, o: dict[str, Any]
    ) -> dict[str, Any]:
        """{"finetune": ...} with --finetune; its other flags alone are an error."""
        names = ("lora_rank", "seq_len", "micro_batch", "lora_targets", "grad_checkpointing",
                 "optimizer")  # fmt: skip
        if o["finetune"] is None:
            given = [flag(n) for n in names if o[n] is not None]
            if given:
                verb = "need" if len(given) > 1 else "needs"
                raise CommandError(f"{', '.join(given)} {verb} --finetune")
            return {}
        bounds = {"lora_rank": limits.LORA_RANK, "seq_len": limits.SEQ_LEN,
                  "micro_batch": limits.MICRO_BATCH}  # fmt: skip
        for name, r in bounds.items():
            if o[name] is not None and not r.low <= o[name] <= r.high:
                raise CommandError(f"{flag(name)} must be between {r.low} and {r.high}")
        recipe = Recipe(
            method=o["finetune"],
            lora_rank=o["lora_rank"] or limits.LORA_RANK.default,
            targets=o["lora_targets"] or ALL_LINEAR,
            seq_len=o["seq_len"] or limits.SEQ_LEN.default,
            micro_batch=o["micro_batch"] or limits.MICRO_BATCH.default,
            grad_checkpointing=o["grad_checkpointing"] != "off",
            optimizer=o["optimizer"] or "adamw",
            n_gpus=max(o["gpu_count"], 1),
        )
        try:
            return {"finetune": finetune_report(config, recipe, device)}
        except ValueError as exc:
            raise CommandError(f"--lora-targets: {exc}") from None

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
                raise CommandError(f"{flag(name)} must be between {bounds.low} and {bounds.high}")
        opts = MemoryOptions(
            file_type=o["quant"],
            n_ctx=o["ctx"],
            type_k=o["kv_k"] or o["kv"] or "f16",
            type_v=o["kv_v"] or o["kv"] or "f16",
            flash_attn=o["flash_attn"] == "on",
            n_seq=o["parallel"],
            n_ubatch=o["ubatch"],
            swa_full=o["swa_full"],
            mmproj=o["mmproj"],
        )
        device = self._device(o)
        try:
            machine = machine_from_options(
                device, o["gpu_count"], ram_gb=o["ram_gb"],
                ram_bandwidth_gbps=o["ram_bandwidth_gbps"], ram_preset=o["ram_preset"],
                reserved_gb=o["reserved_gb"], gpu_limit_gb=o["gpu_limit_gb"],
                unified=o["unified"], ngl=o["ngl"], n_cpu_moe=o["n_cpu_moe"], spell=flag,
            )  # fmt: skip
        except MachineOptionError as exc:
            raise CommandError(str(exc)) from None
        try:
            report = estimate(
                config, opts, device, depth=o["depth"], batch=o["batch"], runtime=o["runtime"],
                machine=machine, ngl=o["ngl"], n_cpu_moe=o["n_cpu_moe"],
            ).as_dict()  # fmt: skip
        except (ConfigError, KvError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        report.update(self._serving(config, opts, device, machine, report, o))
        report.update(recommended(config, opts, device, machine))
        report.update(self._finetune(config, device, o))
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
        if "recommended_quant" in r:
            rows.append(("recommended quant", r["recommendation"]))
        if r.get("max_users_at_target"):
            rows += self._serving_rows(r["max_users_at_target"])
        if r.get("plan"):
            rows += self._plan_rows(r["plan"])
        if "finetune" in r:
            rows += self._finetune_rows(r["finetune"])
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

    def _serving(
        self,
        config: dict[str, Any],
        opts: MemoryOptions,
        device: Device | None,
        machine: Machine | None,
        report: dict[str, Any],
        o: dict[str, Any],
    ) -> dict[str, Any]:
        """ttft_s for --prompt-tokens, and max_users_at_target with a target; {} without."""
        prompt, tps, ttft = o["prompt_tokens"], o["target_tps_per_user"], o["target_ttft_s"]
        if prompt is None and tps is None and ttft is None:
            return {}
        if device is None and not (machine is not None and machine.cpu_only):
            raise CommandError(
                "--prompt-tokens, --target-tps-per-user and --target-ttft-s need a device "
                "(--gpu or --memory-gb)"
            )
        for name, (low, high) in TARGETS.items():
            value = o[name]
            if value is not None and not (math.isfinite(value) and low <= value <= high):
                raise CommandError(
                    f"{flag(name)}: must be between {low:g} and {high:g}, not {value}"
                )
        ctx = max(opts.n_ctx // opts.n_seq, 1)
        if prompt is not None and not 1 <= prompt <= ctx:
            raise CommandError(f"--prompt-tokens: must be between 1 and a user's context, {ctx:,}")
        if machine is not None and machine.cpu_only:  # as estimate() sees a CPU-only machine
            device = machine.cpu
        assert device is not None
        target = Target(tps or 0.0, ttft, prompt or Target.prompt_tokens)
        out: dict[str, Any] = {}
        if prompt is not None:
            out["ttft_s"] = self._ttft(config, opts, device, report, prompt, ctx, o["runtime"])
        if tps is not None or ttft is not None:
            serving = serve(config, opts, device, target, ctx=ctx, runtime=o["runtime"])
            out["max_users_at_target"] = asdict(serving_report(serving, target, ctx))
        return out

    @staticmethod
    def _ttft(
        config: dict[str, Any],
        opts: MemoryOptions,
        device: Device,
        report: dict[str, Any],
        prompt: int,
        ctx: int,
        runtime: str,
    ) -> float | None:
        """Seconds to the first token for `prompt` tokens: estimator.serving's, with the whole
        model on the GPU(s); at the plan's prefill speed when part of it stays in RAM."""
        if report["fit_status"] in ("fits", "tight"):
            ttft = point(config, opts, device, users=1, ctx=ctx, prompt_tokens=prompt,
                         runtime=runtime).ttft_s  # fmt: skip
        else:
            prefill = report["prefill_tokens_per_s"]
            ttft = prompt / prefill if prefill else None
        return None if ttft is None else round(ttft, 3)

    @staticmethod
    def _serving_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
        """The most users served at the target, and what stopped more."""
        target = f"{s['target_tokens_per_s']:g} tokens/s each" if s["target_tokens_per_s"] else ""
        if s["target_ttft_s"] is not None:
            target += (", " if target else "") + (
                f"first token within {s['target_ttft_s']:g} s for {s['prompt_tokens']:,} tokens"
            )
        if not s["users"]:
            served = f"none (stopped by {s['limit']}; {s['users_that_fit']} fit in memory)"
        else:
            ttft = "unknown" if s["ttft_s"] is None else f"{s['ttft_s']} s"
            served = (
                f"{s['users']} of {s['ctx_per_user']:,} tokens: {s['aggregate_tokens_per_s']} "
                f"tokens/s in all, {s['per_user_tokens_per_s']} each, first token {ttft} "
                f"(stopped by {s['limit']})"
            )
        return [("target", target), ("users at target", served)]

    @staticmethod
    def _plan_rows(plan: dict[str, Any]) -> list[tuple[str, str]]:
        """llama.cpp's placement on the machine: its arguments and what each memory holds."""
        machine = f"{plan['ram_bytes'] / GIB:,.0f} GiB RAM at {plan['ram_bandwidth_gbps']:g} GB/s"
        if plan["unified"]:
            machine += ", unified with the GPU"
        rows = [
            ("machine", machine),
            ("llama.cpp", plan["args"] + (" (forced)" if plan["forced"] else "")),
        ]
        for d in plan["devices"]:
            rows.append((
                f"  {d['name']}",
                f"{d['model_bytes'] / MIB:,.2f} MiB weights + {d['context_bytes'] / MIB:,.2f} "
                f"MiB cache + {d['compute_bytes'] / MIB:,.2f} MiB compute of "
                f"{d['free_bytes'] / MIB:,.2f} MiB free",
            ))  # fmt: skip
        rows.append(("  system RAM", f"{plan['host_bytes'] / MIB:,.2f} MiB"))
        missing = [
            f"{plan[key] / MIB:,.2f} MiB more {what}"
            for key, what in (("missing_vram_bytes", "GPU memory"), ("missing_ram_bytes", "RAM"))
            if plan[key]
        ]
        rows.append(("plan fits", "yes" if plan["fits"] else "no: needs " + " and ".join(missing)))
        return rows

    def _device(self, o: dict[str, Any]) -> Device | None:
        device = self._named_device(o)
        if device is None or not o["backend"]:
            return device
        name = {b.lower(): b for b in (*limits.GPU_BACKENDS, "CPU")}[o["backend"]]
        allowed = BACKENDS.get(device.device_class, ())
        if name not in allowed:
            raise CommandError(f"--backend: this device runs {' or '.join(allowed)}, not {name}")
        return replace(device, backend=name)

    def _named_device(self, o: dict[str, Any]) -> Device | None:
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
