from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog import hub, importer
from catalog.loader import HF_ID_RE


class Command(BaseCommand):
    help = (
        "Read models from the Hugging Face Hub (config.json, safetensors parameter counts, "
        "licence, tags, modalities, creation date, and the sizes of GGUF files published by "
        f"{', '.join(hub.QUANTIZERS)}) and put them in the catalog. A model already in the "
        "catalog files keeps its curated facts; only its published GGUF sizes are refreshed. "
        "HF_ENDPOINT and HF_TOKEN (for gated repositories) are read from the environment."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("repo_ids", nargs="+", metavar="REPO_ID", help="e.g. Qwen/Qwen3-8B")

    def handle(self, *args: Any, **options: Any) -> None:
        failed = []
        for repo_id in options["repo_ids"]:
            if not HF_ID_RE.match(repo_id):
                self.stderr.write(f"{repo_id}: not a repository id like owner/name")
                failed.append(repo_id)
                continue
            try:
                model = hub.fetch(repo_id, progress=self.stdout.write)
                outcome = importer.import_model(model, progress=self.stdout.write)
            except (hub.HubError, importer.NotEstimable) as exc:
                self.stderr.write(str(exc))
                failed.append(repo_id)
                continue
            sizes = ", ".join(f"{g.quant} {g.size:,} bytes" for g in model.gguf) or "none found"
            self.stdout.write(self.style.SUCCESS(f"{repo_id}: {outcome}; published GGUF: {sizes}"))
        if failed:
            raise CommandError(f"{len(failed)} of {len(options['repo_ids'])} not imported: "
                               f"{', '.join(failed)}")  # fmt: skip
