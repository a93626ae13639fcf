"""The model page's serving target (users served at a per-user speed and time to first token)
and the cost of a million output tokens on your own machine's electricity."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from catalog.model_page.page import Page
from catalog.model_page.panels import changed_by, rentals
from catalog.model_page.state import read_state
from catalog.models import Hardware, Model, Revision
from catalog.snapshot import snapshot
from estimator.devices import from_hardware
from estimator.memory import MemoryOptions
from estimator.serving import DEFAULT_KWH_PRICE, KWH_PRICE_SOURCE, Target, point, serve
from estimator.units import tps

pytestmark = pytest.mark.django_db
SLUG = "llama-3-1-8b-instruct"
URL = f"/models/{SLUG}/"


def text(html: str) -> str:
    """The page's words, tags and runs of spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def target_part(html: str) -> str:
    start = html.index('id="serve-target"')
    return text(html[start : html.index("</div>", start)])


def page_for(query: dict[str, str]) -> Page:
    snap, prices = snapshot()
    brief = snap.models[SLUG]
    state = read_state(query, brief, list(snap.by_slug))
    return Page(snap.model(brief.pk), state, snap, prices)


def served(gpu_count: int = 1, target: Target | None = None, ctx: int = 8192):
    model = Model.objects.get(slug=SLUG)
    device = from_hardware(Hardware.objects.get(slug="rtx-4090"), gpu_count)
    return serve(
        model.estimator_config, MemoryOptions(file_type="Q4_K_M", n_ctx=ctx), device,
        target or Target(20.0, 2.0, 1024), ctx=ctx,
    )  # fmt: skip


def test_default_target_is_20_tokens_per_s_first_token_in_2_s_for_1024_tokens(
    client: Client,
) -> None:
    html = client.get(URL).content.decode()
    part = target_part(html)
    result = served()
    best = result.at_target
    assert best is not None and result.limit == "memory"
    # Memory bounds it: 17 caches of 8,192 tokens at Q4_K_M fit a 24 GB RTX 4090, not 18.
    assert best.users == result.users_that_fit == 17
    assert (
        "NVIDIA GeForce RTX 4090 (llama.cpp) serves 17 users at ≥ 20 tokens/s each with the "
        "first token in ≤ 2 s for a 1024-token prompt; aggregate "
        f"{tps(best.aggregate_tokens_per_s)} tokens/s ({tps(best.per_user_tokens_per_s)} "
        "tokens/s each"
    ) in part
    assert "Limited by memory : the caches of 17 users fill it." in part
    # The defaults stay out of the URL.
    assert "per_user_tps=" not in html and "kwh_price=" not in html
    for name, value in (("per_user_tps", "20"), ("ttft_s", "2"), ("prompt_tokens", "1024")):
        assert f'name="{name}"' in html and re.search(rf'name="{name}"[^>]*value="{value}"', html)


def test_two_gpus_serve_more_users_than_one(client: Client) -> None:
    part = target_part(client.get(URL + "?gpu_count=2").content.decode())
    two = served(gpu_count=2)
    assert two.at_target is not None and two.at_target.users == two.users_that_fit == 39
    assert "NVIDIA GeForce RTX 4090 x 2 (llama.cpp) serves 39 users" in part


def test_a_speed_target_between_one_user_and_a_full_device_stops_at_speed(
    client: Client,
) -> None:
    target = Target(100.0, 2.0, 1024)
    result = served(target=target)
    best = result.at_target
    assert best is not None and result.limit == "speed"
    assert 1 <= best.users < result.users_that_fit
    # The most users that each still get 100 tokens/s: one more and they do not.
    model = Model.objects.get(slug=SLUG)
    device = from_hardware(Hardware.objects.get(slug="rtx-4090"))
    more = point(
        model.estimator_config, MemoryOptions(file_type="Q4_K_M", n_ctx=8192), device,
        users=best.users + 1, ctx=8192, prompt_tokens=1024,
    )  # fmt: skip
    assert best.per_user_tokens_per_s >= 100 > more.per_user_tokens_per_s
    part = target_part(client.get(URL + "?per_user_tps=100").content.decode())
    assert f"serves {best.users} user" in part
    assert "Limited by speed : one more user brings everyone below 100 tokens/s." in part
    html = client.get(URL + "?per_user_tps=100").content.decode()
    link = re.search(r'<a href="\?([^"]+)"[^>]*>Show the serving plan for (\d+) users?</a>', html)
    assert link and int(link.group(2)) == best.users
    assert f"users={best.users}&amp;" in link.group(1) and "per_user_tps=100" in link.group(1)


