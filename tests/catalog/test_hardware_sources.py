"""The hardware pages show each source as a short labelled link, never a note or a file path."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh() -> None:
    cache.clear()


def test_a_device_page_shows_each_source_as_a_labelled_link(client: Client) -> None:
    page = client.get("/hardware/rtx-4090/")
    ada = "https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf"
    assertContains(
        page, f'<a href="{ada}" rel="noopener nofollow">Bandwidth: images.nvidia.com</a>', html=True
    )
    assertContains(
        page,
        '<a href="https://www.club386.com/complete-geforce-rtx-4070-specifications-reveal-a-'
        'frugal-599-gpu/" rel="noopener nofollow">Power: club386.com</a>',
        html=True,
    )
    assertContains(
        page,
        '<a href="https://github.com/vast-ai/vast-cli" rel="noopener nofollow">'
        "Vast.ai names: github.com</a>",
        html=True,
    )
    assertContains(page, "<td>450 W</td>", html=True)


def test_a_device_page_prints_no_provenance_notes_or_paths(client: Client) -> None:
    for slug in ("rtx-3090", "rtx-4090", "apple-m3-max-30c", "amd-ryzen-ai-max-plus-395"):
        page = client.get(f"/hardware/{slug}/")
        for text in ("Appendix", "whitepaper", ".csv", "../", "/work/", "Retrieved via"):
            assertNotContains(page, text)


def test_a_cpu_page_shows_its_memory_channels(client: Client) -> None:
    page = client.get("/hardware/cpu-amd-ryzen-9-9950x/")
    assertContains(page, "<td>DDR5-5600, 2 channels of 64 bits</td>", html=True)
    assertContains(page, "<td>89.6 GB/s</td>", html=True)


def test_a_unified_memory_pc_links_the_gpu_share_it_states(client: Client) -> None:
    page = client.get("/hardware/amd-ryzen-ai-max-390/")
    assertContains(page, "GPU share: computerbase.de</a>")
    assertContains(page, "up to 96 GB of it for the GPU")


def test_the_hardware_list_shows_power_and_the_new_devices(client: Client) -> None:
    page = client.get("/hardware/")
    assertContains(page, '<th scope="col" class="num">Power</th>', html=True)
    for name in (
        "Intel Arc B580",
        "AMD Radeon RX 9070 XT",
        "Apple M4 Max (14-core CPU, 32-core GPU)",
        "NVIDIA H20",
        "AMD Instinct MI355X",
        "Intel Arc Pro B50 16GB",
    ):
        assertContains(page, name)


def test_a_derived_figure_and_a_mac_power_figure_link_their_public_pages(client: Client) -> None:
    page = client.get("/hardware/rtx-5090/")
    blackwell = (
        "https://images.nvidia.com/aem-dam/Solutions/geforce/blackwell/"
        "nvidia-rtx-blackwell-gpu-architecture.pdf"
    )
    assertContains(
        page,
        f'<a href="{blackwell}" rel="noopener nofollow">FP16: images.nvidia.com</a>',
        html=True,
    )
    assertNotContains(page, "derived")
    page = client.get("/hardware/apple-m2-ultra/")
    assertContains(
        page,
        '<a href="https://support.apple.com/en-us/102027" rel="noopener nofollow">'
        "Power: support.apple.com</a>",
        html=True,
    )
    assertContains(page, "<td>295 W</td>", html=True)
