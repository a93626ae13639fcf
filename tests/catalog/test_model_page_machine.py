"""The model page on the user's machine: the machine's fields in the page's GET form and its
state, the plan panel (llama.cpp's placement on GPU and RAM), the command that reproduces it,
and the devices, FAQ and serving figures that follow from the same machine."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client

from catalog.machine_state import MachineState
from catalog.model_page.state import read_state
from catalog.snapshot import Brief, snapshot
from estimator.machine import FIT_MARGIN, Machine, machine_for
from estimator.memory import MemoryOptions, config_key
from estimator.plan import Plan, make_plan
from estimator.units import GIB, gib, tps

pytestmark = pytest.mark.django_db
GPT_OSS = "/models/gpt-oss-120b/?quant=MXFP4_MOE"
LLAMA = "/models/llama-3-1-8b-instruct/"
# The page state's query with every default (links start with it).
DEFAULTS = "ctx=8192&kv=f16&fa=on&users=1&gpu=rtx-4090&gpu_count=1&runtime=llama.cpp"
# gpt-oss-120b MXFP4_MOE at 8K on an RTX 4090 with 64 GiB of DDR5-6000 (the defaults).
COMMAND = (
    "llama-server -hf ggml-org/gpt-oss-120b-GGUF:MXFP4_MOE -c 8192 -fa on -ngl 37 --n-cpu-moe 24"
)


def section(html: str, name: str) -> str:
    start = html.index(f'<section id="panel-{name}"')
    return html[start : html.index("</section>", start)]


def text(html: str) -> str:
    """What a reader sees: inline tags dropped, others a space apart."""
    inline = re.sub(r"</?(?:code|strong|small|a|span|sup|abbr|em)\b[^>]*>", "", html)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", inline))).strip()


def hx(trigger: str) -> dict[str, str]:
    return {"HX-Request": "true", "HX-Trigger-Name": trigger, "HX-Target": "live-summary"}


def defaults(html: str) -> str:
    """The machine's defaults as the page states them beside the form."""
    found = re.search(r'<p id="machine-defaults" class="src"[^>]*>(.*?)</p>', html, re.S)
    assert found
    return unescape(found.group(1))


def panel_ids(html: str) -> list[str]:
    return re.findall(r'<section id="panel-(\w+)"', html)


def gpt_oss_key() -> str:
    from catalog.models import Model

    return config_key(Model.objects.get(slug="gpt-oss-120b").estimator_config)


def gpt_oss_plan(ram_gib: int = 64, ub: int = 512) -> tuple[Plan, Machine]:
    """The plan the page shows, made directly: the page's device (with its calibration) in a
    machine with this RAM at DDR5-6000 dual channel."""
    snap, _ = snapshot()
    machine = machine_for(snap.single["rtx-4090"], 1, ram_bytes=ram_gib * GIB,
                          ram_bandwidth_gbps=96.0)  # fmt: skip
    opts = MemoryOptions(file_type="MXFP4_MOE", n_ctx=8192, n_ubatch=ub)
    return make_plan(gpt_oss_key(), opts, machine), machine


# --- state -------------------------------------------------------------------------------


def brief() -> tuple[Brief, list[str]]:
    snap, _ = snapshot()
    return snap.models["gpt-oss-120b"], list(snap.by_slug)


def test_the_machine_defaults_to_64_gib_of_ddr5_6000_and_llama_cpps_own_fit() -> None:
    model, gpus = brief()
    state = read_state({}, model, gpus)
    assert state.computer == MachineState()
    assert (state.computer.ram, state.computer.ram_type, state.computer.ub) == (
        64,
        "ddr5-6000-2ch",
        512,
    )
    assert state.computer.ngl is None and state.computer.ncmoe is None
    assert state.query() == f"quant=Q4_K_M&{DEFAULTS}"


