"""The plan (estimator/plan.py): llama.cpp's placement of a model on a machine, whether it fits,
and its speed. gpt-oss-120b (MXFP4_MOE: 59.6 GiB with its cache and buffers at -c 4096) is the
model people run with its experts in system RAM."""

from __future__ import annotations

from estimator.devices import from_figures
from estimator.machine import FIT_MARGIN, Machine, machine_for
from estimator.memory import MemoryOptions, config_key
from estimator.placement import CPU
from estimator.plan import Plan, make_plan
from estimator.units import GIB
from tests.estimator.test_inventory import LLAMA_31_8B
from tests.estimator.test_placement import catalog_config, moe_ot

GPT_OSS_120B = config_key(catalog_config("openai", "openai/gpt-oss-120b"))
RTX_4090 = from_figures(24, 1008.0, 165.2, "nvidia")
OPTS = MemoryOptions(file_type="MXFP4_MOE", n_ctx=4096)


def desktop(ram_gib: int = 64) -> Machine:
    """One RTX 4090 (1 GiB in use by the desktop) beside DDR5-6000 in dual channel."""
    return machine_for(RTX_4090, ram_bytes=ram_gib * GIB, ram_bandwidth_gbps=96.0)


def plan(
    machine: Machine | None = None,
    opts: MemoryOptions = OPTS,
    *,
    ngl: int | None = None,
    n_cpu_moe: int | None = None,
) -> Plan:
    """gpt-oss-120b on `machine` (the desktop by default)."""
    return make_plan(GPT_OSS_120B, opts, machine or desktop(), ngl=ngl, n_cpu_moe=n_cpu_moe)


def test_gpt_oss_120b_on_a_4090_keeps_the_experts_of_24_layers_in_ram() -> None:
    """23 GiB free, 22 GiB to fill: layers 0-11 whole, layer 12's attention (its router and
    every FFN tensor in RAM), the experts of layers 13-35 in RAM (and fit.cpp's no-op override
    of the output layer, blk.36)."""
    p = plan()
    assert p.fits and not p.forced
    assert p.free == (23 * GIB,)
    assert p.layout.args() == (
        r'-c 4096 -ngl 37 -ot "blk\.12\.ffn_(gate|up|gate_up|down).*=CPU,' + moe_ot(13, 36) + '"'
    )
    assert p.expert_layers_on_cpu == 24 and not p.on_gpu
    assert p.layout.devices[0].total == 23461380352  # 22374.3 MiB
    assert p.layout.devices[0].total <= p.free[0] - FIT_MARGIN
    assert p.host_bytes == 41349150208  # 38.5 GiB: the experts, the embedding, buffers
    assert p.decode_tokens_per_s is not None
    assert round(p.decode_tokens_per_s, 3) == 29.542
    # ~24 x 4/128 of the experts read from RAM at ~96 GB/s, the rest from the GPU at 1008 GB/s
    assert 20 < p.decode_tokens_per_s < 60


def test_prefill_rises_with_the_ubatch_as_the_host_weights_cross_pcie_once_per_ubatch() -> None:
    small = plan()
    large = plan(opts=MemoryOptions(file_type="MXFP4_MOE", n_ctx=4096, n_ubatch=2048))
    assert small.prefill_tokens_per_s is not None and large.prefill_tokens_per_s is not None
    assert round(small.prefill_tokens_per_s, 2) == 287.04
    assert round(large.prefill_tokens_per_s, 2) == 1051.38
    # -ub 2048 needs a larger compute buffer: one more layer's experts go to RAM.
    assert large.expert_layers_on_cpu == 25 and large.fits


def test_32_gib_of_ram_is_too_little_for_the_experts() -> None:
    """The same placement needs 38.5 GiB of RAM; 32 GiB less the 4 GiB the system keeps is 28."""
    p = plan(desktop(ram_gib=32))
    assert not p.fits
    assert p.missing_vram == 0
    assert p.missing_ram == 41349150208 - 28 * GIB == 11284379136
    assert p.decode_tokens_per_s is None and p.prefill_tokens_per_s is None


def test_forcing_more_experts_into_ram_is_slower() -> None:
    """--n-cpu-moe N keeps the experts of layers 0..N-1 in RAM, every layer otherwise on the GPU."""
    thirty, all_36 = plan(n_cpu_moe=30), plan(n_cpu_moe=36)
    assert thirty.forced and thirty.fits and all_36.fits
    assert thirty.layout.args().startswith(r'-c 4096 -ngl -1 -ot "blk\.0\.ffn_')
    assert (thirty.expert_layers_on_cpu, all_36.expert_layers_on_cpu) == (30, 36)
    assert thirty.decode_tokens_per_s is not None and all_36.decode_tokens_per_s is not None
    assert round(thirty.decode_tokens_per_s, 3) == 24.65
    assert round(all_36.decode_tokens_per_s, 3) == 21.135
    twenty = plan(n_cpu_moe=20)  # 16 layers' experts on the GPU: 28846 MiB of 23552
    assert not twenty.fits and twenty.missing_vram == 5551244032


