"""Submitting results: the form without and with HTMX, the paste flow, abuse defences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from benchmarks.models import Status, Submission

pytestmark = pytest.mark.django_db

URL = "/benchmarks/submit/"
MODEL = "llama-3-1-8b-instruct"
# Written in the format of a current llama-bench (not a recorded run): pp and tg at depth 0 and
# 4096 with flash attention, as the paste flow reads it.
TABLE = (Path(__file__).parent / "data" / "constructed_rtx4090_llama8b.md").read_text()


def result(**changes: Any) -> dict[str, Any]:
    """A valid single-result POST: Llama 3.1 8B Q4_K_M, tg128 on an RTX 4090."""
    data = {
        "model": MODEL, "hardware": "rtx-4090", "hardware_text": "", "hardware_count": "1",
        "runtime": "llama.cpp", "runtime_version": "b6123", "backend": "cuda", "notes": "",
        "link": "", "name": "", "website": "",
        "rows-TOTAL_FORMS": "1", "rows-INITIAL_FORMS": "0", "rows-MIN_NUM_FORMS": "1",
        "rows-MAX_NUM_FORMS": "50",
        "rows-0-quant": "Q4_K_M", "rows-0-quant_text": "", "rows-0-context": "128",
        "rows-0-depth": "0", "rows-0-batch": "1", "rows-0-flash_attn": "true",
        "rows-0-kv_type": "f16", "rows-0-prompt_tokens_per_s": "",
        "rows-0-gen_tokens_per_s": "130", "rows-0-test": "tg128",
    }  # fmt: skip
    return data | {k: str(v) for k, v in changes.items()}


def test_the_form_is_prefilled_from_the_model_page_s_link(client: Client) -> None:
    html = client.get(URL + f"?model={MODEL}&hardware=rtx-3090&quant=Q5_K_M").content.decode()
    assert f'<option value="{MODEL}" selected>' in html
    assert '<option value="rtx-3090" selected>' in html
    assert '<option value="Q5_K_M" selected>' in html


def test_a_plausible_result_is_published_after_post_redirect_get(client: Client) -> None:
    response = client.post(URL, result())
    assert response.status_code == 302 and response["Location"].startswith("/benchmarks/submitted/")
    stored = Submission.objects.get()
    assert stored.status == Status.PUBLISHED and stored.held_reason == ""
    assert stored.gen_tokens_per_s == 130.0 and stored.hardware.slug == "rtx-4090"  # type: ignore[union-attr]
    page = client.get(response["Location"]).content.decode()
    assert "published" in page and "Llama 3.1 8B Instruct" in page


def test_an_impossible_result_is_stored_and_held_with_its_reason(client: Client) -> None:
    response = client.post(URL, result(**{"rows-0-gen_tokens_per_s": 5000}))
    assert response.status_code == 302
    held = Submission.objects.get()
    assert held.status == Status.PENDING
    assert "22.9x the memory-bandwidth roofline of 218 tokens/s" in held.held_reason
    assert "held for a moderator" in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rows-0-gen_tokens_per_s": "-3"}, "Ensure this value is greater than or equal to 0.01."),
        ({"rows-0-gen_tokens_per_s": "fast"}, "Enter a number."),
        ({"rows-0-gen_tokens_per_s": ""}, "Give the prompt or the generation speed (or both)."),
        ({"rows-0-depth": "4096"}, "The depth (4096) is more than the context (128)."),
        ({"rows-0-context": "300000"}, "A context of 300,000 tokens is more than"),
        ({"hardware": "other"}, "Name the device, or choose one from the list."),
        ({"hardware": "rtx-9999"}, "No device “rtx-9999” in our catalog"),
        ({"model": "no-such-model"}, "No model with that slug in our catalog."),
        ({"rows-0-quant": "", "rows-0-quant_text": ""}, "Choose a quant, or write the file name."),
        ({"hardware_count": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"rows-TOTAL_FORMS": "0"}, "Please submit at least 1 form."),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    client: Client, changes: dict[str, str], message: str
) -> None:
    response = client.post(URL, result(**changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Submission.objects.exists()


def test_htmx_gets_inline_errors_and_a_redirect_header_on_success(client: Client) -> None:
    htmx = {"HX-Request": "true", "HX-Target": "submit-form"}
    bad = client.post(URL, result(**{"rows-0-gen_tokens_per_s": "fast"}), headers=htmx)
    html = bad.content.decode()
    assert (
        bad.status_code == 200 and "<html" not in html and html.startswith('<form id="submit-form"')
    )
    assert "Enter a number." in html
    good = client.post(URL, result(), headers=htmx)
    assert good.status_code == 204 and good["HX-Redirect"].startswith("/benchmarks/submitted/")


def test_a_pasted_llama_bench_table_becomes_rows_to_review(client: Client) -> None:
    response = client.post(URL, {"action": "read", "paste": TABLE, "model": MODEL})
    html = response.content.decode()
    assert "Read 4 rows from the output" in html
    assert 'name="rows-TOTAL_FORMS" value="4"' in html
    assert 'name="rows-3-gen_tokens_per_s" value="139.77"' in html
    assert 'name="rows-2-depth" value="4096"' in html
    assert 'name="rows-2-context" value="4608"' in html  # 512 prompt tokens at depth 4096
    assert 'name="runtime_version" value="build 5c4bfe4 (6123)"' in html
    assert f'<option value="{MODEL}" selected>' in html  # what was chosen before stays


def test_an_unreadable_paste_says_which_line(client: Client) -> None:
    broken = TABLE.replace("|        149.23 ± 0.14 |", "")
    html = client.post(URL, {"action": "read", "paste": broken}).content.decode()
    assert "line 6" in html
    assert not Submission.objects.exists()


def test_every_pasted_row_is_submitted_at_once(client: Client) -> None:
    rows: dict[str, str] = {}
    tests = [
        ("pp512", 512, 0, "12071.5", ""),
        ("tg128", 128, 0, "", "149.23"),
        ("pp512 @ d4096", 4608, 4096, "9512.21", ""),
        ("tg128 @ d4096", 4224, 4096, "", "139.77"),
    ]
    for i, (test, ctx, depth, pp, tg) in enumerate(tests):
        rows |= {
            f"rows-{i}-quant": "Q4_K_M", f"rows-{i}-quant_text": "", f"rows-{i}-context": str(ctx),
            f"rows-{i}-depth": str(depth), f"rows-{i}-batch": "1", f"rows-{i}-flash_attn": "true",
            f"rows-{i}-kv_type": "f16", f"rows-{i}-prompt_tokens_per_s": pp,
            f"rows-{i}-gen_tokens_per_s": tg, f"rows-{i}-test": test,
        }  # fmt: skip
    data = result() | rows | {"rows-TOTAL_FORMS": "4", "paste": TABLE}
    assert client.post(URL, data).status_code == 302
    stored = Submission.objects.order_by("id")
    assert [s.test for s in stored] == [t[0] for t in tests]
    assert {s.status for s in stored} == {Status.PUBLISHED}
    assert {s.source for s in stored} == {"paste"}


def test_the_same_result_twice_is_a_duplicate(client: Client) -> None:
    client.post(URL, result())
    again = client.post(URL, result(runtime_version="  B6123 "))  # same, typed differently
    assert "this exact result was already submitted on" in again.content.decode()
    assert Submission.objects.count() == 1


def test_the_honeypot_stores_nothing(client: Client) -> None:
    response = client.post(URL, result(website="https://spam.example"))
    assert response.status_code == 302
    assert not Submission.objects.exists()


def test_an_address_is_limited_and_told_when_to_come_back(client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.BENCHMARK_RATE_LIMIT = 2
    for tps in (130, 131):
        assert client.post(URL, result(**{"rows-0-gen_tokens_per_s": tps})).status_code == 302
    limited = client.post(URL, result(**{"rows-0-gen_tokens_per_s": 132}))
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert "Too many submissions from your address: at most 2 an hour." in limited.content.decode()
    assert Submission.objects.count() == 2
    other = Client(REMOTE_ADDR="198.51.100.7")  # another address is not limited
    assert other.post(URL, result(**{"rows-0-gen_tokens_per_s": 133})).status_code == 302


def test_the_address_is_stored_only_as_a_salted_hash(client: Client) -> None:
    client.post(URL, result(), REMOTE_ADDR="203.0.113.9")
    stored = Submission.objects.get()
    assert len(stored.ip_hash) == 64 and "203.0.113.9" not in stored.ip_hash
    values = Submission.objects.values_list(flat=False).get()
    assert not any("203.0.113.9" in str(v) for v in values)


def test_notes_with_html_are_stored_as_written_and_shown_escaped(client: Client) -> None:
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    client.post(URL, result(notes=attack, name="<b>me</b>"))
    assert Submission.objects.get().notes == attack
    page = client.get(f"/models/{MODEL}/").content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert (
        "<script>alert" not in page and "<b>me</b>" not in page and "&lt;b&gt;me&lt;/b&gt;" in page
    )


def test_the_confirmation_link_cannot_be_forged(client: Client) -> None:
    response = client.get("/benchmarks/submitted/?t=[1,2,3]")
    assert response.status_code == 400 and "Link expired or invalid" in response.content.decode()


def test_behind_a_proxy_the_address_comes_from_the_proxy_s_header(settings) -> None:  # type: ignore[no-untyped-def]
    from django.test import RequestFactory

    from config.ratelimit import client_address

    request = RequestFactory().post(
        URL, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5"
    )
    assert client_address(request) == "10.0.0.2"  # no proxy configured: the header is ignored
    settings.TRUSTED_PROXIES = 1
    assert client_address(request) == "203.0.113.5"  # not the forgeable first entry
    settings.TRUSTED_PROXIES = 3
    assert client_address(request) == "10.0.0.2"  # fewer hops than configured: do not trust


def test_a_client_is_its_network(settings) -> None:  # type: ignore[no-untyped-def]
    from django.test import RequestFactory

    from config.ratelimit import client_hash, client_network

    def request(address: str) -> Any:
        return RequestFactory().post(URL, REMOTE_ADDR=address)

    assert client_network(request("203.0.113.9")) == "203.0.113.0/24"
    assert client_network(request("2001:db8:1:2::17")) == "2001:db8:1:2::/64"
    assert client_hash(request("2001:db8:1:2::1")) == client_hash(request("2001:db8:1:2::ffff"))
    assert client_hash(request("2001:db8:1:2::1")) != client_hash(request("2001:db8:1:3::1"))


def test_a_paste_of_several_models_is_refused_with_their_names(client: Client) -> None:
    data = (Path(__file__).parent / "data" / "llama_bench" / "md_2025_rpc_vulkan.md").read_text()
    html = client.post(URL, {"action": "read", "paste": data}).content.decode()
    assert "This output has results for 2 models" in html
    assert "paste one model&#x27;s rows at a time." in html


def test_a_paste_of_more_tests_than_one_submission_takes_is_refused(client: Client) -> None:
    header = TABLE.split("\n")[2:4]
    row = TABLE.split("\n")[5]
    big = "\n".join([*header, *(row.replace("tg128", f"tg{n}") for n in range(1, 61))])
    html = client.post(URL, {"action": "read", "paste": big}).content.decode()
    assert "This output has 60 tests; submit at most 50 at a time." in html


def test_a_row_left_at_its_defaults_is_left_out_not_a_crash(client: Client) -> None:
    extra = {"rows-TOTAL_FORMS": "2", "rows-1-depth": "0", "rows-1-batch": "1",
             "rows-1-kv_type": "f16", "rows-1-flash_attn": "unknown"}  # fmt: skip
    response = client.post(URL, result() | extra)
    assert response.status_code == 302 and Submission.objects.count() == 1