def test_a_speed_no_single_user_gets_says_what_one_user_gets(client: Client) -> None:
    result = served(target=Target(400.0, 2.0, 1024))
    assert result.at_target is None and result.limit == "speed" and result.single is not None
    part = target_part(client.get(URL + "?per_user_tps=400").content.decode())
    assert (
        "cannot give even one user 400 tokens/s: one user decodes at "
        f"{tps(result.single.per_user_tokens_per_s)} tokens/s. Limited by speed ."
    ) in part


def test_a_long_prompt_misses_the_time_to_first_token(client: Client) -> None:
    result = served(target=Target(5.0, 0.1, 131072), ctx=131072)
    assert result.at_target is None and result.limit == "ttft"
    assert result.single is not None and result.single.ttft_s is not None
    assert result.single.ttft_s > 0.1
    query = "?ctx=131072&prompt_tokens=131072&ttft_s=0.1&per_user_tps=5"
    part = target_part(client.get(URL + query).content.decode())
    assert "cannot give even one user the first token within 0.1 s: a 131072-token prompt" in part
    assert "Limited by time to first token ." in part


@pytest.mark.parametrize(
    ("query", "note"),
    [
        ("?per_user_tps=abc", "Speed per user (tokens/s) must be a number; using 20.0."),
        ("?per_user_tps=nan", "Speed per user (tokens/s) must be a number; using 20.0."),
        ("?per_user_tps=9999",
         "Speed per user (tokens/s) 9999 is out of range (0.5 to 500.0); using 500.0."),
        ("?ttft_s=0", "Time to first token (s) 0 is out of range (0.1 to 600.0); using 0.1."),
        ("?prompt_tokens=1e9",
         "Prompt (tokens) 1000000000 is out of range (1 to 262144); using 262144."),
        ("?prompt_tokens=20000",
         "A prompt of 20000 tokens is longer than the context; using 8192."),
        ("?kwh_price=junk",
         f"Electricity price ($/kWh) must be a number; using {DEFAULT_KWH_PRICE}."),
        ("?kwh_price=-1", "Electricity price ($/kWh) -1 is out of range (0.0 to 5.0); using 0.0."),
        ("?kwh_price=7.5",
         "Electricity price ($/kWh) 7.5 is out of range (0.0 to 5.0); using 5.0."),
    ],
)  # fmt: skip
def test_bad_targets_and_prices_are_corrected_and_noted_never_a_500(
    client: Client, query: str, note: str
) -> None:
    response = client.get(URL + query)
    assert response.status_code == 200
    assert note.replace("'", "&#x27;") in response.content.decode()


def test_the_target_and_price_stay_in_the_url_and_the_form() -> None:
    page = page_for({"per_user_tps": "35.5", "ttft_s": "1.5", "prompt_tokens": "4096",
                     "kwh_price": "0.31"})  # fmt: skip
    s = page.state
    assert (s.per_user_tps, s.ttft_s, s.prompt_tokens, s.kwh_price) == (35.5, 1.5, 4096, 0.31)
    assert s.query().endswith("&per_user_tps=35.5&ttft_s=1.5&prompt_tokens=4096&kwh_price=0.31")
    again = page_for(dict(p.split("=") for p in s.query().split("&")))
    assert again.state == s


def hx(name: str) -> dict[str, str]:
    return {"HX-Request": "true", "HX-Target": "live-summary", "HX-Trigger-Name": name}


