"""Everywhere a fit is shown, it is on a machine: the home page starts from one (GPU, count, RAM),
the hardware pages and the comparison read its RAM, the family page states the default one.
Expected figures come from the estimator itself (estimator.fit on the same machine)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertInHTML, assertNotContains

from catalog import parts
from catalog.machine_state import MachineState
from catalog.models import Hardware, Model
from estimator.devices import from_hardware
from estimator.fit import Fit, fit
from estimator.memory import MemoryOptions, estimate_memory, inventory
from estimator.units import tps
from tests.catalog.test_query_counts import generate

pytestmark = pytest.mark.django_db


def estimate(slug: str, quant: str, *, gpu: str = "rtx-4090", ram: int = 64, ctx: int = 8192,
             count: int = 1) -> Fit:  # fmt: skip
    """The estimator's own fit of a model at a quant on a GPU with `ram` GiB of DDR5-6000."""
    model = Model.objects.get(slug=slug)
    config = model.estimator_config
    device = from_hardware(Hardware.objects.get(slug=gpu), count)
    est = estimate_memory(
        config, MemoryOptions(file_type=quant, n_ctx=min(ctx, model.context_length))
    )
    return fit(inventory(config), est, device, machine=MachineState(ram=ram).machine(device, count))


def row(html: str, slug: str) -> str:
    """The home page's row of one model."""
    match = re.search(rf'<tr>\s*<th scope="row"><a href="/models/{slug}/[?"].*?</tr>', html, re.S)
    assert match, slug
    return match.group(0)


def cells(html: str, slug: str) -> tuple[str, str, str]:
    """(best quant, tokens/s, how it runs) of a model on the home page."""
    found = row(html, slug)
    quant = re.search(r'class="fit-quant"[^>]*><strong>([^<]+)</strong>', found)
    speed = re.search(r'class="num fit-speed"[^>]*>(?:<strong>)?([^<]+)', found)
    how = re.search(r'class="fit-how"[^>]*>.*?<small>([^<]+)</small>', found, re.S)
    assert quant and speed and how, found
    return quant.group(1), speed.group(1), how.group(1).replace("&#x27;", "'")


def notes(html: str) -> list[str]:
    box = html[html.index("Some settings were corrected:") :].split("</ul>")[0]
    return re.findall(r"<li>(.*?)</li>", box)


def get(client: Client, url: str, **headers: Any) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    return response.content.decode()


@pytest.mark.parametrize(
    ("slug", "search", "quant"),
    [
        # Fits whole with room at the most precise quant.
        ("llama-3-1-8b-instruct", "Llama-3.1-8B-Instruct", "Q8_0"),
        ("gemma-3-27b-it", "gemma-3-27b-it", "Q5_K_M"),  # Q6_K would fit only tightly
        ("qwen3-30b-a3b", "Qwen3-30B-A3B", "Q4_K_M"),
        # Whole, tightly, rather than a more precise quant with layers in RAM.
        ("llama-3-3-70b-instruct", "Llama-3.3-70B-Instruct", "IQ2_XXS"),
    ],
)
def test_home_with_a_machine_shows_each_model_s_best_quant_and_speed(
    client: Client, slug: str, search: str, quant: str
) -> None:
    html = get(client, f"/?gpu=rtx-4090&ram=64&q={search}")
    f = estimate(slug, quant)
    assert f.status in ("fits", "tight")
    assert cells(html, slug) == (quant, f"~{tps(f.decode_tokens_per_s)}", f.reason)


def test_gpt_oss_120b_runs_on_an_rtx_4090_with_64_gib_with_its_experts_in_ram(
    client: Client,
) -> None:
    html = get(client, "/?gpu=rtx-4090&ram=64&q=gpt-oss-120b")
    f = estimate("gpt-oss-120b", "MXFP4_MOE")
    assert f.status == "offload" and f.grade == "B"
    assert re.fullmatch(
        r"~\d+ tokens/s with the experts of \d+ layers in RAM \(needs [\d.]+ GiB of RAM\)", f.reason
    )
    assert cells(html, "gpt-oss-120b") == ("MXFP4_MOE", f"~{tps(f.decode_tokens_per_s)}", f.reason)
    assertInHTML('<span class="tag warn">RAM</span>', row(html, "gpt-oss-120b"))
    assertContains(client.get("/?gpu=rtx-4090&ram=64&runs=1&q=gpt-oss"),
                   "2 matches that run on the machine")  # fmt: skip


