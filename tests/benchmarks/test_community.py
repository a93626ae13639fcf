"""The community section on model and hardware pages, moderation, and calibration."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from benchmarks import calibration
from benchmarks.models import Status, Submission
from benchmarks.plausibility import Setup, estimate_gen
from catalog.models import Hardware, Model, Revision

pytestmark = pytest.mark.django_db

MODEL = "llama-3-1-8b-instruct"
PAGE = f"/models/{MODEL}/"
_n = iter(range(10**6))


def make(**overrides: Any) -> Submission:
    """A stored result (as the form stores it: with our uncalibrated estimate then)."""
    values: dict[str, Any] = {
        "model": Model.objects.get(slug=MODEL),
        "quant": "Q4_K_M",
        "hardware": Hardware.objects.get(slug="rtx-4090"),
        "hardware_count": 1,
        "runtime": "llama.cpp",
        "backend": "cuda",
        "context": 128,
        "depth": 0,
        "batch": 1,
        "flash_attn": True,
        "kv_type": "f16",
        "gen_tokens_per_s": 150.0,
        "status": Status.PUBLISHED,
        "ip_hash": "a" * 64,
    } | overrides
    hw = values["hardware"]
    setup = Setup(
        values["model"], values["quant"], hw, values["hardware_count"], values["context"],
        values["depth"], values["batch"], values["flash_attn"], values["kv_type"], None,
        values["gen_tokens_per_s"],
    )  # fmt: skip
    values.setdefault("estimate_gen_tokens_per_s", estimate_gen(setup) if hw else None)
    return Submission.objects.create(fingerprint=f"{next(_n):064d}", **values)


def community(html: str) -> str:
    match = re.search(r'<section id="community".*?</section>', html, re.S)
    assert match, "no community section"
    return match.group(0)


def test_no_results_invites_the_first(client: Client) -> None:
    html = client.get(PAGE).content.decode()
    section = community(html)
    assert "No community runs yet — be the first" in section
    assert f'href="/benchmarks/submit/?model={MODEL}"' in section
    # and the page takes a pasted llama-bench output to the review step
    form = html[html.index('<details class="panel submit-run">') :]
    assert '<form method="post" action="/benchmarks/submit/">' in form
    assert f'<input type="hidden" name="model" value="{MODEL}">' in form
    assert 'name="csrfmiddlewaretoken"' in form


def test_only_published_results_are_shown(client: Client) -> None:
    make(gen_tokens_per_s=151.0)
    make(gen_tokens_per_s=5000.0, status=Status.PENDING)
    make(gen_tokens_per_s=152.0, status=Status.REJECTED)
    section = community(client.get(PAGE).content.decode())
    assert "1 published result," in section
    assert ">151<" in section and "5,000" not in section and ">152<" not in section


def test_medians_per_device_and_quant_and_each_result_beside_the_estimate(client: Client) -> None:
    for tps in (140.0, 150.0, 160.0):
        make(gen_tokens_per_s=tps)
    make(hardware=Hardware.objects.get(slug="rtx-3090"), gen_tokens_per_s=120.0)
    section = community(client.get(PAGE).content.decode())
    groups = section[section.index('class="bench-groups"') :]
    # our estimate for this setup: 130.7 tokens/s; ratios 1.071, 1.148, 1.224 -> median 1.15
    assert re.search(
        r"NVIDIA GeForce RTX 4090</th><td>Q4_K_M</td><td class=\"num\">3</td>"
        r"<td class=\"num\">150</td><td class=\"num\">131</td><td class=\"num\">1.15</td>",
        groups,
    )
    assert '<td class="num">160</td><td class="num">131</td><td class="num">1.22</td>' in section
    assert section.count('class="estimate"') == 2  # a tick per group in the chart


def test_filters_narrow_the_results_and_junk_is_reported(client: Client) -> None:
    make(gen_tokens_per_s=150.0)
    make(hardware=Hardware.objects.get(slug="rtx-3090"), gen_tokens_per_s=120.0)
    only = community(client.get(PAGE + "?bhw=rtx-3090").content.decode())
    assert ">120<" in only and ">150<" not in only
    junk = community(client.get(PAGE + "?bhw=<script>&bq=zzz").content.decode())
    assert "No published result with that device; showing all." in junk
    assert ">120<" in junk and ">150<" in junk and "<script>" not in junk


def test_htmx_filtering_returns_only_the_section(client: Client) -> None:
    make()
    response = client.get(
        PAGE + "?bq=Q4_K_M", headers={"HX-Request": "true", "HX-Target": "community"}
    )
    html = response.content.decode()
    assert html.startswith('<section id="community"') and "<html" not in html


def test_the_hardware_page_lists_results_across_models(client: Client) -> None:
    make()
    make(model=Model.objects.get(slug="qwen3-8b"), gen_tokens_per_s=140.0)
    section = community(client.get("/hardware/rtx-4090/").content.decode())
    assert "Llama 3.1 8B Instruct" in section and "Qwen3 8B" in section
    assert "2 published results" in section


def test_moderators_publish_and_reject_in_bulk(admin_client: Client) -> None:
    held = [make(gen_tokens_per_s=t, status=Status.PENDING, held_reason="x") for t in (141, 142)]
    assert "No community runs yet" in community(admin_client.get(PAGE).content.decode())
    listing = admin_client.get("/admin/benchmarks/submission/?status__exact=pending")
    assert (
        listing.status_code == 200
        and listing.content.decode().count('name="_selected_action"') == 2
    )
    admin_client.post(
        "/admin/benchmarks/submission/",
        {"action": "publish", "_selected_action": [held[0].pk]},
    )
    admin_client.post(
        "/admin/benchmarks/submission/",
        {"action": "reject_implausible", "_selected_action": [held[1].pk]},
    )
    held[0].refresh_from_db()
    held[1].refresh_from_db()
    assert held[0].status == Status.PUBLISHED and held[0].moderated_at is not None
    assert held[1].status == Status.REJECTED
    assert held[1].rejected_reason == "Implausible for this setup."
    section = community(admin_client.get(PAGE).content.decode())
    assert ">141<" in section and ">142<" not in section


def devices_row(html: str, name: str) -> str:
    row = re.search(rf"<tr><th scope=\"row\"><a href=\"[^\"]+\">{name}</a></th>.*?</tr>", html)
    assert row, name
    return row.group(0)


def test_five_runs_from_three_people_calibrate_the_estimate(client: Client) -> None:
    before = devices_row(client.get(PAGE).content.decode(), "NVIDIA GeForce RTX 3090")
    for i, tps in enumerate((96.0, 98.0, 100.0, 102.0, 104.0)):  # 0.77x our estimate of ~131
        make(gen_tokens_per_s=tps, ip_hash=str(i % 3) * 64)
    calib = calibration.compute(Revision.current().benchmarks)
    factor = calib.factor("nvidia", "llama.cpp")
    assert factor is not None and factor.runs == 5 and round(factor.value, 3) == 0.765
    html = client.get(PAGE).content.decode()
    note = (
        "Decode speeds calibrated by community llama.cpp results: "
        "NVIDIA GPUs x0.76 (median of 5 runs)."
    )
    assert html.count(note) >= 2  # the devices panel and the community section
    after = devices_row(html, "NVIDIA GeForce RTX 3090")
    assert before != after  # every NVIDIA estimate moves, not only the 4090's


def test_one_person_cannot_calibrate_alone(client: Client) -> None:
    for tps in (96.0, 98.0, 100.0, 102.0, 104.0):
        make(gen_tokens_per_s=tps, ip_hash="b" * 64)
    assert calibration.compute(Revision.current().benchmarks).factors == {}
    assert "calibrated by community" not in client.get(PAGE).content.decode()


def test_the_factor_is_clamped(client: Client) -> None:
    for i in range(5):
        make(gen_tokens_per_s=240.0 + i, ip_hash=str(i) * 64)  # about 2x the estimate
    factor = calibration.compute("t").factor("nvidia", "llama.cpp")
    assert factor is not None and factor.value == calibration.CLAMP[1]


def test_batched_and_single_runs_are_never_one_median(client: Client) -> None:
    make(gen_tokens_per_s=150.0)
    make(gen_tokens_per_s=1900.0, batch=32, context=4096)
    make(gen_tokens_per_s=2000.0, batch=32, context=4096)
    section = community(client.get(PAGE).content.decode())
    groups = section[section.index('class="bench-groups"') :].split("</table>")[0]
    assert re.search(r"NVIDIA GeForce RTX 4090</th><td>Q4_K_M</td><td class=\"num\">1</td>"
                     r"<td class=\"num\">150</td>", groups)  # fmt: skip
    assert re.search(r"NVIDIA GeForce RTX 4090, batch 32</th><td>Q4_K_M</td>"
                     r"<td class=\"num\">2</td><td class=\"num\">1,950</td>", groups)  # fmt: skip


def test_a_moderator_s_edit_recomputes_the_estimate_it_is_judged_by(admin_client: Client) -> None:
    held = make(gen_tokens_per_s=100.0, status=Status.PENDING)
    before = held.estimate_gen_tokens_per_s
    form = admin_client.get(f"/admin/benchmarks/submission/{held.pk}/change/")
    assert form.status_code == 200
    from django.forms.models import model_to_dict

    data = {k: ("" if v is None else v) for k, v in model_to_dict(held).items()}
    data |= {"quant": "Q8_0", "status": "published", "flash_attn": "true"}
    response = admin_client.post(f"/admin/benchmarks/submission/{held.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    held.refresh_from_db()
    assert held.quant == "Q8_0" and held.estimate_gen_tokens_per_s < before  # type: ignore[operator]
