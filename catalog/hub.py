"""Reading a model from the Hugging Face Hub with `huggingface_hub`: its config.json, the
parameter counts its safetensors report, licence, tags, modalities, creation date, and the
GGUF files quantizers published for it (whose sizes check our file-size estimate).

`HF_ENDPOINT` (settings) points at the Hub, or at a recorded copy in tests; `HF_TOKEN` is sent
when set (gated repos). Each call is retried on network errors and 5xx with backoff.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
from django.conf import settings
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
)

from benchmarks.llamabench import quant_from_filename
from config import safejson

# Organisations whose GGUF conversions we cross-check file sizes against.
QUANTIZERS = ("bartowski", "unsloth", "lmstudio-community")
# Hub pipeline tags and tags -> the modalities a model takes.
INPUT_TAGS = {"image-text-to-text": "image", "image-to-text": "image", "vision": "image",
              "audio-text-to-text": "audio", "automatic-speech-recognition": "audio",
              "video-text-to-text": "video", "any-to-any": "image"}  # fmt: skip


class HubError(Exception):
    """The Hub could not give what we asked; the message says what to do."""


@dataclass(frozen=True)
class GgufFile:
    repo: str
    filename: str
    quant: str
    size: int


@dataclass
class HubModel:
    repo_id: str
    sha: str
    config: dict[str, Any]
    license: str = ""
    tags: list[str] = field(default_factory=list)
    pipeline_tag: str = ""
    created_at: dt.date | None = None
    safetensors_total: int | None = None
    gguf: list[GgufFile] = field(default_factory=list)

    @property
    def input_modalities(self) -> list[str]:
        found = {INPUT_TAGS[t] for t in [self.pipeline_tag, *self.tags] if t in INPUT_TAGS}
        return ["text", *sorted(found)]


def _token(use_token: bool) -> str | bool:
    return (settings.HF_TOKEN or False) if use_token else False


def api(use_token: bool = True) -> HfApi:
    return HfApi(endpoint=settings.HF_ENDPOINT, token=_token(use_token))


def _retry[T](call: Callable[[], T], what: str, attempts: int = 3, wait: float = 1.0) -> T:
    """`call`, again after 1 s and 2 s on a network error or a 5xx; clear errors otherwise."""
    for attempt in range(attempts):
        try:
            return call()
        except GatedRepoError as exc:  # a RepositoryNotFoundError: first
            raise HubError(
                f"{what}: the repository is gated; accept its terms on huggingface.co and set "
                "HF_TOKEN."
            ) from exc
        except RepositoryNotFoundError as exc:
            raise HubError(f"{what}: no such repository on the Hub (or it is private).") from exc
        except EntryNotFoundError as exc:
            raise HubError(f"{what}: the file is not in the repository.") from exc
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status < 500 or attempt == attempts - 1:
                raise HubError(f"{what}: the Hub answered HTTP {status}.") from exc
        except (OSError, httpx2.TransportError) as exc:  # connection refused, DNS, timeouts
            if attempt == attempts - 1:
                raise HubError(
                    f"{what}: the Hugging Face Hub could not be reached ({type(exc).__name__}). "
                    "Are you offline? Paste the model's config.json on /estimate/ instead."
                ) from exc
        time.sleep(wait * 2**attempt)
    raise AssertionError("unreachable")


def fetch(repo_id: str, *, progress: Callable[[str], None] = lambda _: None) -> HubModel:
    """Everything we read about one Hub model (config.json, metadata, published GGUF sizes)."""
    model = fetch_config(repo_id, progress=progress)
    model.gguf = published_gguf(repo_id, progress=progress)
    return model


def fetch_config(
    repo_id: str, *, progress: Callable[[str], None] = lambda _: None, use_token: bool = True
) -> HubModel:
    """A Hub model's config.json and metadata, without looking for GGUF files. Pages that
    anyone can call pass use_token=False: our token must not open private or gated repos
    to visitors."""
    hub = api(use_token)
    progress(f"{repo_id}: reading the model's metadata …")
    info = _retry(lambda: hub.model_info(repo_id, files_metadata=False), repo_id)
    progress(f"{repo_id}: downloading config.json …")
    with tempfile.TemporaryDirectory() as cache:
        path = _retry(
            lambda: hf_hub_download(
                repo_id,
                "config.json",
                revision=info.sha,
                cache_dir=cache,
                endpoint=settings.HF_ENDPOINT,
                token=_token(use_token),
            ),
            f"{repo_id} config.json",
        )
        with open(str(path), "rb") as f:
            try:
                config = safejson.loads(f.read())
            except safejson.JsonError as exc:
                raise HubError(f"{repo_id}: config.json: {exc}") from exc
    if not isinstance(config, dict):
        raise HubError(f"{repo_id}: config.json is not a JSON object.")
    card = info.card_data.to_dict() if info.card_data else {}
    safetensors = info.safetensors
    return HubModel(
        repo_id=info.id,
        sha=info.sha or "",
        config=config,
        license=str(card.get("license") or ""),
        tags=list(info.tags or []),
        pipeline_tag=info.pipeline_tag or "",
        created_at=info.created_at.date() if info.created_at else None,
        safetensors_total=safetensors.total if safetensors else None,
    )


def org_of(repo_id: str) -> str:
    return repo_id.split("/", 1)[0]


def published_gguf(
    repo_id: str, *, progress: Callable[[str], None] = lambda _: None
) -> list[GgufFile]:
    """Single-file GGUFs of this model in the known quantizers' repositories, by quant."""
    hub = api()
    name = repo_id.split("/", 1)[1]
    files: dict[str, GgufFile] = {}
    for org in QUANTIZERS:
        progress(f"{repo_id}: looking for {org}'s GGUF files …")
        found = _retry(
            lambda org=org: list(hub.list_models(author=org, search=name, limit=5)),  # type: ignore[misc]
            f"{org} GGUF search",
        )
        names = {f"{name}-gguf".lower(), f"{org_of(repo_id)}_{name}-gguf".lower()}
        for candidate in found:
            if candidate.id.split("/", 1)[-1].lower() not in names:
                continue  # another model whose name contains this one's
            info = _retry(
                lambda c=candidate: hub.model_info(c.id, files_metadata=True),  # type: ignore[misc]
                candidate.id,
            )
            for sibling in info.siblings or []:
                filename = sibling.rfilename
                if not filename.endswith(".gguf") or "/" in filename or not sibling.size:
                    continue  # split files live in folders: their size is not one file's
                quant = quant_from_filename(filename)
                if quant and quant not in files:
                    files[quant] = GgufFile(candidate.id, filename, quant, sibling.size)
            break  # the first matching repository of each quantizer is enough
    return sorted(files.values(), key=lambda g: g.size)