def test_with_32_gib_it_does_not_run_and_the_page_says_what_is_missing(client: Client) -> None:
    html = get(client, "/?gpu=rtx-4090&ram=32&q=gpt-oss-120b")
    f = estimate("gpt-oss-120b", "MXFP4_MOE", ram=32)
    assert f.status == "no" and re.fullmatch(r"needs [\d.]+ GiB more system RAM", f.reason)
    assert cells(html, "gpt-oss-120b") == ("MXFP4_MOE", "—", f.reason)  # its smallest quant
    only = client.get("/?gpu=rtx-4090&ram=32&runs=1&q=gpt-oss")
    assertNotContains(only, "/models/gpt-oss-120b/")
    assertContains(only, "1 match that runs on the machine")


def test_the_cpu_alone_and_an_apple_chip_are_machines_too(client: Client) -> None:
    cpu = get(client, "/?gpu=cpu&ram=128&q=gpt-oss-120b")
    assertContains(
        client.get("/?gpu=cpu&ram=128"), "<strong>CPU only + 128 GiB RAM</strong>", html=True
    )
    assert cells(cpu, "gpt-oss-120b")[0] == "MXFP4_MOE"
    assert cells(cpu, "gpt-oss-120b")[2].startswith("fits with")  # whole in RAM
    mac = get(client, "/?gpu=apple-m4-max&ram=64&q=Llama-3.1-8B-Instruct")
    assert (
        "Apple M4 Max, 64 GiB</strong>: 64 GiB of unified memory, of which the GPU may use 48 GiB"
        in mac
    )
    assert cells(mac, "llama-3-1-8b-instruct")[0] == "Q8_0"


def test_rows_link_to_the_model_page_on_the_same_machine(client: Client) -> None:
    html = get(client, "/?gpu=rtx-4090&gpu_count=2&ram=128&ram_type=ddr5-5600-4ch&q=gpt-oss-20b")
    assert (
        'href="/models/gpt-oss-20b/?quant=MXFP4_MOE&amp;ctx=8192&amp;gpu=rtx-4090&amp;gpu_count=2'
        '&amp;ram=128&amp;ram_type=ddr5-5600-4ch"' in html
    )
    plain = get(client, "/?q=gpt-oss-20b")
    assert 'href="/models/gpt-oss-20b/"' in plain and "Best quant" not in plain


def test_the_machine_is_kept_in_every_link_and_form_of_the_page(client: Client) -> None:
    html = get(client, "/?gpu=rtx-4090&ram=128&runs=1&provider=qwen")
    assert 'data-machine-query="gpu=rtx-4090&amp;ram=128&amp;runs=1"' in html
    assert 'data-machine-label="NVIDIA GeForce RTX 4090 + 128 GiB RAM"' in html
    assertInHTML('<input type="hidden" name="ram" value="128">', html)  # the filters form
    assertInHTML('<input type="hidden" name="provider" value="qwen">', html)  # the picker
    paged = get(client, "/?gpu=rtx-4090&ram=128&license=commercial")
    assert 'href="?license=commercial&amp;gpu=rtx-4090&amp;ram=128&amp;page=2" rel="next"' in paged


def test_sorting_by_speed_puts_the_fastest_on_the_machine_first(client: Client) -> None:
    html = get(client, "/?gpu=rtx-4090&sort=speed&runs=1")
    speeds = [
        float(s.replace(",", "")) for s in re.findall(r'fit-speed"[^>]*><strong>~([\d.,]+)', html)
    ]
    assert len(speeds) == 24 and speeds == sorted(speeds, reverse=True)
    second = get(client, "/?gpu=rtx-4090&sort=speed&runs=1&page=2")
    assert (
        float(re.search(r'fit-speed"[^>]*><strong>~([\d.,]+)', second).group(1).replace(",", ""))
        <= speeds[-1]
    )  # type: ignore[union-attr]


def test_htmx_gets_the_content_alone_with_the_canonical_url(client: Client) -> None:
    response = client.get(
        "/?gpu=rtx-4090&gpu_count=1&ram=64&ram_type=ddr5-6000-2ch&ram_gbps=&reserved=&wired=&q=",
        headers={"HX-Request": "true"},
    )
    assert response["HX-Push-Url"] == "/?gpu=rtx-4090"
    assert "HX-Request" in response["Vary"]
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="browse">') and "<html" not in html


