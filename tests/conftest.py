from __future__ import annotations

import os
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings


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
