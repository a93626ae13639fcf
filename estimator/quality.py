"""What a quantization type costs in quality, as llama.cpp measured it (estimator/data/
quant_quality.toml: KL divergence and perplexity against FP16 on Llama 3 8B), and the rules a
recommendation follows from it:

- Two types whose KL divergences differ by less than the measurement's floor (the divergence
  of F16 itself from the FP16 reference, times two) are the same quality: of those the smaller,
  faster file is the one to use. This is why F16 and BF16 are never recommended where Q8_0 runs
  (KLD 0.0014 against F16's 0.0006, at 53 % of the size), and F32 never at all.
- Below 3 bits per weight quality falls off a cliff (Q2_K: +56 % perplexity, IQ2_XXS: +126 %,
  IQ1_S: +874 %), and a recommendation there says so with the figure.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

_DATA = tomllib.loads((Path(__file__).parent / "data" / "quant_quality.toml").read_text())
MEASURED_ON: str = _DATA["model"]
SOURCE: str = _DATA["source"]
PPL_F16: float = _DATA["ppl_f16"]
CLIFF_BPW = 3.0  # below this many bits per weight, a warning with the measured loss


@dataclass(frozen=True)
class Quality:
    quant: str
    kld: float  # mean KL divergence of the token probabilities from FP16
    ppl: float  # Wikitext-2 perplexity (FP16: PPL_F16)
    imatrix: str  # the importance matrix it was quantized with, "none" without

    @property
    def ppl_increase(self) -> float:
        """Perplexity over FP16's, as a fraction (0.028 = +2.8 %)."""
        return self.ppl / PPL_F16 - 1

    @property
    def ppl_text(self) -> str:
        pct = 100 * self.ppl_increase
        return f"+{pct:.1f} % perplexity" if pct >= 0.05 else "±0 % perplexity"


QUALITY: dict[str, Quality] = {
    quant: Quality(quant, row["kld"], row["ppl"], row["imatrix"])
    for quant, row in _DATA["types"].items()
}
SAME_QUALITY_KLD = 2 * QUALITY["F16"].kld


def of(quant: str) -> Quality | None:
    """The measured quality of a type; BF16 as F16 (both 16-bit, the FP16 reference's
    precision); None when llama.cpp's table has no row for it."""
    return QUALITY.get("F16" if quant == "BF16" else quant)


def same_quality(a: str, b: str) -> bool:
    qa, qb = of(a), of(b)
    return qa is not None and qb is not None and abs(qa.kld - qb.kld) < SAME_QUALITY_KLD


def cliff(quant: str, bits_per_weight: float) -> str:
    """A warning for a type below CLIFF_BPW bits per weight, with its measured loss; empty
    above it."""
    if bits_per_weight >= CLIFF_BPW:
        return ""
    q = of(quant)
    loss = f" ({q.ppl_text} on {MEASURED_ON}, KLD {q.kld:.3f})" if q else ""
    return (
        f"Below {CLIFF_BPW:g} bits per weight quality falls off a cliff: {quant} at "
        f"{bits_per_weight:.2f} bits{loss}. A smaller model at 4 bits or more is usually better."
    )