def test_the_query_keeps_the_machine_values_that_differ_from_the_defaults() -> None:
    model, gpus = brief()
    state = read_state(
        {"ram": "32", "ram_type": "custom", "ram_gbps": "120.5", "reserved": "1.5", "ub": "2048",
         "ngl": "20", "ncmoe": "8", "wired": ""},
        model, gpus,
    )  # fmt: skip
    assert state.notes == ()
    assert state.query().endswith(
        "runtime=llama.cpp&ram=32&ram_type=custom&ram_gbps=120.5&reserved=1.5&ngl=20&ncmoe=8"
        "&ub=2048"
    )
    assert "ram=" not in read_state({"ram": "64", "ub": "512"}, model, gpus).query()


def test_the_machine_is_read_beside_the_page_state_and_its_notes_merged() -> None:
    model, gpus = brief()
    state = read_state({"users": "0", "ram": "0"}, model, gpus)
    assert state.notes == (
        "Users 0 is out of range (1 to 256); using 1.",
        "System RAM (GiB) 0 is out of range (1 to 6144); using 1.",
    )
    assert state.computer.ram == 1


@pytest.mark.parametrize(
    ("query", "note", "shown"),
    [
        ("ram=0", "System RAM (GiB) 0 is out of range (1 to 6144); using 1.",
         '<option value="1" selected>1 GiB</option>'),
        ("ram=99999", "System RAM (GiB) 99999 is out of range (1 to 6144); using 6144.",
         '<option value="6144" selected>6144 GiB</option>'),
        ("ram=lots", "System RAM (GiB) must be a number; using 64.",
         '<option value="64" selected>64 GiB</option>'),
        ("ram_type=ddr9", "RAM type &#x27;ddr9&#x27; is not one of the options; using DDR5-6000, "
         "dual channel (desktop).", '<option value="ddr5-6000-2ch" selected>'),
        ("ram_type=custom", "Custom RAM needs a bandwidth (ram_gbps); using the default RAM.",
         '<option value="ddr5-6000-2ch" selected>'),
        ("ram_type=custom&ram_gbps=0.5",
         "RAM bandwidth (GB/s) 0.5 is out of range (1.0 to 2000.0); using 1.0.",
         'name="ram_gbps" min="1" max="2000" step="any" value="1"'),
        ("ram_type=custom&ram_gbps=5000",
         "RAM bandwidth (GB/s) 5000 is out of range (1.0 to 2000.0); using 2000.0.",
         'name="ram_gbps" min="1" max="2000" step="any" value="2000"'),
        ("reserved=-1", "GPU memory in use (GiB) -1 is out of range (0.0 to 256.0); using 0.0.",
         'name="reserved" min="0" max="256" step="any" value="0"'),
        ("reserved=999", "GPU memory in use (GiB) 999 is out of range (0.0 to 256.0); using 256.0.",
         'name="reserved" min="0" max="256" step="any" value="256"'),
        ("reserved=nan", "GPU memory in use (GiB) must be a number; ignored.",
         'name="reserved" min="0" max="256" step="any" value=""'),
        ("wired=0", "GPU wired limit (GiB) 0 is out of range (1.0 to 6144.0); using 1.0.",
         'name="wired" min="1" max="6144" step="any" value="1"'),
        ("wired=1e9", "GPU wired limit (GiB) 1e+09 is out of range (1.0 to 6144.0); using 6144.0.",
         'name="wired" min="1" max="6144" step="any" value="6144"'),
        ("ngl=-3", "GPU layers (-ngl) -3 is out of range (0 to 1025); using 0.",
         'name="ngl" min="0" max="1025" value="0"'),
        ("ngl=5000", "GPU layers (-ngl) 5000 is out of range (0 to 1025); using 1025.",
         'name="ngl" min="0" max="1025" value="1025"'),
        ("ngl=all", "GPU layers (-ngl) must be a number; ignored.",
         'name="ngl" min="0" max="1025" value=""'),
        ("ncmoe=-1", "Expert layers in RAM (--n-cpu-moe) -1 is out of range (0 to 1024); using 0.",
         'name="ncmoe" min="0" max="1024" value="0"'),
        ("ncmoe=2000",
         "Expert layers in RAM (--n-cpu-moe) 2000 is out of range (0 to 1024); using 1024.",
         'name="ncmoe" min="0" max="1024" value="1024"'),
        ("ncmoe=some", "Expert layers in RAM (--n-cpu-moe) must be a number; ignored.",
         'name="ncmoe" min="0" max="1024" value=""'),
        ("ub=300", "Batch size (-ub) &#x27;300&#x27; is not one of the options; using 512.",
         '<option value="512" selected>512</option>'),
        ("ub=big", "Batch size (-ub) &#x27;big&#x27; is not one of the options; using 512.",
         '<option value="512" selected>512</option>'),
    ],
)  # fmt: skip
def test_each_machine_field_out_of_range_or_junk_is_corrected_and_said_so(
    client: Client, query: str, note: str, shown: str
) -> None:
    html = client.get(f"{GPT_OSS}&{query}").content.decode()
    assert f"<li>{note}</li>" in html
    assert shown in html  # the form shows the value the page used


