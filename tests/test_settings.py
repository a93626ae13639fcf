"""Settings read from the environment, fail loudly, and pass Django's deploy checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import EnvError, env_bool, env_int, parse_database_url

ROOT = Path(__file__).resolve().parents[1]


def test_env_bool_accepts_common_spellings_and_rejects_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLAG", "yes")
    assert env_bool("FLAG", False) is True
    monkeypatch.setenv("FLAG", "0")
    assert env_bool("FLAG", True) is False
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(EnvError, match="FLAG must be a boolean"):
        env_bool("FLAG", False)


def test_env_int_rejects_junk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("N", "12x")
    with pytest.raises(EnvError, match="N must be an integer"):
        env_int("N", 1)


def test_database_url_parses_postgres_and_sqlite() -> None:
    pg = parse_database_url("postgres://u:p%40ss@db.example:5433/modelfit", ROOT)
    assert (pg["ENGINE"], pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "django.db.backends.postgresql",
        "modelfit",
        "u",
        "p@ss",
        "db.example",
        "5433",
    )
    lite = parse_database_url("sqlite:///var/x.sqlite3", ROOT)
    assert lite["NAME"] == str(ROOT / "var" / "x.sqlite3")
    with pytest.raises(EnvError, match="must start with postgres"):
        parse_database_url("mysql://x/y", ROOT)
    with pytest.raises(EnvError, match="no database name"):
        parse_database_url("postgres://host/", ROOT)


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy_with_no_warnings() -> None:
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="k" * 64 + "-production-secret-with-enough-variety-1234567890",
        ALLOWED_HOSTS="modelfit.example",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_missing_secret_key_without_debug_fails_loudly() -> None:
    result = run_manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_a_bad_boolean_fails_loudly() -> None:
    result = run_manage("check", DEBUG="sometimes")
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_the_redis_cache_reuses_one_client_per_connection_pool() -> None:
    from config.cache import Cache

    cache = Cache("redis://127.0.0.1:1/0", {})
    client = cache._cache.get_client()
    assert cache._cache.get_client("any key") is client
    assert cache._cache.get_client(write=True) is client  # one server: one pool