def test_forcing_ngl_offloads_the_last_layers_and_the_output() -> None:
    """-ngl 10: layers 27-35 and the output layer on the GPU, whole; 27 layers on the CPU."""
    p = plan(ngl=10)
    assert p.fits and p.forced and p.layout.args() == "-c 4096 -ngl 10"
    assert p.layout.layer_device == (CPU,) * 27 + (0,) * 10
    assert (p.layout.devices[0].layers, p.layout.host.layers) == (9, 27)
    assert p.decode_tokens_per_s is not None and round(p.decode_tokens_per_s, 3) == 21.283


def test_a_cpu_only_machine_runs_everything_from_ram() -> None:
    """60 GiB of the 64 GiB are usable: the 59.6 GiB (weights, cache, buffers) just fit."""
    for machine in (
        machine_for(None, ram_bytes=64 * GIB, ram_bandwidth_gbps=96.0),
        machine_for(RTX_4090, 0, ram_bytes=64 * GIB, ram_bandwidth_gbps=96.0),
    ):
        p = plan(machine)
        assert machine.gpu_count == 0 and p.fits
        assert p.layout.devices == () and p.free == ()
        assert (p.layout.n_ctx, p.layout.ngl, p.layout.overrides) == (4096, -1, ())
        assert p.layout.host.layers == 36 and p.host_bytes == 63978059520
        assert p.decode_tokens_per_s is not None and round(p.decode_tokens_per_s, 2) == 13.99
        assert p.prefill_tokens_per_s is not None and round(p.prefill_tokens_per_s, 2) == 88.61
    too_small = plan(machine_for(None, ram_bytes=60 * GIB, ram_bandwidth_gbps=96.0))
    assert not too_small.fits and too_small.missing_ram == 63978059520 - 56 * GIB


def test_an_apple_machine_keeps_what_exceeds_the_wired_limit_with_the_cpu() -> None:
    """64 GB Mac: Metal may wire 3/4 of it, 48 GiB; the 59.6 GiB model leaves the experts of layers
    28 (but its up projection) to 35 to the CPU, in the same RAM. Raising the limit to 56 GiB
    (`sysctl iogpu.wired_limit_mb`) keeps all but 3 on the GPU, which is faster."""
    mac = from_figures(64, 400.0, None, "apple")
    default = plan(machine_for(mac))
    assert default.free == (48 * GIB,)
    assert default.fits and default.expert_layers_on_cpu == 8
    assert default.layout.args().startswith(
        r'-c 4096 -ngl 37 -ot "blk\.28\.ffn_(gate|gate_up|down)'
    )
    assert default.layout.devices[0].total <= 47 * GIB
    # One pool: what the GPU holds and what the CPU holds both come out of 60 GiB.
    assert default.layout.devices[0].total + default.host_bytes <= 60 * GIB
    raised = plan(machine_for(mac, gpu_limit_bytes=56 * GIB))
    assert raised.expert_layers_on_cpu == 3
    assert default.decode_tokens_per_s is not None and raised.decode_tokens_per_s is not None
    assert round(default.decode_tokens_per_s, 2) == 54.06
    assert round(raised.decode_tokens_per_s, 2) == 58.11
    assert default.prefill_tokens_per_s is None  # no FP16 peak for this device
    small = plan(machine_for(from_figures(48, 400.0, None, "apple")))
    assert not small.fits and small.missing_ram == 16749410048


LLAMA_8K = config_key(dict(LLAMA_31_8B, max_position_embeddings=8192))
H100 = machine_for(from_figures(80, 3350.0, 989.5, "nvidia"))


def test_an_unset_context_with_four_sequences_is_four_trained_contexts() -> None:
    p = make_plan(LLAMA_8K, MemoryOptions(n_seq=4), H100, auto_ctx=True)
    assert p.layout.args() == "-c 32768 -ngl -1"


def test_an_unset_context_is_the_trained_one_with_a_forced_ngl_too() -> None:
    p = make_plan(LLAMA_8K, MemoryOptions(), H100, ngl=33, auto_ctx=True)
    assert p.layout.args() == "-c 8192 -ngl 33"


def test_an_unset_context_is_the_trained_one() -> None:
    p = make_plan(LLAMA_8K, MemoryOptions(), H100, auto_ctx=True)
    assert (p.layout.args(), p.notes) == ("-c 8192 -ngl -1", ("no changes needed",))
    assert p.layout.devices[0].context == 8192 * 32 * 2 * 8 * 128 * 2