OPTIONS = "is not one of the options; using"
DDR5 = "DDR5-6000, dual channel (desktop)"
CUSTOM = "Custom RAM needs a bandwidth (ram_gbps); using the default RAM."


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("gpu=nope", [f"GPU &#x27;nope&#x27; {OPTIONS} No machine."]),
        ("gpu=rtx-4090&gpu_count=3", [f"GPUs &#x27;3&#x27; {OPTIONS} 1."]),
        ("gpu=rtx-4090&gpu_count=abc", [f"GPUs &#x27;abc&#x27; {OPTIONS} 1."]),
        ("gpu=rtx-4090&runs=maybe", [f"Only what runs on it &#x27;maybe&#x27; {OPTIONS} no."]),
        ("gpu=rtx-4090&ram=abc", ["System RAM (GiB) must be a number; using 64."]),
        ("gpu=rtx-4090&ram=0", ["System RAM (GiB) 0 is out of range (1 to 6144); using 1."]),
        ("gpu=rtx-4090&ram=99999",
         ["System RAM (GiB) 99999 is out of range (1 to 6144); using 6144."]),
        ("gpu=rtx-4090&ram_type=zzz", [f"RAM type &#x27;zzz&#x27; {OPTIONS} {DDR5}."]),
        ("gpu=rtx-4090&ram_type=custom", [CUSTOM]),
        ("gpu=rtx-4090&ram_type=custom&ram_gbps=-1",
         ["RAM bandwidth (GB/s) -1 is out of range (1.0 to 2000.0); using 1.0."]),
        ("gpu=rtx-4090&ram_type=custom&ram_gbps=nan",
         ["RAM bandwidth (GB/s) must be a number; ignored.", CUSTOM]),
        ("gpu=rtx-4090&reserved=-3",
         ["GPU memory in use (GiB) -3 is out of range (0.0 to 256.0); using 0.0."]),
        ("gpu=rtx-4090&reserved=1e9",
         ["GPU memory in use (GiB) 1e+09 is out of range (0.0 to 256.0); using 256.0."]),
        ("gpu=apple-m4-max&wired=0",
         ["GPU wired limit (GiB) 0 is out of range (1.0 to 6144.0); using 1.0."]),
        ("gpu=apple-m4-max&ram=100",
         ["The Apple M4 Max comes with 48, 64 or 128 GiB; using 128 GiB."]),
        ("gpu=apple-m4-max&gpu_count=2", ["GPUs 2: Apple M4 Max is one device; using 1."]),
        ("gpu=cpu&gpu_count=4", ["GPUs 4: the CPU alone is one device; using 1."]),
    ],
)  # fmt: skip
def test_junk_machine_parameters_are_corrected_and_noted_never_a_500(
    client: Client, query: str, expected: list[str]
) -> None:
    assert notes(get(client, f"/?{query}")) == expected


def test_sorting_by_speed_without_a_machine_is_noted(client: Client) -> None:
    assertContains(
        client.get("/?sort=speed"), "<li>Sort by speed needs a machine; using Newest.</li>"
    )


def test_a_parameter_that_does_not_apply_to_the_machine_is_ignored(client: Client) -> None:
    # An Apple chip's bandwidth is its own; a discrete GPU has no wired limit.
    assert "Some settings were corrected" not in get(client, "/?gpu=apple-m4-max&ram_type=zzz")
    assert "Some settings were corrected" not in get(client, "/?gpu=rtx-4090&wired=abc")
    same = get(client, "/?gpu=rtx-4090&wired=50")
    assert 'data-machine-query="gpu=rtx-4090"' in same


def test_the_hardware_page_lists_what_runs_with_the_machine_s_ram(client: Client) -> None:
    html = get(client, "/hardware/rtx-4090/?ram=128&q=gpt-oss-120b")
    assert (
        "<strong>The machine:</strong> NVIDIA GeForce RTX 4090 + 128 GiB RAM; 128 GiB of "
        "DDR5-6000, dual channel (desktop) system RAM (96 GB/s); 1 GiB of each GPU&#x27;s memory "
        "already in use." in html
    )
    f = estimate("gpt-oss-120b", "MXFP4_MOE", ram=128)
    assert f.status == "offload"
    assert f"<small>{f.reason}</small>" in html
    assert "?quant=MXFP4_MOE&amp;ctx=8192&amp;gpu=rtx-4090&amp;gpu_count=1&amp;ram=128" in html
    hidden = get(client, "/hardware/rtx-4090/?ram=32&q=gpt-oss-120b")
    assert "No model matches." in hidden  # it does not run: left out unless all=1
    shown = get(client, "/hardware/rtx-4090/?ram=32&q=gpt-oss-120b&all=1")
    assert f"<small>{estimate('gpt-oss-120b', 'MXFP4_MOE', ram=32).reason}</small>" in shown


