"""Admin login throttling (django-axes): 5 wrong passwords for one username from one address,
then 15 minutes in which even the right password is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "a-long-and-right-password"


@pytest.fixture
def admin() -> User:
    return User.objects.create_superuser("moderator", "m@example.com", PASSWORD)


def log_in(client: Client, password: str, address: str = "203.0.113.7", **headers: Any) -> Any:
    return client.post(
        LOGIN, {"username": "moderator", "password": password}, REMOTE_ADDR=address, **headers
    )


def test_the_fifth_wrong_password_locks_the_login_with_a_clear_page(
    client: Client, admin: User
) -> None:
    for _ in range(4):
        assert log_in(client, "wrong").status_code == 200  # the form again, with its error
    response = log_in(client, "wrong")
    assert response.status_code == 429
    content = response.content.decode()
    assert "<h1>Sign-in paused</h1>" in content
    assert (
        "Too many failed sign-ins as <strong>moderator</strong> from your address: after 5 wrong "
        "passwords, signing in is paused for 15 minutes from the last of them."
    ) in content


def test_the_right_password_is_refused_until_the_cool_off_has_passed(
    client: Client, admin: User
) -> None:
    for _ in range(5):
        log_in(client, "wrong")
    assert log_in(client, PASSWORD).status_code == 429
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=15, seconds=1)
    )
    response = log_in(client, PASSWORD)
    assert (response.status_code, response["Location"]) == (302, "/admin/")


def test_another_address_can_still_log_in_as_the_same_user(client: Client, admin: User) -> None:
    for _ in range(5):
        log_in(client, "wrong", address="203.0.113.7")
    assert log_in(client, PASSWORD, address="198.51.100.9").status_code == 302


def test_behind_a_trusted_proxy_the_address_it_saw_is_the_one_locked_out(
    client: Client, admin: User, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = 1
    for _ in range(5):
        log_in(client, "wrong", address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
    locked = log_in(client, PASSWORD, address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert locked.status_code == 429
    other = log_in(client, PASSWORD, address="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert other.status_code == 302


def test_a_forwarded_value_that_is_no_address_does_not_break_the_login(
    client: Client, admin: User, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = 1
    response = log_in(client, "wrong", address="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert response.status_code == 200
    assert AccessAttempt.objects.get().ip_address is None


def test_a_username_longer_than_any_account_is_a_wrong_login_not_a_500(
    client: Client, postgres: None
) -> None:
    response = client.post(
        LOGIN, {"username": "x" * 5000, "password": "wrong"}, REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 200  # the form again, with its error
    attempt = AccessAttempt.objects.get()
    assert attempt.username == "x" * 150
