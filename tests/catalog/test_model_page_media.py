"""Images/audio on the model page: the encoder (mmproj) counted by default for a model that has
one, a switch to leave it out (kept in the URL), and the command that matches."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from catalog.snapshot import snapshot
from estimator.units import gib
from tests.catalog.test_model_page_machine import hx, section, text

pytestmark = pytest.mark.django_db
GEMMA = "/models/gemma-3-4b-it/"
# tests/estimator/test_mmproj.py: the F16 file's tensors and the compute buffer for an image
ENCODER, ENCODER_COMPUTE = 851_226_048, 127_139_840


def command(html: str) -> str:
    """The llama-server command line of the how-to-run panel."""
    found = re.search(r"llama-server -hf [^<\n]*", section(html, "run"))
    assert found is not None
    return found.group(0)


def test_a_model_with_an_encoder_counts_it_by_default(client: Client) -> None:
    html = client.get(GEMMA).content.decode()
    memory = text(section(html, "memory"))
    assert f"Image/audio encoder (mmproj F16) + {gib(ENCODER_COMPUTE)} compute" in memory
    assert gib(ENCODER) in memory
    # 256 image embeddings and the <start_of_image>, <end_of_image> markers
    assert "an image takes 258 tokens of the context" in memory
    assert 'name="media"' in html
    assert "--no-mmproj" not in command(html)
    run = text(section(html, "run"))
    assert f"{gib(ENCODER + ENCODER_COMPUTE)} with its compute buffer" in run


def test_text_only_leaves_the_encoder_out_and_keeps_the_choice_in_links(client: Client) -> None:
    html = client.get(GEMMA + "?media=off").content.decode()
    assert "Image/audio encoder" not in section(html, "memory")
    assert command(html).endswith("--no-mmproj") or " --no-mmproj " in command(html)
    assert "media=off" in html  # links of this state keep it
    on = client.get(GEMMA).content.decode()
    assert "media=on" not in on and "media=off" not in section(on, "memory")


def test_the_switch_re_renders_every_panel_that_depends_on_memory(client: Client) -> None:
    r = client.get(GEMMA + "?media=off", headers=hx("media"))
    assert r.status_code == 200
    body = r.content.decode()
    for name in ("memory", "plan", "devices", "quants", "run"):
        assert f'id="panel-{name}"' in body


def test_a_text_model_has_no_switch_and_ignores_the_parameter(client: Client) -> None:
    html = client.get("/models/llama-3-1-8b-instruct/?media=on").content.decode()
    assert 'name="media"' not in html
    assert "Image/audio encoder" not in html
    assert "--no-mmproj" not in html


def test_the_snapshot_knows_which_models_have_an_encoder() -> None:
    snap, _ = snapshot()
    assert snap.models["gemma-3-4b-it"].encoder is True
    assert snap.models["llama-3-1-8b-instruct"].encoder is False
    # llama.cpp has no projector for Phi-3.5-vision (estimator/mmproj.py)
    phi = next(b for slug, b in snap.models.items() if "phi-3-5-vision" in slug)
    assert phi.encoder is False


def test_a_decimal_ram_and_a_stray_bandwidth_are_corrected_and_said_so() -> None:
    from catalog.machine_state import read_machine

    state = read_machine({"ram": "48.5", "ram_gbps": "120"})
    assert (state.ram, state.ram_gbps, state.bandwidth_gbps) == (48, None, 96.0)
    assert state.notes == (
        "System RAM (GiB) takes whole numbers; using 48.",
        "RAM bandwidth (GB/s) applies to the custom RAM type only; ignored.",
    )
