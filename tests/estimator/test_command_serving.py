"""`manage.py estimate` serving to a target: --prompt-tokens, --target-tps-per-user and
--target-ttft-s add `max_users_at_target` (estimator.serving.serve) and the time to first token
for the stated prompt; without them the output is what it was.

The speed model moves: tokens/s are compared with what estimator.serving returns, and only the
counts that come from memory are written down."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError

from catalog.models import Hardware, Model
from estimator.devices import from_hardware
from estimator.memory import MemoryOptions
from estimator.serving import Target, point, serve
from tests.estimator.test_command_machine import report, run

pytestmark = pytest.mark.django_db

LLAMA_8B = ("--model", "llama-3-1-8b-instruct", "--gpu", "rtx-4090", "--ctx", "8192")


def expected(target: Target, ctx: int = 8192, runtime: str = "llama.cpp") -> Any:
    config = Model.objects.get(slug="llama-3-1-8b-instruct").config
    device = from_hardware(Hardware.objects.get(slug="rtx-4090"), 1)
    opts = MemoryOptions("Q4_K_M", n_ctx=8192)
    return serve(config, opts, device, target, ctx=ctx, runtime=runtime)


def test_a_speed_target_adds_the_most_users_served_there() -> None:
    out = report(*LLAMA_8B, "--target-tps-per-user", "20")["max_users_at_target"]
    serving = expected(Target(20.0, None, 1024))
    best = serving.at_target
    assert out == {
        "users": best.users,
        "aggregate_tokens_per_s": round(best.aggregate_tokens_per_s, 1),
        "per_user_tokens_per_s": round(best.per_user_tokens_per_s, 1),
        "ttft_s": round(best.ttft_s, 3),
        "limit": serving.limit,
        "users_that_fit": serving.users_that_fit,
        "ctx_per_user": 8192,
        "target_tokens_per_s": 20.0,
        "target_ttft_s": None,
        "prompt_tokens": 1024,
    }
    # 24 GiB hold the 8B model's 4.6 GiB and 17 caches of 8,192 tokens (1 GiB each at F16).
    assert out["users_that_fit"] == 17
    assert out["per_user_tokens_per_s"] >= 20


def test_a_speed_no_user_sees_serves_nobody_and_says_why() -> None:
    out = report(*LLAMA_8B, "--target-tps-per-user", "1000")["max_users_at_target"]
    assert (out["users"], out["limit"], out["users_that_fit"]) == (0, "speed", 17)
    assert out["aggregate_tokens_per_s"] is None and out["per_user_tokens_per_s"] is None


def test_a_time_to_first_token_target_alone_bounds_users_by_memory_and_ttft() -> None:
    out = report(*LLAMA_8B, "--target-ttft-s", "600", "--prompt-tokens", "4096")
    served = out["max_users_at_target"]
    assert served["target_tokens_per_s"] == 0 and served["target_ttft_s"] == 600
    assert served["prompt_tokens"] == 4096
    assert (served["users"], served["limit"]) == (17, "memory")


def test_prompt_tokens_sets_the_prompt_of_ttft_s() -> None:
    plain = report(*LLAMA_8B)
    assert "max_users_at_target" not in plain  # without the new flags, the JSON is as before
    stated = report(*LLAMA_8B, "--prompt-tokens", "2048")
    assert "max_users_at_target" not in stated
    config = Model.objects.get(slug="llama-3-1-8b-instruct").config
    device = from_hardware(Hardware.objects.get(slug="rtx-4090"), 1)
    ttft = point(config, MemoryOptions("Q4_K_M", n_ctx=8192), device, users=1, ctx=8192,
                 prompt_tokens=2048).ttft_s  # fmt: skip
    assert stated["ttft_s"] == round(ttft, 3)
    assert {k: v for k, v in stated.items() if k != "ttft_s"} == {
        k: v for k, v in plain.items() if k != "ttft_s"
    }
    short = report(*LLAMA_8B, "--prompt-tokens", "256")["ttft_s"]
    assert short < stated["ttft_s"]


def test_each_user_gets_the_context_divided_over_parallel_slots() -> None:
    out = report(
        "--model", "llama-3-1-8b-instruct", "--gpu", "rtx-4090", "--ctx", "32768",
        "--parallel", "4", "--target-tps-per-user", "20",
    )["max_users_at_target"]  # fmt: skip
    assert out["ctx_per_user"] == 8192 and out["users_that_fit"] == 17


def test_the_table_says_the_target_and_the_users_at_it() -> None:
    text = run(*LLAMA_8B, "--target-tps-per-user", "20", "--target-ttft-s", "2")
    lines = {line.split("  ")[0]: line for line in text.splitlines()}
    assert lines["target"].endswith("20 tokens/s each, first token within 2 s for 1,024 tokens")
    assert lines["users at target"].split(None, 3)[3].startswith("17 of 8,192 tokens: ")
    assert lines["users at target"].endswith("(stopped by memory)")


TPS = "--target-tps-per-user: must be between 0.1 and 1000, not"
TTFT = "--target-ttft-s: must be between 0.05 and 600, not"
PROMPT = "--prompt-tokens: must be between 1 and a user's context, 8,192"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--target-tps-per-user", "nan"), f"{TPS} nan"),
        (("--target-tps-per-user", "inf"), f"{TPS} inf"),
        (("--target-tps-per-user", "0"), f"{TPS} 0.0"),
        (("--target-ttft-s", "0.01"), f"{TTFT} 0.01"),
        (("--target-ttft-s", "-1"), f"{TTFT} -1.0"),
        (("--prompt-tokens", "0"), PROMPT),
        (("--prompt-tokens", "8193"), PROMPT),
    ],
)
def test_bad_targets_stop_the_command_naming_the_flag(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError) as caught:
        run(*LLAMA_8B, *args)
    assert str(caught.value) == message


def test_targets_need_a_device() -> None:
    with pytest.raises(CommandError, match="need a device"):
        run("--model", "llama-3-1-8b-instruct", "--target-tps-per-user", "10")


def test_help_says_what_the_serving_flags_do() -> None:
    from estimator.management.commands.estimate import Command

    text = " ".join(Command().create_parser("manage.py", "estimate").format_help().split())
    assert "--prompt-tokens N the prompt whose time to first token ttft_s gives" in text
    assert "--target-tps-per-user TPS decode tokens/s every user must see (0.1-1000)" in text
    assert "--target-ttft-s S seconds to the first token" in text
