"""Re-record the engine cases of estimator/data/engine_cases/*.json through llama.cpp's converter.

tests/engine/generate.py writes GGUFs from our own tensor inventory; this script does not trust it.
For each case it builds a checkpoint with zeroed weights from the case's config.json alone (the
Hugging Face model class, instantiated on the meta device, names every tensor and shape), converts
it with llama.cpp's own convert_hf_to_gguf.py, quantizes it with llama.cpp's quantizer, loads it on
the CPU backend for each recorded run, and rewrites the case's measured fields: file size, every
tensor's type, tokenizer metadata bytes, and the model / KV / recurrent-state / output / compute
buffer sizes llama.cpp logs. So the converter decides names, shapes and types independently of
estimator/inventory.py, and a disagreement points at our code (or at a converter rule to copy).

Each case in a file says what to build: `config` (usually a real config.json with fewer layers,
the per-layer pattern cut to match), `file_type`, `runs` (n_ctx, kv, flash_attn and optionally
n_seq), and optionally `make`:

- "mtp_layers": N appends next-token-prediction layers, which transformers' model classes do not
  build, in Qwen3.5's layout or, with "mtp_style": "deepseek", in DeepSeek-V3's;
- "unfuse_experts": true writes one tensor per expert, as DeepSeek and GLM checkpoints store them;
- "kv_shared_weights": true adds the K/V weights Gemma 3n / 4 checkpoints keep for layers that
  share an earlier layer's cache.

`load` may say {"use_mmap": false}: the CPU model buffer then holds the loaded tensors only (with
mmap it is the file's span over them, which takes in skipped MTP tensors lying before a loaded
one). The vocabulary is synthetic: exactly vocab_size tokens, so embeddings are real-sized and
`tokenizer_bytes` records the metadata it took.

Not part of `make test` (it needs torch and transformers, and writes files of up to a few GB):

    python3 -m venv /tmp/engine && /tmp/engine/bin/pip install llama-cpp-python==0.3.36 \\
        gguf numpy torch safetensors "transformers>=5.24"
    pip download --no-binary :all: --no-deps llama-cpp-python==0.3.36 -d /tmp/sdist
    tar xzf /tmp/sdist/llama_cpp_python-0.3.36.tar.gz -C /tmp/sdist
    /tmp/engine/bin/python tests/engine/convert_cases.py \\
        --llama-cpp /tmp/sdist/llama_cpp_python-0.3.36/vendor/llama.cpp \\
        estimator/data/engine_cases/qwen.json [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).parent))

# Towers that go to the mmproj file, not the language model's GGUF.
NOT_TEXT = re.compile(
    r"(visual|vision_tower|vision_model|audio_tower|embed_vision|embed_audio|"
    r"multi_modal_projector|(^|\.)mtp\.)"
)

CONVERT = '''
import sys, runpy
src = sys.argv.pop(1)
sys.path[:0] = [src, src + "/gguf-py"]
import gguf, conversion

def synthetic_vocab(self):
    """Exactly vocab_size tokens: real-sized embeddings without the real tokenizer files."""
    n = int(self.find_hparam(["vocab_size"]))
    tokens = [b"<unk>", b"<s>", b"</s>"] + [("<0x%02X>" % i).encode() for i in range(256)]
    tokens += [("\\u2581t%d" % i).encode() for i in range(n - len(tokens))]
    types = [gguf.TokenType.UNKNOWN] + [gguf.TokenType.CONTROL] * 2 + [gguf.TokenType.BYTE] * 256
    types += [gguf.TokenType.NORMAL] * (n - len(types))
    w = self.gguf_writer
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * n)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)

original = conversion.get_model_class
def get_model_class(name, mmproj=False):
    cls = original(name, mmproj)
    cls.set_vocab = synthetic_vocab
    return cls
conversion.get_model_class = get_model_class
sys.argv[0] = src + "/convert_hf_to_gguf.py"
import convert_hf_to_gguf
convert_hf_to_gguf.get_model_class = get_model_class
convert_hf_to_gguf.main()
'''


def checkpoint(config: dict[str, Any], make: dict[str, Any], out: Path) -> None:
    """Zero-filled bf16 safetensors with the checkpoint's tensor names, and its config.json."""
    import torch
    import transformers
    from safetensors.torch import save_file

    cls = getattr(transformers, config["architectures"][0])
    hf_config = cls.config_class.from_dict(config)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("meta"):
        model = cls(hf_config)
    text = config.get("text_config", config)
    tied = config.get("tie_word_embeddings", text.get("tie_word_embeddings", False))
    items = [
        (name, tuple(t.shape), t.dtype)
        for name, t in model.state_dict().items()
        if not NOT_TEXT.search(name) and not (tied and name == "lm_head.weight")
    ]
    items += mtp_layers(text, items, make.get("mtp_layers", 0), make.get("mtp_style", "qwen"))
    if make.get("unfuse_experts"):
        items = unfused(items)
    if make.get("kv_shared_weights"):
        items = with_shared_kv_weights(text, items)
    tensors = {}
    for name, shape, dtype in items:
        dtype = dtype if not dtype.is_floating_point or dtype == torch.float32 else torch.bfloat16
        tensors[name] = torch.zeros(shape, dtype=dtype)
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(config))
    # Gemma's converter trims the embedding to the tokenizer's size: give it exactly vocab_size.
    vocab = {f"t{i}": i for i in range(text["vocab_size"])}
    tokenizer = {"model": {"type": "BPE", "vocab": vocab, "merges": []}, "added_tokens": []}
    (out / "tokenizer.json").write_text(json.dumps(tokenizer))


