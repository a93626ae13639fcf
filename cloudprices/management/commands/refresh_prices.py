from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cloudprices.refresh import PROVIDERS, SNAPSHOT_AS_OF, RefreshBusy, describe, refresh


class Command(BaseCommand):
    help = (
        "Fetch current rental GPU prices (RunPod, Vast.ai, Azure), match them to catalog devices "
        "and store them with an hourly history. A provider that fails keeps its last good offers. "
        "--from-snapshot loads the bundled responses (no internet needed) unless newer prices "
        "are stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--provider",
            action="append",
            choices=PROVIDERS,
            help="only this provider (repeatable); default: all",
        )
        parser.add_argument(
            "--from-snapshot",
            action="store_true",
            help=f"load the bundled snapshot (prices as of {SNAPSHOT_AS_OF:%Y-%m-%d}) "
            "through the same parsers instead of calling the APIs",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        start = time.perf_counter()
        try:
            outcomes = refresh(
                options["provider"] or PROVIDERS,
                from_snapshot=options["from_snapshot"],
                progress=self.stdout.write,
            )
        except RefreshBusy as exc:
            raise CommandError(f"{exc}; try again when it has finished") from None
        failed = [o for o in outcomes if not o.ok]
        self.stdout.write(
            f"fetched {sum(o.fetched for o in outcomes)}, "
            f"matched {sum(o.matched for o in outcomes)}, "
            f"unmatched {sum(o.unmatched for o in outcomes)}, "
            f"failed {len(failed)} of {len(outcomes)} providers, "
            f"{time.perf_counter() - start:.1f} s"
        )
        if failed:
            raise CommandError("; ".join(describe(o) for o in failed))