@pytest.mark.parametrize(
    "query",
    ["ram=%FF", "ram=1e999", "ram_type=<script>", "ram_gbps=-inf&ram_type=custom",
     "reserved=1e400", "wired=NaN", "ngl=0x10", "ncmoe=" + "9" * 500, "ub=" + "x" * 1000,
     "ram=1&reserved=256&ngl=1025&ncmoe=1024&ub=8192", "ram_type=custom&ram_gbps=sNaN"],
)  # fmt: skip
def test_machine_junk_never_gives_a_500(client: Client, query: str) -> None:
    assert client.get(f"{GPT_OSS}&{query}").status_code == 200
    assert client.get(f"{GPT_OSS}&{query}", headers=hx("ram")).status_code == 200
    assert client.get(f"{LLAMA}?{query}&gpu=apple-m2-ultra").status_code == 200
    assert client.get(f"{LLAMA}?{query}&gpu=cpu-amd-ryzen-9-9950x").status_code == 200


def test_links_on_the_page_keep_the_machine(client: Client) -> None:
    html = client.get(f"{GPT_OSS}&ram=128&ub=2048").content.decode()
    quants = section(html, "quants")
    assert f'href="?quant=Q8_0&{DEFAULTS}&ram=128&ub=2048"'.replace("&", "&amp;") in quants
    devices = section(html, "devices")
    assert f"?quant=MXFP4_MOE&{DEFAULTS}&ram=128&ub=2048&fits=1".replace("&", "&amp;") in devices


# --- the form ----------------------------------------------------------------------------


def test_the_machine_fieldset_is_part_of_the_get_form_and_states_its_defaults(
    client: Client,
) -> None:
    html = client.get(GPT_OSS).content.decode()
    start = html.index('<form id="controls"')
    form = html[start : html.index("</form>", start)]
    assert 'method="get"' in form
    for name in ("ram", "ram_type", "ram_gbps", "reserved", "wired", "ub", "ngl", "ncmoe"):
        assert f'name="{name}"' in form, name
    assert '<option value="64" selected>64 GiB</option>' in form
    assert '<option value="ddr5-6000-2ch" selected>DDR5-6000, dual channel (desktop)<' in form
    assert '<option value="512" selected>512</option>' in form
    assert defaults(form) == (
        "Blank GPU memory in use: 1 GiB on the NVIDIA GeForce RTX 4090 (by class of card: "
        "consumer 1 GiB, workstation 0.8 GiB, datacenter 0.5 GiB: the display, the desktop, the "
        "driver's context). The wired limit is for Apple chips. Defaults: 64 GiB of DDR5-6000, "
        "dual channel (desktop) (96 GB/s), -ub 512 (llama.cpp's)."
    )
    assert "Blank: llama.cpp places the model itself (its <code>--fit</code>, on by" in form