def mtp_layers(text: dict[str, Any], items: list[Any], n: int, style: str = "qwen") -> list[Any]:
    """Next-token-prediction layers as the released checkpoints store them, which transformers'
    model classes do not build: Qwen3.5's (mtp.layers.N.* shaped like the last full-attention
    layer, mtp.fc and its norms) or DeepSeek-V3's (model.layers.<n_layers + N>.* shaped like the
    last layer, with its own embedding, norms, eh_proj and head)."""
    if not n:
        return []
    import torch

    layers = text["num_hidden_layers"]
    kinds = text.get("layer_types") or ["full_attention"] * layers
    last = max(i for i, kind in enumerate(kinds) if kind == "full_attention")
    prefix = next(name for name, _, _ in items if re.search(rf"layers\.{last}\.", name))
    prefix = prefix[: prefix.index(f"layers.{last}.")] + f"layers.{last}."
    hidden, vocab, bf16 = text["hidden_size"], text["vocab_size"], torch.bfloat16
    extra = []
    for i in range(n):
        target = f"mtp.layers.{i}." if style == "qwen" else f"model.layers.{layers + i}."
        extra += [
            (name.replace(prefix, target), shape, dtype)
            for name, shape, dtype in items
            if name.startswith(prefix)
        ]
        if style == "deepseek":
            extra += [
                (f"{target}embed_tokens.weight", (vocab, hidden), bf16),
                (f"{target}enorm.weight", (hidden,), bf16),
                (f"{target}hnorm.weight", (hidden,), bf16),
                (f"{target}eh_proj.weight", (hidden, 2 * hidden), bf16),
                (f"{target}shared_head.norm.weight", (hidden,), bf16),
                (f"{target}shared_head.head.weight", (vocab, hidden), bf16),
            ]
    if style == "qwen":
        extra.append(("mtp.fc.weight", (hidden, 2 * hidden), bf16))
        for norm in ("pre_fc_norm_embedding", "pre_fc_norm_hidden", "norm"):
            extra.append((f"mtp.{norm}.weight", (hidden,), bf16))
    return extra


def unfused(items: list[Any]) -> list[Any]:
    """One tensor per expert, as DeepSeek / GLM checkpoints store them on disk (transformers
    stacks them in memory: gate_up_proj [E, 2 x ff, H], down_proj [E, H, ff])."""
    out = []
    for name, shape, dtype in items:
        if name.endswith("mlp.experts.gate_up_proj"):
            base, ff = name.removesuffix(".gate_up_proj"), shape[1] // 2
            for e in range(shape[0]):
                out.append((f"{base}.{e}.gate_proj.weight", (ff, shape[2]), dtype))
                out.append((f"{base}.{e}.up_proj.weight", (ff, shape[2]), dtype))
        elif name.endswith("mlp.experts.down_proj"):
            base = name.removesuffix(".down_proj")
            for e in range(shape[0]):
                out.append((f"{base}.{e}.down_proj.weight", (shape[1], shape[2]), dtype))
        else:
            out.append((name, shape, dtype))
    return out


