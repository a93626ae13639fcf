"""/hardware/<slug>/: what runs on a device, at a context, on 1-8 of them or another Apple
memory size; the "pick my device" flow; rentals."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh() -> None:
    cache.clear()


def runs(html: str) -> dict[str, tuple[str, str]]:
    """Model name -> (best quant, grade) from the page's table."""
    table = html[html.index('<table class="runs">') :].split("</table>")[0]
    return {
        name: (quant, grade)
        for name, quant, grade in re.findall(
            r'<th scope="row"><a [^>]+>([^<]+)</a>.*?<td>(\w+)[^<]*(?:<small[^>]*>[^<]*</small>)?'
            r'</td><td class="num">[^<]+</td><td><span class="grade g(\w)">',
            table,
        )
    }


def test_the_most_precise_quant_that_fits_is_chosen(client: Client) -> None:
    table = runs(client.get("/hardware/rtx-4090/").content.decode())
    assert table["Llama 3.1 8B Instruct"] == ("Q8_0", "A")  # 9.2 GiB on 24 GiB
    assert table["Gemma 3 27B Instruct"] == ("Q5_K_M", "A")  # Q6_K would fit only tightly
    assert "Llama 3.1 405B Instruct" not in table  # fits at no quant: hidden by default


def test_everything_is_listed_on_request_with_the_reason(client: Client) -> None:
    html = client.get("/hardware/rtx-4090/?all=1").content.decode()
    assert runs(html)["Llama 3.1 405B Instruct"][1] == "F"


def test_two_gpus_run_a_more_precise_quant(client: Client) -> None:
    one = runs(client.get("/hardware/rtx-4090/").content.decode())
    two = runs(client.get("/hardware/rtx-4090/?count=2").content.decode())
    # 20.6 GiB fits 22 GiB tightly; two cards hold 38.4 GiB with room to spare. (With 64 GiB of
    # RAM beside it, one card also runs what it cannot hold: both lists are every model that
    # runs, so they are the same length.)
    assert one["Llama 3.3 70B Instruct"] == ("IQ2_XXS", "C")
    assert two["Llama 3.3 70B Instruct"] == ("IQ4_XS", "B")


def test_apple_memory_configurations_change_what_fits(client: Client) -> None:
    small = runs(client.get("/hardware/apple-m2-max/?mem=32").content.decode())
    large = runs(client.get("/hardware/apple-m2-max/?mem=96").content.decode())
    assert len(large) >= len(small)
    # 2/3 of 32 GiB for the GPU holds no quant whole: Q2_K runs with 21 of its 80 layers left to
    # the CPU (~11 tokens/s); 3/4 of 96 GiB holds Q6_K whole.
    assert small["Llama 3.3 70B Instruct"] == ("Q2_K", "C")
    assert large["Llama 3.3 70B Instruct"][0] == "Q6_K"


def notes(html: str) -> list[str]:
    """The corrections the settings form lists."""
    box = html[html.index('<div class="errors" role="status">') :].split("</div>")[0]
    return re.findall(r"<li>([^<]*)</li>", box)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("ctx=abc", "Context &#x27;abc&#x27; is not one of the options; using 8K."),
        ("count=3", "Devices &#x27;3&#x27; is not one of the options; using 1."),
        ("sort=<b>", "Sort &#x27;&lt;b&gt;&#x27; is not one of the options; using Fastest."),
        ("q=" + "y" * 61, "Model is longer than 60 characters; using the first 60."),
    ],
)
def test_bad_settings_are_reported_not_fatal(client: Client, query: str, message: str) -> None:
    response = client.get(f"/hardware/rtx-4090/?{query}")
    assert response.status_code == 200 and notes(response.content.decode()) == [message]


def test_an_apple_chip_is_one_device_in_its_own_sizes(client: Client) -> None:
    html = client.get("/hardware/apple-m2-max/?count=2&mem=7").content.decode()
    assert notes(html) == [
        "Devices &#x27;2&#x27; is not one of the options; using 1.",
        "Memory &#x27;7&#x27; is not one of the options; using 96 GiB.",
    ]
    assert '<option value="96" selected>96 GiB</option>' in html


def test_sorting_and_search(client: Client) -> None:
    names = list(runs(client.get("/hardware/rtx-4090/?sort=name&q=llama 3.1").content.decode()))
    assert len(names) >= 4  # 8B, 70B, 8B base, Nemotron 70B: an empty result would prove nothing
    assert names == sorted(names, key=str.lower) and all("Llama 3.1" in n for n in names)


def test_the_rows_link_to_the_model_page_in_the_same_state(client: Client) -> None:
    html = client.get("/hardware/rtx-3090/?count=2&ctx=32768").content.decode()
    assert (
        'href="/models/llama-3-1-8b-instruct/?quant=Q8_0&amp;ctx=32768&amp;gpu=rtx-3090&amp;gpu_count=2"'
        in html
    )


def test_rental_offers_of_the_device(client: Client) -> None:
    html = client.get("/hardware/rtx-4090/").content.decode()
    rent = html[html.index('id="rent"') :].split("</section>")[0]
    assert "$/GPU-hour" in rent and "snapshot 2026-11-22" in rent
    assert "No provider we track" in client.get("/hardware/apple-m2-max/").content.decode()


def test_pick_my_device_goes_to_its_page(client: Client) -> None:
    response = client.get("/hardware/pick/?device=rtx-4090&count=2&ctx=32768")
    assert response["Location"] == "/hardware/rtx-4090/?count=2&ctx=32768"
    missing = client.get("/hardware/pick/?device=nope")
    assert missing["Location"] == "/hardware/?missing=1"
    assert "Choose a device from the list." in client.get(missing["Location"]).content.decode()


def test_an_unknown_device_is_404(client: Client) -> None:
    assert client.get("/hardware/no-such-gpu/").status_code == 404