def test_an_apple_chip_states_its_own_memory_and_the_default_wired_limit(client: Client) -> None:
    html = client.get(f"{LLAMA}?gpu=apple-m2-ultra").content.decode()
    assert defaults(html) == (
        "Apple M2 Ultra is its own RAM (192 GiB at 800 GB/s): the RAM size and type do not "
        "apply. Blank wired limit: 144 GiB (macOS lets the GPU wire 2/3 of RAM up to 36 GB, 3/4 "
        "above; sudo sysctl iogpu.wired_limit_mb=N raises it)."
    )


def test_a_ram_size_between_the_stops_is_offered_as_it_was_asked(client: Client) -> None:
    html = client.get(f"{GPT_OSS}&ram=100").content.decode()
    assert '<option value="96">96 GiB</option><option value="100" selected>100 GiB</option>' in html


def test_a_machine_control_brings_back_the_panels_it_changes(client: Client) -> None:
    everything = ["plan", "quants", "serving", "rentals", "devices", "similar", "faq", "run"]
    for control, panels in (
        ("ram", everything), ("ram_type", everything), ("ram_gbps", everything),
        ("reserved", everything), ("wired", everything),
        ("ngl", ["plan", "serving", "rentals", "faq", "run"]),
        ("ncmoe", ["plan", "serving", "rentals", "faq", "run"]),
        ("ub", ["plan", "faq", "run"]),
    ):  # fmt: skip
        body = client.get(f"{GPT_OSS}&ram=32", headers=hx(control)).content.decode()
        assert panel_ids(body) == panels, control
        # The chosen device's defaults, beside the form, come back with the plan.
        assert body.count('<p id="machine-defaults" class="src" hx-swap-oob="true">') == 1


def test_a_gpu_change_brings_back_that_devices_machine_defaults(client: Client) -> None:
    body = client.get(f"{LLAMA}?gpu=apple-m2-ultra", headers=hx("gpu")).content.decode()
    assert '<p id="machine-defaults" class="src" hx-swap-oob="true">Apple M2 Ultra is its' in body
    users = client.get(f"{LLAMA}?users=4", headers=hx("users")).content.decode()
    assert 'id="machine-defaults"' not in users


# --- the plan panel ----------------------------------------------------------------------


def test_the_plan_panel_shows_make_plans_numbers(client: Client) -> None:
    plan, machine = gpt_oss_plan()
    gpu, host = plan.layout.devices[0], plan.layout.host
    html = client.get(GPT_OSS).content.decode()
    panel = section(html, "plan")
    rows = text(panel[panel.index("<tbody>") : panel.index("</tbody>")])
    ram_free = machine.host_free()
    assert rows == (
        f"CUDA0 36 layers {gib(gpu.model)} {gib(gpu.context)} {gib(gpu.compute)} "
        f"{gib(gpu.total)} {gib(plan.free[0])} {gib(plan.free[0] - gpu.total)} "
        f"System RAM experts of 24 layers {gib(host.model)} {gib(host.context)} "
        f"{gib(host.compute)} {gib(plan.host_bytes)} {gib(ram_free)} "
        f"{gib(ram_free - plan.host_bytes)}"
    )
    # The same, in words: what llama.cpp's memory breakdown would print for this machine.
    assert rows == (
        "CUDA0 36 layers 20.5 GiB 0.3 GiB 1.2 GiB 22.0 GiB 23 GiB 1.0 GiB "
        "System RAM experts of 24 layers 38.5 GiB 0 GiB 0.02 GiB 38.5 GiB 60 GiB 21.5 GiB"
    )
    assert plan.fits and plan.expert_layers_on_cpu == 24
    assert plan.free[0] - gpu.total >= FIT_MARGIN  # --fit keeps its margin
    words = text(panel)
    speed = tps(plan.decode_tokens_per_s)
    assert (
        f"~{speed} tokens/s with the experts of 24 layers in RAM (needs 38.5 GiB of RAM). "
        "Fits in GPU memory and system RAM." in words
    )
    assert f"Decode ~{tps(plan.decode_tokens_per_s)} tokens/s" in words
    low, high = (gpt_oss_plan(ub=ub)[0].prefill_tokens_per_s or 0 for ub in (512, 4096))
    assert f"Prompt speed by -ub -ub 512: {tps(low)} · -ub 4096: {tps(high)} tokens/s" in words
    assert high > 5 * low  # a larger -ub amortises the copies over PCIe
    assert "MoE experts in system RAM 24 of 36 layers" in words
    assert unescape(plan.layout.args()) in unescape(panel)
    assert '<code>-c 8192 -ngl 37 -ot "…"</code> <small class="muted">(25 tensor overr' in panel


