from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from pytest_httpserver import HTTPServer


@pytest.fixture(scope="session")
def django_db_setup(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest
) -> Iterator[None]:
    """Load the real catalog and the bundled price snapshot once; each test then runs in a
    transaction that is rolled back."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        call_command("load_catalog", verbosity=0)
        call_command("refresh_prices", "--from-snapshot", stdout=StringIO())
    yield


def require_service(available: bool, what: str) -> None:
    """Skip a test whose service is missing, except in CI where it must run."""
    if available:
        return
    if os.environ.get("MODELFIT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required here (MODELFIT_REQUIRE_SERVICES=1) but not configured")
    pytest.skip(f"{what} not configured")


@pytest.fixture
def postgres(db: None) -> None:
    require_service(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")


@pytest.fixture(scope="session", autouse=True)
def read_revisions_on_every_request() -> Iterator[None]:
    """Tests roll back their transactions, which a process's remembered revision tokens would
    outlive: read them on every request (test_revision.py covers the remembering)."""
    with override_settings(REVISION_CHECK_MS=0):
        yield


@pytest.fixture(autouse=True)
def forget_remembered_revisions() -> None:
    """A test may set REVISION_CHECK_MS; tokens an earlier test's process remembered (from a
    transaction since rolled back) must not leak into it."""
    import catalog.models

    catalog.models._seen_revisions = None


class LocalHTTPServer(HTTPServer):
    """pytest-httpserver's server on 127.0.0.1, threaded (a client's retry is served while an
    answer it gave up on is still held back), whose thread notices a stop within 10 ms rather
    than werkzeug's 0.5 s."""

    def __init__(self) -> None:
        super().__init__(host="127.0.0.1", threaded=True)
        self.stopping = threading.Event()  # answers held back to make a client time out wait on it

    def thread_target(self) -> None:
        assert self.server is not None
        self.server.serve_forever(poll_interval=0.01)

    def stop(self) -> None:
        self.stopping.set()
        super().stop()


@pytest.fixture
def httpserver() -> Iterator[LocalHTTPServer]:
    """pytest-httpserver's `httpserver`, but one per test rather than one for the session, so
    that an answer a client gave up on cannot reach the next test. A request no handler expected
    fails the test."""
    with LocalHTTPServer() as server:
        yield server
        server.check()


@pytest.fixture(autouse=True)
def forget_rendered_parts() -> None:
    """Rendered parts are keyed by revision tokens, and a rolled-back transaction can bring a
    token back with other data behind it: no part (nor a rate-limit count) may outlive its
    test, in this process or in the shared cache."""
    from django.core.cache import cache

    from catalog import parts

    parts.recent.parts.clear()
    cache.clear()
