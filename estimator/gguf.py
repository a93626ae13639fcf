"""GGUF file size: header, metadata (tokenizer first of all), tensor infos, aligned tensor data.

The tokenizer is not in config.json, so its metadata size comes from llama.cpp's own vocab files
(models/ggml-vocab-*.gguf, measured with gguf-py) for the vocabularies they cover, and from the
median bytes per vocab entry of a BPE or SentencePiece vocabulary otherwise. That term is the
only approximate one: for an 8B model it is ~0.2 % of the file.
"""

from __future__ import annotations

from estimator.quant import Weights

ALIGNMENT = 32
HEADER = 4 + 4 + 8 + 8  # magic, version, tensor count, metadata count
OTHER_METADATA = 4096  # architecture hyperparameters (~1 KB) and a typical chat template (~3 KB)

# Bytes of the tokenizer.* metadata of llama.cpp's vocab files, by vocab size.
KNOWN_TOKENIZERS = {
    32000: 723_363,  # llama-spm (Llama 2, Mistral 7B v0.1)
    32064: 725_423,  # phi-3
    32256: 1_155_430,  # deepseek-coder
    49152: 1_718_837,  # starcoder
    50257: 1_766_435,  # gpt-2
    65024: 2_287_243,  # falcon
    102400: 3_969_622,  # deepseek-llm
    128256: 7_817_598,  # llama-bpe (Llama 3)
    151936: 5_928_217,  # qwen2 (Qwen 2/2.5/3)
    256000: 10_873_957,  # command-r
}
BPE_BYTES_PER_ENTRY = 39.0  # qwen2 / deepseek-llm / falcon vocab files: 35-39
SPM_BYTES_PER_ENTRY = 22.6  # llama-spm and phi-3 vocab files
SPM_TYPES = {"gemma", "gemma2", "gemma3", "gemma3_text"}


# Measured from published files where llama.cpp ships no vocab file: the file size minus the exact
# tensor layout and the other metadata (ggml-org/gemma-4-E4B-it-GGUF Q4_K_M, 5,335,289,824 bytes;
# ggml-org/gemma-4-E2B-it-GGUF Q8_0 agrees within 128 bytes).
KNOWN_BY_TYPE = {("gemma4", 262144): 15_776_576}


def tokenizer_bytes(model_type: str, vocab: int) -> int:
    """Size of the tokenizer metadata: measured for known vocabularies, estimated otherwise."""
    family = model_type.removesuffix("_text")
    if (family, vocab) in KNOWN_BY_TYPE:
        return KNOWN_BY_TYPE[(family, vocab)]
    if vocab in KNOWN_TOKENIZERS:
        return KNOWN_TOKENIZERS[vocab]
    spm = model_type in SPM_TYPES or (
        model_type in {"llama", "mistral", "mixtral", "phi3"} and vocab <= 32768
    )
    return round(vocab * (SPM_BYTES_PER_ENTRY if spm else BPE_BYTES_PER_ENTRY))


def _pad(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def file_bytes(weights: Weights, model_type: str, vocab: int) -> int:
    """The .gguf file: header, metadata, tensor infos, then each tensor aligned to 32 bytes."""
    infos = sum(
        8 + len(t.tensor.name) + 4 + 8 * len(t.tensor.shape) + 4 + 8 for t in weights.in_file
    )
    head = HEADER + OTHER_METADATA + tokenizer_bytes(model_type, vocab) + infos
    return _pad(head) + sum(_pad(t.bytes) for t in weights.in_file)