def test_with_32_gib_of_ram_the_plan_says_how_much_more_system_ram_it_needs(
    client: Client,
) -> None:
    plan, _ = gpt_oss_plan(ram_gib=32)
    assert not plan.fits and plan.missing_vram == 0
    assert gib(plan.missing_ram) == "10.5 GiB"
    html = client.get(f"{GPT_OSS}&ram=32").content.decode()
    assert "F Does not fit: needs 10.5 GiB more system RAM." in text(section(html, "plan"))
    assert "Decode —" in text(section(html, "plan"))
    faq = text(section(html, "faq"))
    assert (
        "Can I run gpt-oss-120b on NVIDIA GeForce RTX 4090 with 32 GiB of RAM? No, not at "
        "MXFP4_MOE with a 8K context: it needs 10.5 GiB more system RAM." in faq
    )
    run = text(section(html, "run"))
    assert "It does not fit your machine: it needs 10.5 GiB more system RAM." in run


def test_a_larger_ub_moves_more_experts_to_ram_and_speeds_up_the_prompt(client: Client) -> None:
    plan, _ = gpt_oss_plan(ub=4096)
    html = client.get(f"{GPT_OSS}&ub=4096").content.decode()
    words = text(section(html, "plan"))
    assert plan.expert_layers_on_cpu == 26
    assert "MoE experts in system RAM 26 of 36 layers" in words
    assert f"<strong>-ub 4096: {tps(plan.prefill_tokens_per_s)}</strong>" in section(html, "plan")
    # The user's own -ub joins the row.
    at_2048 = text(section(client.get(f"{GPT_OSS}&ub=2048").content.decode(), "plan"))
    speed = tps(gpt_oss_plan(ub=2048)[0].prefill_tokens_per_s)
    at_512 = tps(gpt_oss_plan(ub=512)[0].prefill_tokens_per_s)
    assert f"Prompt speed by -ub -ub 512: {at_512} · -ub 2048: {speed} · -ub 4096: " in at_2048
    # -ub above llama.cpp's default -b (2048) needs -b as well.
    assert "-c 8192 -fa on -b 4096 -ub 4096 -ngl 37 -ot " in unescape(section(html, "run"))
    run = unescape(section(client.get(f"{GPT_OSS}&ub=1024").content.decode(), "run"))
    assert "-c 8192 -fa on -ub 1024 -ngl 37 -" in run and "-b 1024" not in run


def test_a_forced_placement_is_planned_and_commanded_as_given(client: Client) -> None:
    html = client.get(f"{GPT_OSS}&ngl=30&ncmoe=10").content.decode()
    words = text(section(html, "plan"))
    assert (
        "F Does not fit: needs 20.9 GiB more GPU memory. "
        "Placement forced: -ngl 30, --n-cpu-moe 10." in words
    )
    assert "-c 8192 -fa on -ngl 30 --n-cpu-moe 10</code>" in section(html, "run")
    assert "The placement you forced" in text(section(html, "run"))
    assert '<details class="advanced" open>' in html  # the advanced fields stay in view


def test_n_cpu_moe_on_a_dense_model_is_ignored_and_said_so(client: Client) -> None:
    html = client.get(f"{LLAMA}?ncmoe=4").content.decode()
    assert "--n-cpu-moe applies to mixture-of-experts models only" in section(html, "plan")
    assert "-c 8192 -fa on -ngl 33</code>" in section(html, "run")


