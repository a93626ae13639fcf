"""The live model page: state in the query string, fragments for HTMX, same numbers without JS."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from estimator.devices import from_hardware
from estimator.estimate import estimate
from estimator.memory import MemoryOptions
from estimator.units import gib

pytestmark = pytest.mark.django_db
URL = "/models/llama-3-1-8b-instruct/"


def live_part(html: str) -> str:
    start = html.index('<div id="live">')
    return (
        html[start : html.index("<!-- /live -->", start)]
        if "<!-- /live -->" in html
        else html[start:]
    )


def test_defaults_are_q4_k_m_8k_context_f16_on_a_24_gb_gpu(client: Client) -> None:
    html = client.get(URL).content.decode()
    assert "Context <strong>8K</strong> (8192 tokens) per user · 1 user · Q4_K_M · KV f16" in html
    assert "NVIDIA GeForce RTX 4090" in html
    assert re.search(
        r'<tr class="current" aria-current="true"><th scope="row"><a href="\?quant=Q4_K_M', html
    )


def test_memory_panel_numbers_come_from_the_estimator(client: Client) -> None:
    from catalog.models import Hardware, Model

    model = Model.objects.get(slug="llama-3-1-8b-instruct")
    report = estimate(
        model.config,
        MemoryOptions(n_ctx=32768),
        from_hardware(Hardware.objects.get(slug="rtx-4090")),
    )
    html = client.get(URL + "?ctx=32768").content.decode()
    kv_gib, total_gib = gib(report.memory.kv_cache_bytes), gib(report.memory.total_bytes)
    assert kv_gib == "4 GiB"  # 32768 tokens x 128 KiB
    assert f'<th scope="row">KV cache</th><td class="num">{kv_gib}</td>' in html
    assert f"<strong>{total_gib}</strong>" in html


def test_htmx_request_returns_only_the_live_fragment(client: Client) -> None:
    response = client.get(URL + "?ctx=16384&users=4", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and "<header" not in body
    assert body.lstrip().startswith('<div id="live">')
    assert "4 users" in body
    assert "HX-Request" in response.headers["Vary"]


def test_fragment_and_full_page_show_the_same_numbers(client: Client) -> None:
    query = "?ctx=16384&users=2&kv=q8_0&quant=Q5_K_M&gpu=rtx-3090"
    fragment = client.get(URL + query, headers={"HX-Request": "true"}).content.decode()
    page = client.get(URL + query).content.decode()
    assert fragment.strip() in page


@pytest.mark.parametrize(
    ("query", "note"),
    [
        ("?ctx=999999999", "Context 999999999 is out of range (512 to 131072); using 131072."),
        ("?ctx=100", "Context 100 is out of range (512 to 131072); using 512."),
        ("?ctx=abc", "Context must be a number; using 8192."),
        ("?users=0", "Users 0 is out of range (1 to 256); using 1."),
        ("?users=9999", "Users 9999 is out of range (1 to 256); using 256."),
        ("?gpu=tpu-v9", "GPU &#x27;tpu-v9&#x27; is not one of the options; using rtx-4090."),
        ("?quant=Q9_K", "Quant &#x27;Q9_K&#x27; is not one of the options; using Q4_K_M."),
        ("?kv=q8_0&fa=off", "A quantized KV cache needs flash attention; flash attention is on."),
        ("?gpu_count=100", "GPU count 100 is out of range (1 to 8); using 8."),
    ],
)
def test_out_of_range_values_are_clamped_and_said_so(client: Client, query: str, note: str) -> None:
    response = client.get(URL + query)
    assert response.status_code == 200
    assert note in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "?ctx=1e999",
        "?ctx=-5",
        "?users=%01",
        "?runtime=<script>",
        "?kv=" + "x" * 1000,
        "?fa=maybe",
        "?quant=q4_k_m",
        "?gpu_count=abc&users=nan",
        "?fits=1&sort=speed",
        "?ctx=nan",
    ],
)
def test_junk_never_gives_a_500(client: Client, query: str) -> None:
    assert client.get(URL + query).status_code == 200
    assert client.get(URL + query, headers={"HX-Request": "true"}).status_code == 200


def test_a_nul_byte_is_refused_before_the_page(client: Client) -> None:
    response = client.get(URL + "?users=%00")
    assert response.status_code == 400
    assert b"NUL" in response.content


def test_lowercase_quant_is_accepted(client: Client) -> None:
    html = client.get(URL + "?quant=q8_0").content.decode()
    assert "· Q8_0 ·" in html


def test_how_to_run_follows_the_state_with_real_repo_ids(client: Client) -> None:
    html = client.get(URL + "?ctx=16384&kv=q8_0&quant=Q5_K_M&users=2").content.decode()
    assert (
        "llama-server -hf bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q5_K_M -c 32768 -np 2 "
        "-fa on -ctk q8_0 -ctv q8_0" in html
    )
    assert "vllm serve meta-llama/Llama-3.1-8B-Instruct --max-model-len 16384" in html
    assert "PARAMETER num_ctx 16384" in html


def test_mxfp4_moe_is_offered_only_for_moe_models(client: Client) -> None:
    assert "MXFP4_MOE" not in client.get(URL).content.decode()
    assert "MXFP4_MOE" in client.get("/models/gpt-oss-20b/").content.decode()


def test_devices_can_be_filtered_to_those_that_fit(client: Client) -> None:
    html = client.get("/models/llama-3-3-70b-instruct/?fits=1").content.decode()
    devices = html[html.index('id="dev-h"') : html.index('id="similar-h"')]
    grades = re.findall(r'<span class="grade g([A-F])">', devices)
    assert grades and set(grades) <= {"A", "B", "C", "D"}
    assert "NVIDIA GeForce RTX 3060 12GB" not in devices


def test_sliding_window_and_recurrent_parts_are_shown_where_the_model_has_them(
    client: Client,
) -> None:
    assert "sliding-window layers" in client.get("/models/gemma-3-27b-it/").content.decode()
    assert "recurrent state" in client.get("/models/qwen3-next-80b-a3b-instruct/").content.decode()
    assert "MLA: one latent per token" in client.get("/models/deepseek-v3/").content.decode()


def test_a_constant_small_number_of_queries(  # type: ignore[no-untyped-def]
    client: Client, django_assert_num_queries, django_assert_max_num_queries
) -> None:
    # Once per catalog revision a process reads the devices, a brief of every model, each
    # model it computes panels for and its similar models; once per prices token, the rental
    # offers. (Odd contexts: no other test has rendered these states.)
    for path in (URL, "/models/deepseek-v3/"):
        client.get(path + "?ctx=2049", headers={"HX-Request": "true"})
    # Then a fragment costs one query (the revision tokens), computed or cached.
    with django_assert_num_queries(1):
        client.get(URL + "?ctx=65531", headers={"HX-Request": "true", "HX-Trigger-Name": "ctx"})
    with django_assert_num_queries(1):
        client.get(URL + "?ctx=65531&gpu=rtx-a6000", headers=hx("gpu"))
    with django_assert_num_queries(1):
        client.get("/models/deepseek-v3/?ctx=4097&users=8", headers={"HX-Request": "true"})
    with django_assert_num_queries(1):
        client.get("/models/deepseek-v3/?ctx=4097&users=8", headers={"HX-Request": "true"})
    # The full page's specs (the model with its provider and family, its modalities and
    # encoders, its family's other models) and its community results are read once per catalog
    # and benchmarks revision, then kept: the tokens, 5 for the specs, 1 for the results.
    with django_assert_num_queries(7):
        client.get(URL + "?ctx=32761")
    with django_assert_num_queries(7):
        client.get("/models/deepseek-v3/?ctx=4099&quant=Q2_K")
    with django_assert_num_queries(1):
        client.get(URL + "?ctx=32763")


@pytest.mark.parametrize(
    "path",
    [
        "/models/llama-3-1-8b-instruct/?ctx=32768",
        "/models/gemma-3-27b-it/?ctx=65536&kv=q8_0&quant=Q5_K_M",
        "/models/qwen3-30b-a3b/?users=4&gpu=rtx-3090",
        "/models/deepseek-v3/?quant=Q2_K&gpu=h100-sxm&gpu_count=8",
        "/models/phi-3-5-vision-instruct/",
    ],
)
def test_the_faq_never_contradicts_the_panels(client: Client, path: str) -> None:
    assert_faq_matches_panels(client.get(path).content.decode())


def test_the_faq_matches_the_panels_on_every_catalog_model(client: Client) -> None:
    from catalog.models import Model

    settings = [
        "", "?ctx=32768&kv=q8_0", "?quant=Q8_0&gpu=rtx-3060-12gb", "?quant=IQ2_XXS&ctx=2048",
        "?gpu=h100-sxm&gpu_count=4&users=16", "?fa=off&ctx=4096&gpu=apple-m2-ultra",
    ]  # fmt: skip
    slugs = Model.objects.order_by("slug").values_list("slug", flat=True)
    assert len(slugs) > 100
    for i, slug in enumerate(slugs):
        html = client.get(f"/models/{slug}/{settings[i % len(settings)]}").content.decode()
        assert "is not one of the options" not in html  # every setting is a real one
        assert_faq_matches_panels(
            client.get(f"/models/{slug}/{settings[i % len(settings)]}").content.decode()
        )


def assert_faq_matches_panels(html: str) -> None:
    memory = html[html.index('id="kv-h"') : html.index('id="quant-h"')]
    total = re.search(r"<strong>([\d.,]+ GiB)</strong>", memory)
    weights = re.search(r"Weights \(\w+\)</th><td class=\"num\">([\d.,]+ GiB)", memory)
    assert total and weights
    faq = html[html.index('id="faq-h"') : html.index('id="run-h"')]
    assert f"{total.group(1)} in all" in faq
    assert f"{weights.group(1)} of weights" in faq
    jsonld = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert jsonld and '"@type": "FAQPage"' in jsonld.group(1)
    assert f"{total.group(1)} in all" in jsonld.group(1)
    quants = html[html.index('id="quant-h"') : html.index('id="serve-h"')]
    devices = html[html.index('id="dev-h"') : html.index('id="similar-h"')]
    # The FAQ's quant is the one the quants panel marks, and never F32 or 16-bit (Q8_0 is in
    # every ladder and measures the same quality: estimator.quality).
    advice = re.search(r"Recommended: (\w+), ", faq)
    assert advice, "the FAQ names no quant"
    quant = advice.group(1)
    assert quant not in ("F32", "F16", "BF16")
    assert f'<p class="advice">Recommended: {quant}, ' in quants
    assert quants.count(">recommended</small>") == 1
    assert re.search(rf">{quant}</a> <small class=\"tag ok\"[^>]*>recommended</small>", quants)
    gpu = re.search(r"runs it well is the (.+?) \(grade (\w), (.+?)\); the fastest is", faq)
    if gpu:
        name, grade, speed = gpu.groups()
        cells = (
            rf">{re.escape(name)}</a></th><td><span class=\"grade g{grade}\">"
            rf"(?:(?!</tr>).)*?<td class=\"num\">{re.escape(speed)}</td>"
        )
        row = re.search(cells, devices)
        assert row, f"{name} grade {grade} {speed} is not in the devices panel"
    else:
        assert "no consumer GPU in our catalog runs it" in faq
    phone = re.search(r"give it (.+?): that is the smallest total worth running, (\w+) at", faq)
    assert phone
    rows = re.findall(
        r">(\w+)</a>(?: <small[^>]*>recommended</small>)?</th><td class=\"num\">([\d.]+)</td>"
        r"<td[^>]*>[^<]*</td><td class=\"num\">(.+?)</td>",
        quants,
    )
    memory_of = {quant: memory for quant, _, memory in rows}
    assert memory_of[phone.group(2)] == phone.group(1)
    above = [(quant, memory) for quant, bpw, memory in rows if float(bpw) >= 3]
    assert phone.group(2) in dict(above)  # never a quant below the quality cliff


def hx(trigger: str | None = None, target: str | None = None) -> dict[str, str]:
    """The headers htmx sends for a control (its name) or a link (its target's id)."""
    headers = {"HX-Request": "true"}
    if trigger:
        headers["HX-Trigger-Name"] = trigger
    if target:
        headers["HX-Target"] = target
    return headers


def section_ids(html: str) -> list[str]:
    return re.findall(r'<section id="(panel-\w+)"', html)


def test_the_users_slider_brings_back_only_the_serving_plan_rentals_and_commands(
    client: Client,
) -> None:
    body = client.get(URL + "?users=8", headers=hx("users", "live-summary")).content.decode()
    assert body.startswith('<div id="live-summary">')
    assert section_ids(body) == ["panel-serving", "panel-rentals", "panel-run"]
    assert body.count('hx-swap-oob="true"') == 3
    assert "8 users" in body and "-np 8" in body
    assert "<html" not in body and 'id="controls"' not in body


@pytest.mark.parametrize(
    ("control", "panels"),
    [
        (
            "ctx",
            ["memory", "plan", "quants", "serving", "rentals", "devices", "similar", "faq", "run"],
        ),
        (
            "quant",
            ["memory", "plan", "quants", "serving", "rentals", "devices", "similar", "faq", "run"],
        ),
        (
            "kv",
            ["memory", "plan", "quants", "serving", "rentals", "devices", "similar", "faq", "run"],
        ),
        (
            "fa",
            ["memory", "plan", "quants", "serving", "rentals", "devices", "similar", "faq", "run"],
        ),
        ("gpu", ["plan", "quants", "serving", "rentals", "finetune", "similar", "faq", "run"]),
        (
            "gpu_count",
            ["plan", "quants", "serving", "rentals", "finetune", "similar", "faq", "run"],
        ),
        ("runtime", ["serving", "rentals", "run"]),
        ("users", ["serving", "rentals", "run"]),
        ("ft", ["finetune"]),
        ("ft_seq", ["finetune"]),
    ],
)
def test_every_control_changes_its_panels_and_only_those(
    client: Client, control: str, panels: list[str]
) -> None:
    body = client.get(URL + "?ctx=16384", headers=hx(control)).content.decode()
    assert section_ids(body) == [f"panel-{p}" for p in panels]


def test_a_gpu_change_updates_the_fit_but_leaves_the_memory_panel_alone(client: Client) -> None:
    body = client.get(URL + "?gpu=rtx-3060-12gb", headers=hx("gpu")).content.decode()
    assert "Quantizations on NVIDIA GeForce RTX 3060 12GB" in body
    assert 'id="kv-h"' not in body


def test_the_devices_links_bring_back_the_devices_panel_alone(client: Client) -> None:
    body = client.get(
        "/models/llama-3-3-70b-instruct/?fits=1&sort=speed", headers=hx(target="panel-devices")
    ).content.decode()
    assert section_ids(body) == ["panel-devices"]
    assert "hx-swap-oob" not in body
    # The toggles travel with the form so the next control change keeps them.
    assert '<input type="hidden" name="fits" value="1" form="controls">' in body
    assert '<input type="hidden" name="sort" value="speed" form="controls">' in body
    speeds = [float(s) for s in re.findall(r'<td class="num">([\d.]+) t/s</td>', body)]
    assert speeds and speeds[:3] == sorted(speeds[:3], reverse=True)


def test_a_quant_row_link_swaps_the_live_region_and_the_controls(client: Client) -> None:
    body = client.get(URL + "?quant=Q6_K", headers=hx(target="live")).content.decode()
    assert body.startswith('<form id="controls"')
    assert '<form id="controls" class="state"' in body and 'hx-swap-oob="true">' in body
    assert '<option value="Q6_K" selected>' in body
    assert '<div id="live">' in body


def test_a_history_restore_gets_the_whole_page(client: Client) -> None:
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    body = client.get(URL + "?ctx=32768", headers=headers).content.decode()
    assert body.startswith("<!doctype html>")
    assert 'value="32768"' in body


def test_a_rendered_state_is_served_from_the_cache_until_the_catalog_changes(
    client: Client,
) -> None:
    from catalog.models import Hardware

    url = URL + "?ctx=12288&gpu=rtx-3090"
    first = client.get(url, headers=hx("gpu"))
    second = client.get(url, headers=hx("gpu"))
    assert 'panels;desc="rendered"' in first.headers["Server-Timing"]
    assert 'panels;desc="cached"' in second.headers["Server-Timing"]
    assert first.content == second.content
    gpu = Hardware.objects.get(slug="rtx-3090")
    gpu.name = "NVIDIA GeForce RTX 3090 (renamed)"
    gpu.save()
    third = client.get(url, headers=hx("gpu"))
    assert 'panels;desc="rendered"' in third.headers["Server-Timing"]
    assert "RTX 3090 (renamed)" in third.content.decode()


def test_every_response_says_its_server_time(client: Client) -> None:
    timing = client.get("/healthz").headers["Server-Timing"]
    assert re.fullmatch(r"app;dur=\d+\.\d\d", timing)


def test_the_quality_column_cites_the_llama_cpp_measurements(client: Client) -> None:
    html = client.get(URL).content.decode()
    quants = html[html.index('id="quant-h"') : html.index('id="serve-h"')]
    row = re.search(r">Q4_K_M</a></th>.*?</tr>", quants)
    assert row and "0.0313 · +2.8%" in row.group(0)  # KLD 0.031273, PPL 6.407115 / 6.233160
    f32 = re.search(r">F32</a></th>.*?</tr>", quants)
    assert f32 and "not measured" in f32.group(0)
    assert "measured by llama.cpp on Llama 3 8B only" in quants
    assert "github.com/ggml-org/llama.cpp/blob/master/tools/perplexity/README.md" in quants


def test_runtimes_the_catalog_has_no_id_for_say_so(client: Client) -> None:
    from catalog.models import Model

    model = Model.objects.get(slug="llama-3-1-8b-instruct")
    html = client.get(URL).content.decode()
    run = html[html.index('id="run-h"') :]
    assert f'href="lmstudio://open_from_hf?model={model.gguf_repo}"' in run
    assert f"lms get {model.gguf_repo}@Q4_K_M" in run
    model.mlx_repo = ""
    model.save()
    run = client.get(URL).content.decode()
    run = run[run.index('id="run-h"') :]
    assert '<summary>MLX <small class="muted">not available</small></summary>' in run
    assert "No MLX conversion of this model is listed in our catalog." in run


def test_the_context_slider_moves_over_stops_beside_a_number_box(client: Client) -> None:
    html = client.get(URL + "?ctx=22000").content.decode()
    stops = "512,1024,2048,3072,4096,6144,8192,12288,16384,24576,32768,49152,65536,98304,131072"
    assert f'data-stops="{stops}" data-for="ctx"' in html
    assert 'max="14" value="9" data-stops' in html  # 22000 is nearest 24576, the tenth stop
    assert '<input type="number" id="ctx" name="ctx" min="512" max="131072" value="22000"' in html
