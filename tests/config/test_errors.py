"""config.errors: JSON errors under /api/ wherever they are raised, the site's pages elsewhere,
503 with Retry-After when the database cannot be reached.

Tests without the `db` fixture run with database access blocked by pytest-django: the error
pages they check are shown without touching the database.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client, override_settings

from config.errors import DATABASE_DOWN, SERVER_ERROR

pytestmark = pytest.mark.urls("tests.config.urls")


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


def test_a_database_error_in_a_view_is_the_styled_503_page(client: Client) -> None:
    response = client.get("/test/db-down/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response["Content-Type"] == "text/html; charset=utf-8"
    content = response.content.decode()
    assert "<h1>Temporarily unavailable</h1>" in content
    assert 'href="/static/css/site.css"' in content  # the site's own look
    assert "10.1.2.3" not in content


def test_a_database_error_under_the_api_is_a_json_503(client: Client) -> None:
    response = client.get("/api/test/db-down/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json() == {"error": DATABASE_DOWN, "detail": []}


@override_settings(
    MIDDLEWARE=[*settings.MIDDLEWARE, "tests.config.urls.database_down_in_middleware"]
)
def test_a_database_error_raised_by_a_middleware_is_a_503_too(client: Client) -> None:
    page = client.get("/models/middleware-db-down/")
    assert page.status_code == 503 and b"Temporarily unavailable" in page.content
    api = client.get("/api/v1/middleware-db-down/")
    assert (api.status_code, api.json()) == (503, {"error": DATABASE_DOWN, "detail": []})


def test_any_other_error_is_the_styled_500_page_without_retry_after(client: Client) -> None:
    response = client.get("/test/broken/")
    assert response.status_code == 500
    assert "Retry-After" not in response
    assert "<h1>Something went wrong</h1>" in response.content.decode()


def test_any_other_error_under_the_api_is_a_json_500(client: Client) -> None:
    response = client.get("/api/test/broken/")
    assert response.status_code == 500
    assert response.json() == {"error": SERVER_ERROR, "detail": []}


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_an_oversized_body_under_the_api_is_a_json_413(client: Client) -> None:
    body = json.dumps({"notes": "x" * 2000})
    response = client.post("/api/test/form/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "error": "The request body is too large: at most 1000 bytes.",
        "detail": [],
    }


@override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=10)
def test_too_many_form_fields_under_the_api_is_a_json_400(client: Client) -> None:
    response = client.post("/api/test/form/", {f"f{i}": "1" for i in range(20)})
    assert response.status_code == 400
    assert response.json() == {"error": "Too many fields: at most 10.", "detail": []}


@override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=10)
def test_too_many_form_fields_on_a_page_is_the_styled_400_page(client: Client) -> None:
    response = client.post("/estimate/", {f"f{i}": "1" for i in range(20)})
    assert response.status_code == 400
    assert "<h1>Bad request</h1>" in response.content.decode()


def test_a_csrf_failure_under_the_api_is_a_json_403() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/test/form/", {"a": "1"})
    assert response.status_code == 403
    assert response.json() == {
        "error": "CSRF verification failed: CSRF cookie not set.",
        "detail": [],
    }


def test_a_csrf_failure_on_a_form_is_the_styled_403_page() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/estimate/", {"config": "{}"})
    assert response.status_code == 403
    assert "<h1>This form has expired</h1>" in response.content.decode()


def test_a_permission_denied_under_the_api_is_a_json_403(client: Client) -> None:
    response = client.get("/api/test/forbidden/")
    assert (response.status_code, response.json()) == (403, {"error": "Forbidden.", "detail": []})


def test_a_permission_denied_on_a_page_is_the_styled_403_page(client: Client) -> None:
    response = client.get("/test/forbidden/")
    assert response.status_code == 403
    assert "<h1>Forbidden</h1>" in response.content.decode()


def test_an_unknown_api_path_is_a_json_404(client: Client) -> None:
    response = client.get("/api/v2/nothing/")
    assert response.status_code == 404
    assert response.json() == {"error": "no API endpoint at /api/v2/nothing/", "detail": []}


def test_an_unknown_page_is_the_styled_404_page(client: Client) -> None:
    response = client.get("/nothing-here/")
    assert response.status_code == 404
    assert "There is no page at <code>/nothing-here/</code>" in response.content.decode()