# --- the command -------------------------------------------------------------------------


def test_the_command_reproduces_the_plan_exactly(client: Client) -> None:
    html = client.get(GPT_OSS).content.decode()
    run = section(html, "run")
    assert f"<code>{COMMAND}</code>" in run
    words = text(run)
    assert (
        "The experts of 24 layers stay in system RAM (38.5 GiB of RAM in all), as llama.cpp's "
        "own --fit places them (--fit takes the last layers, --n-cpu-moe counts from the first; "
        "--fit's exact -ot is in the plan above)." in words
    )
    assert (
        "Current llama.cpp reaches the same placement by itself (--fit on, its default): "
        "llama-server -hf ggml-org/gpt-oss-120b-GGUF:MXFP4_MOE -c 8192 -fa on is enough; the "
        "flags pin it." in words
    )
    # --n-cpu-moe 24 keeps --fit's margin on the GPU: the same placement, counted from the front.
    plan, machine = gpt_oss_plan()
    opts = MemoryOptions(file_type="MXFP4_MOE", n_ctx=8192)
    forced = make_plan(gpt_oss_key(), opts, machine, ngl=37, n_cpu_moe=24)
    assert forced.layout.devices[0].total <= forced.free[0] - FIT_MARGIN
    assert abs(forced.host_bytes - plan.host_bytes) < GIB // 100  # one layer's router apart


def test_n_cpu_moe_counts_a_models_leading_dense_layers(client: Client) -> None:
    html = client.get("/models/deepseek-v3/?quant=Q2_K&ram=512").content.decode()
    run = section(html, "run")
    # --fit keeps the experts of 55 layers in RAM; DeepSeek-V3's first 3 layers have none.
    assert "-c 8192 -fa on -ngl 62 --n-cpu-moe 58</code>" in run
    assert "The experts of 55 layers stay in system RAM" in text(run)
    assert "counts from the first, 3 of which have no experts" in text(run)


def test_a_quantized_kv_cache_several_users_and_a_dense_offload_in_the_command(
    client: Client,
) -> None:
    html = client.get("/models/llama-3-3-70b-instruct/?kv=q8_0&users=2&ctx=4096").content.decode()
    run = unescape(section(html, "run"))
    assert (
        "llama-server -hf bartowski/Llama-3.3-70B-Instruct-GGUF:Q4_K_M -c 8192 -np 2 -fa on "
        "-ctk q8_0 -ctv q8_0 -ngl " in run
    )
    ngl = int(re.search(r"-ctv q8_0 -ngl (\d+)</code>", run).group(1))  # type: ignore[union-attr]
    assert 30 < ngl < 81  # part of the 80 layers and the output layer on the GPU
    assert f"PARAMETER num_gpu {ngl}" in run  # Ollama: the layers to send to the GPU
    assert f"lms load --context-length 4096 --gpu {(ngl - 1) / 80:.2f}" in run


def test_several_gpus_get_llama_cpps_tensor_split(client: Client) -> None:
    html = client.get(f"{GPT_OSS}&gpu=rtx-3090&gpu_count=2").content.decode()
    run = unescape(section(html, "run"))
    assert re.search(r"-c 8192 -fa on -ngl 37 -ts \d+,\d+ -ot \"", run)
    assert "CUDA0" in section(html, "plan") and "CUDA1" in section(html, "plan")


def test_a_model_that_fits_whole_runs_every_layer_on_the_gpu(client: Client) -> None:
    run = text(section(client.get(LLAMA).content.decode(), "run"))
    assert (
        "llama-server -hf bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M -c 8192 -fa on -ngl 33 "
        "Every layer on the GPU." in run
    )
    assert "lms load --context-length 8192 --gpu max" in run


