from __future__ import annotations

from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.catalog.fakehub import FakeHub


@pytest.fixture
def hub_server(httpserver: HTTPServer, settings: Any) -> FakeHub:
    """The Hub `catalog.hub` reads in this test, with no HF_TOKEN configured."""
    fake = FakeHub(httpserver)
    settings.HF_ENDPOINT = fake.url
    settings.HF_TOKEN = ""
    return fake