def test_the_hardware_page_corrects_junk_machine_parameters(client: Client) -> None:
    html = get(client, "/hardware/rtx-4090/?ram=-4&ram_type=%3Cb%3E")
    box = html[html.index('<div class="errors" role="status">') :].split("</div>")[0]
    assert re.findall(r"<li>([^<]*)</li>", box) == [
        "System RAM (GiB) -4 is out of range (1 to 6144); using 1.",
        "RAM type &#x27;&lt;b&gt;&#x27; is not one of the options; using DDR5-6000, dual channel "
        "(desktop).",
    ]
    mac = get(client, "/hardware/apple-m4-max/?wired=64&mem=128")
    assert "128 GiB of unified memory, of which the GPU may use 64 GiB (as set)" in mac


def test_the_comparison_reads_the_machine(client: Client) -> None:
    url = "/compare/?models=gpt-oss-120b,qwen3-8b&gpu=rtx-4090"
    small = get(client, url)
    large = get(client, url + "&ram=128")
    assert f"<small>{estimate('gpt-oss-120b', 'Q4_K_M').reason}</small>" in small
    offload = estimate("gpt-oss-120b", "Q4_K_M", ram=128)
    assert offload.status == "offload" and f"<small>{offload.reason}</small>" in large
    assert "NVIDIA GeForce RTX 4090 + 128 GiB RAM" in large
    assert 'href="?models=qwen3-8b&amp;gpu=rtx-4090&amp;ctx=8192&amp;ram=128"' in large
    junk = get(client, url + "&ram=abc")
    assert "System RAM (GiB) must be a number; using 64." in junk


def test_the_family_page_says_which_machine_its_fits_are_on(client: Client) -> None:
    html = get(client, "/families/gpt-oss/")
    assert "64 GiB of DDR5-6000, dual channel (desktop) system RAM (96 GB/s)" in html
    table = html[html.index('<table class="size-fit">') :].split("</table>")[0]
    big = re.search(r"gpt-oss-120b</a>.*?</tr>", table, re.S).group(0)  # type: ignore[union-attr]
    assert big.count('<span class="tag warn">RAM</span>') == 2  # RTX A6000 and H100 with RAM


def test_rentals_say_what_is_assumed_about_host_ram(client: Client) -> None:
    assert "we do not record" in get(client, "/hardware/rtx-4090/")
    assert "Vast.ai lists it with each offer" in get(client, "/gpus/prices/")


def test_each_machine_has_its_own_parts_and_equal_machines_share_one(client: Client) -> None:
    first = cells(get(client, "/?gpu=rtx-4090&ram=64&q=gpt-oss-120b"), "gpt-oss-120b")
    second = cells(get(client, "/?gpu=rtx-4090&ram=32&q=gpt-oss-120b"), "gpt-oss-120b")
    assert first[2] != second[2]  # a shared key would have shown the first machine's fit
    kept = len(parts.recent.parts)
    get(client, "/?gpu=rtx-4090&ram=64&ram_type=ddr5-6000-2ch&q=gpt-oss-120b&gpu_count=1")
    assert len(parts.recent.parts) == kept  # the same machine, written out: the same part
    for url in ("/hardware/rtx-4090/?q=gpt-oss-120b&all=1", "/compare/?models=gpt-oss-120b"):
        one = get(client, url + "&ram=64")
        other = get(client, url + "&ram=32")
        assert one != other


def test_a_machine_costs_no_more_queries_with_a_bigger_catalog(client: Client) -> None:
    template = Model.objects.get(slug="gpt-oss-20b")
    modalities = list(template.input_modalities.all())
    fields = {f.attname: getattr(template, f.attname) for f in Model._meta.concrete_fields}
    del fields["id"]
    pages = ["/?gpu=rtx-4090&ram=32", "/?gpu=rtx-3060-12gb&runs=1&sort=speed&page=2",
             "/hardware/rtx-4090/?ram=16", "/compare/?models=generated-1&ram=16"]  # fmt: skip

    def counts() -> list[int]:
        out = []
        for page in pages:
            client.get(page)  # a first visit fills this process's per-revision snapshot
            parts.recent.parts.clear()
            cache.clear()
            with CaptureQueriesContext(connection) as queries:
                assert client.get(page).status_code == 200
            out.append(len(queries))
        return out

    generate(fields, modalities, 10)
    small = counts()
    generate(fields, modalities, 300)
    assert counts() == small