def test_a_cpu_alone_runs_with_no_gpu_layers(client: Client) -> None:
    html = client.get(f"{LLAMA}?gpu=cpu-amd-ryzen-9-9950x&ram=32").content.decode()
    assert "-c 8192 -fa on -ngl 0" in section(html, "run")
    assert "lms load --context-length 8192 --gpu off" in section(html, "run")
    assert "llama.cpp arguments" not in section(html, "plan")
    assert "Can I run Llama 3.1 8B Instruct on AMD Ryzen 9 9950X" in html
    assert "with 32 GiB of RAM? " in text(section(html, "faq"))


# --- the other panels on the same machine ------------------------------------------------


def device_row(html: str, name: str) -> str:
    devices = section(html, "devices")
    start = devices.index(f">{name}</a></th>") + len(f">{name}</a></th>")
    return text(devices[start : devices.index("</tr>", start)])


def test_the_devices_panel_grades_every_gpu_in_the_users_machine(client: Client) -> None:
    plan, _ = gpt_oss_plan()
    default = client.get(GPT_OSS).content.decode()
    assert device_row(default, "NVIDIA GeForce RTX 4090").startswith(
        f"B ~{tps(plan.decode_tokens_per_s)} tokens/s with the experts of 24 layers in RAM "
        "(needs 38.5 GiB of RAM)"
    )
    small = client.get(f"{GPT_OSS}&ram=32").content.decode()
    assert device_row(small, "NVIDIA GeForce RTX 4090").startswith(
        "F needs 10.5 GiB more system RAM"
    )
    # DDR4 is slower: the same placement decodes slower.
    slow = client.get(f"{GPT_OSS}&ram_type=ddr4-3200-2ch").content.decode()
    speed = re.search(r"~(\d+) tokens/s", device_row(slow, "NVIDIA GeForce RTX 4090"))
    assert speed and int(speed.group(1)) < int(tps(plan.decode_tokens_per_s))
    # An Apple chip is its own memory: the RAM fields do not change it.
    assert device_row(small, "Apple M2 Ultra") == device_row(default, "Apple M2 Ultra")


def test_gpu_memory_in_use_takes_room_from_the_plan(client: Client) -> None:
    html = client.get(f"{GPT_OSS}&reserved=4").content.decode()
    words = text(section(html, "plan"))
    assert "4 GiB already in use;" in words
    experts = int(re.search(r"MoE experts in system RAM (\d+) of 36", words).group(1))  # type: ignore[union-attr]
    assert experts > 24  # less room on the GPU: more experts in RAM


def test_the_serving_plans_single_user_row_uses_the_plan(client: Client) -> None:
    html = client.get(GPT_OSS).content.decode()
    serving = text(section(html, "serving"))
    assert "with the experts of" in serving and "layers in RAM (needs" in serving
    assert "needs 10.5 GiB more system RAM" in text(
        section(client.get(f"{GPT_OSS}&ram=32").content.decode(), "serving")
    )


def test_the_faq_answers_from_the_plan(client: Client) -> None:
    faq = text(section(client.get(GPT_OSS).content.decode(), "faq"))
    plan, _ = gpt_oss_plan()
    assert (
        "Can I run gpt-oss-120b on NVIDIA GeForce RTX 4090 with 64 GiB of RAM? Yes, at "
        f"MXFP4_MOE with a 8K context: ~{tps(plan.decode_tokens_per_s)} tokens/s with the "
        f"experts of 24 layers in RAM (needs 38.5 GiB of RAM). Prompts run at about "
        f"{tps(plan.prefill_tokens_per_s)} tokens/s "
        "(-ub 512)." in faq
    )
    apple = text(section(client.get(f"{LLAMA}?gpu=apple-m2-ultra").content.decode(), "faq"))
    assert "Can I run Llama 3.1 8B Instruct on Apple M2 Ultra? Yes, at Q4_K_M" in apple


def test_the_summary_names_the_machine(client: Client) -> None:
    html = client.get(f"{GPT_OSS}&ram=128").content.decode()
    assert "· NVIDIA GeForce RTX 4090 with 128 GiB of RAM." in html
