"""A config stored on /estimate/ under older rules is checked again when its page is read:
a clear page, never a 500 for every visitor of its URL."""

from __future__ import annotations

import pytest
from django.test import Client

from catalog.models import EstimateConfig
from tests.estimator.test_inventory import LLAMA_31_8B

pytestmark = pytest.mark.django_db


def test_a_stored_config_that_no_longer_passes_is_a_clear_422(client: Client) -> None:
    broken = LLAMA_31_8B | {"num_local_experts": 4, "num_experts_per_tok": 9}
    EstimateConfig.objects.create(key="0123456789abcdef01234567", name="Old", config=broken)
    for headers in ({}, {"HX-Request": "true"}):
        response = client.get("/estimate/0123456789abcdef01234567/", headers=headers)
        assert response.status_code == 422
        assert "This stored estimate can no longer be shown." in response.content.decode()
        assert "num_experts_per_tok must be 1 to 4 (the experts), not 9" in (
            response.content.decode()
        )


def test_a_stored_config_that_passes_renders_its_panels(client: Client) -> None:
    EstimateConfig.objects.create(key="fedcba9876543210fedcba98", name="Mine", config=LLAMA_31_8B)
    response = client.get("/estimate/fedcba9876543210fedcba98/")
    assert response.status_code == 200
    assert 'id="panel-memory"' in response.content.decode()