def test_a_target_control_brings_back_the_serving_plan_and_the_price_the_rentals(
    client: Client,
) -> None:
    assert changed_by("per_user_tps") == changed_by("ttft_s") == changed_by("prompt_tokens")
    assert changed_by("per_user_tps") == ("serving",)
    assert changed_by("kwh_price") == ("rentals",)
    body = client.get(
        URL + "?per_user_tps=50",
        headers=hx("per_user_tps"),
    ).content.decode()
    assert re.findall(r'<section id="(panel-\w+)"', body) == ["panel-serving"]
    assert "≥ 50 tokens/s per user" in body
    body = client.get(
        URL + "?kwh_price=0.4",
        headers=hx("kwh_price"),
    ).content.decode()
    assert re.findall(r'<section id="(panel-\w+)"', body) == ["panel-rentals"]
    assert "at $0.4/kWh." in text(body)


def test_local_cost_is_board_power_times_price_over_the_serving_plans_tokens(
    client: Client,
) -> None:
    page = page_for({"gpu_count": "2", "users": "8", "kwh_price": "0.3"})
    aggregate = page.serving.device.aggregate_tokens_per_s
    assert aggregate
    local = rentals.local_cost(page)
    assert local["watts"] == 900  # the RTX 4090's 450 W x 2
    dollars = 900 / 1000 * 0.3 / (aggregate * 3600) * 1e6
    assert local["cost"] == f"${dollars:,.2f}"
    html = client.get(URL + "?gpu_count=2&users=8&kwh_price=0.3").content.decode()
    words = text(html[html.index('id="local-cost"') :])
    assert (
        f"On your own machine (NVIDIA GeForce RTX 4090 x 2): {local['cost']} per 1M output "
        f"tokens of electricity at 8 users ({tps(aggregate)} tokens/s together; board power "
        "900 W, an upper bound"
    ) in words
    assert "at $0.3/kWh." in words


def test_the_default_price_names_its_source(client: Client) -> None:
    html = client.get(URL).content.decode()
    start = html.index('id="local-cost"')
    local = html[start : html.index("</p>", start)]
    assert f'<a href="{KWH_PRICE_SOURCE}" rel="noopener nofollow">' in local
    assert "at $0.1872/kWh, the US residential average" in text(local)


def test_free_electricity_costs_nothing() -> None:
    assert rentals.local_cost(page_for({"kwh_price": "0"}))["cost"] == "$0.00"


def test_a_device_without_a_published_board_power_says_unknown_and_why(client: Client) -> None:
    assert Hardware.objects.get(slug="apple-m3").tdp_watts is None
    html = client.get(URL + "?gpu=apple-m3").content.decode()
    start = html.index('id="local-cost"')
    assert (
        "On your own machine (Apple M3): unknown: no published board power (TDP) for the "
        "Apple M3 in our catalog."
    ) in text(html[start : html.index("</p>", start)])


def test_a_device_given_a_board_power_gets_a_cost() -> None:
    Hardware.objects.filter(slug="apple-m3").update(tdp_watts=22)
    Revision.bump()
    page = page_for({"gpu": "apple-m3"})
    local = rentals.local_cost(page)
    aggregate = page.serving.device.aggregate_tokens_per_s
    assert local["watts"] == 22 and aggregate
    assert local["cost"] == f"${22 / 1000 * DEFAULT_KWH_PRICE / (aggregate * 3600) * 1e6:,.2f}"
    assert local["reason"] == ""


def test_the_serving_target_is_the_estimators_for_the_page_state() -> None:
    page = page_for({"per_user_tps": "30", "ctx": "16384"})
    s = page.state
    expected = serve(
        page.config, s.options(), page.serving_device, Target(30.0, 2.0, 1024), ctx=16384
    )
    shown = page.data("serving")["target"]
    assert shown["result"] == expected
    assert shown["users"] == (expected.at_target.users if expected.at_target else 0)