def with_shared_kv_weights(text: dict[str, Any], items: list[Any]) -> list[Any]:
    """The K/V projections and K norm that released Gemma 3n / 4 checkpoints still store for
    layers that share an earlier layer's cache (transformers does not build them; the converter
    writes them): shaped like the last earlier layer of the same kind that has them."""
    kinds = text["layer_types"]
    names = {name for name, _, _ in items}
    prefix = next(n for n in names if ".layers.0." in n).split(".layers.0.")[0] + ".layers."
    parts = ("self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.k_norm.weight")
    by_name = {name: (shape, dtype) for name, shape, dtype in items}
    extra = []
    for i, kind in enumerate(kinds):
        if f"{prefix}{i}.{parts[0]}" in names:
            continue
        source = max(j for j in range(i) if kinds[j] == kind and f"{prefix}{j}.{parts[0]}" in names)
        for part in parts:
            if f"{prefix}{source}.{part}" in by_name:
                extra.append((f"{prefix}{i}.{part}", *by_name[f"{prefix}{source}.{part}"]))
    return items + extra


def tokenizer_bytes(path: Path) -> int:
    import gguf

    fields = gguf.GGUFReader(str(path)).fields.values()
    return sum(sum(p.nbytes for p in f.parts) for f in fields if f.name.startswith("tokenizer."))


def record(case: dict[str, Any], llama_cpp_dir: Path, tmp: Path) -> dict[str, Any]:
    """Build, convert, quantize and load one case; return it with its measured fields."""
    import generate

    ckpt, f16 = tmp / "ckpt", tmp / "model-F16.gguf"
    checkpoint(case["config"], case.get("make", {}), ckpt)
    subprocess.run(
        [sys.executable, "-c", CONVERT, str(llama_cpp_dir), str(ckpt), "--outtype", "f16",
         "--outfile", str(f16)],
        check=True,
    )  # fmt: skip
    shutil.rmtree(ckpt)  # big files go as soon as they are used: a case can take gigabytes
    model = f16
    if case["file_type"] != "F16":
        model = tmp / f"model-{case['file_type']}.gguf"
        generate.quantize(f16, model, case["file_type"])
        f16.unlink()
    runs = []
    for run in case["runs"]:
        sizes = generate.load(
            model,
            run["n_ctx"],
            run["kv"],
            run["flash_attn"],
            run.get("n_seq", 1),
            use_mmap=case.get("load", {}).get("use_mmap", True),
        )
        runs.append({**{k: run[k] for k in run if not k.endswith("_mib")}, **sizes})
    return {
        **case,
        "vocab": "synthetic",
        "tokenizer_bytes": tokenizer_bytes(model),
        "file_bytes": model.stat().st_size,
        "tensor_types": generate.tensor_types(model),
        "runs": runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", type=Path, help="a file of estimator/data/engine_cases/")
    parser.add_argument("--llama-cpp", type=Path, required=True, help="the sdist's llama.cpp")
    parser.add_argument("--only", help="re-record only cases whose name contains this")
    args = parser.parse_args()
    import ctypes

    import generate
    import llama_cpp

    llama_cpp.llama_log_set(generate._log, ctypes.c_void_p())
    llama_cpp.llama_backend_init()
    data = json.loads(args.cases.read_text())
    for i, case in enumerate(data["cases"]):
        if args.only and args.only not in case["name"]:
            continue
        with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/tmp")) as tmp:
            data["cases"][i] = record(case, args.llama_cpp, Path(tmp))
        # Written after every case, so a crash loses one case only.
        args.cases.write_text(json.dumps(data, indent=1) + "\n")
        print(case["name"], case["file_type"], data["cases"][i]["runs"], flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
