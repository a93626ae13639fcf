"""Putting a Hub model into the catalog (`import_hf`, the admin's refresh action).

A model already in the catalog data files keeps its curated, sourced facts: only the GGUF
files quantizers published are refreshed. A new model is created from what the Hub says, every
fact with the Hub URL it came from; what the Hub does not say stays unknown (a licence the Hub
does not name is shown as such and not assumed commercial). Add it to catalog/data/ (the
printed TOML is a start) to keep it across `load_catalog` runs with curated facts.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from catalog import estimate
from catalog.hub import HubModel
from catalog.loader import model_slug
from catalog.models import Family, Modality, Model, Provider
from estimator.config import Config, ConfigError, text_config

# Hub licence ids -> (name, commercial use allowed, note).
LICENSES = {
    "apache-2.0": ("Apache-2.0", True, ""),
    "mit": ("MIT", True, ""),
    "bsd-3-clause": ("BSD-3-Clause", True, ""),
    "cc-by-4.0": ("CC-BY-4.0", True, ""),
    "cc-by-nc-4.0": ("CC-BY-NC-4.0", False, ""),
    "llama2": ("Llama 2 Community License", True, "Commercial use allowed below 700M MAU."),
    "llama3": ("Meta Llama 3 Community License", True, "Commercial use allowed below 700M MAU."),
    "llama3.1": ("Llama 3.1 Community License", True, "Commercial use allowed below 700M MAU."),
    "llama3.2": ("Llama 3.2 Community License", True, "Commercial use allowed below 700M MAU."),
    "llama3.3": ("Llama 3.3 Community License", True, "Commercial use allowed below 700M MAU."),
    "gemma": ("Gemma Terms of Use", True, "Subject to Gemma's prohibited use policy."),
}


class NotEstimable(ValueError):
    """The Hub model cannot be estimated (an unsupported or broken config.json)."""


def import_model(hub: HubModel, *, progress: Callable[[str], None] = lambda _: None) -> str:
    """Create or refresh the model; returns "created", "refreshed" (published files only)."""
    existing = Model.objects.filter(hf_id__iexact=hub.repo_id).first()
    gguf = [
        {"repo": g.repo, "filename": g.filename, "quant": g.quant, "size": g.size} for g in hub.gguf
    ]
    if existing:
        existing.published_gguf = gguf
        existing.hub_checked_at = timezone.now()
        existing.save(update_fields=["published_gguf", "hub_checked_at"])
        progress(f"{hub.repo_id}: in the catalog; {len(gguf)} published GGUF sizes stored")
        return "refreshed"
    try:
        inventory = estimate.check(hub.config)
        context = Config(text_config(hub.config)).get_int("max_position_embeddings")
    except (estimate.BadConfig, ConfigError) as exc:
        raise NotEstimable(f"{hub.repo_id}: config.json cannot be estimated: {exc}") from exc
    slug = model_slug(hub.repo_id)
    if Model.objects.filter(slug=slug).exists():
        raise NotEstimable(
            f"{hub.repo_id}: the catalog already has a model at /models/{slug}/ (another "
            "repository with the same name); add this one to catalog/data/ with its own name."
        )
    org, name = hub.repo_id.split("/", 1)
    url = f"https://huggingface.co/{hub.repo_id}"
    license_name, commercial, note = LICENSES.get(
        hub.license, (hub.license or "not stated on the Hub", False, "")
    )
    if hub.license not in LICENSES:
        note = "We could not read the licence's terms: check the model card before any use."
    with transaction.atomic():
        provider = Provider.objects.filter(hf_org__iexact=org).first() or Provider.objects.create(
            slug=slugify(org)[:60], name=org, url=f"https://huggingface.co/{org}", hf_org=org
        )
        family = provider.families.order_by("id").first() or Family.objects.create(
            slug=slugify(f"{org}-models")[:60], name=f"{org} models", provider=provider
        )
        model = Model.objects.create(
            slug=slug,
            hf_id=hub.repo_id,
            name=name,
            provider=provider,
            family=family,
            release_date=hub.created_at,
            license=license_name[:120],
            license_url=f"{url}#license" if hub.license else "",
            commercial_use=commercial,
            license_note=note,
            context_length=context,
            description=f"Imported from the Hugging Face Hub ({hub.pipeline_tag or 'no task'}).",
            params_language=inventory.params_total,
            params_total=inventory.params_total,
            params_active=inventory.params_active,
            params_complete=hub.input_modalities == ["text"],
            params_official=hub.safetensors_total,
            params_official_source=f"{url} (safetensors metadata)" if hub.safetensors_total else "",
            model_type=inventory.model_type,
            architecture_exact=inventory.exact,
            config=hub.config,
            sources={
                "card": url,
                "config": f"{url}/blob/{hub.sha or 'main'}/config.json",
                "license": url,
                "release_date": f"{url} (first commit on the Hub)",
                "context_length": f"config.json of {hub.repo_id}",
            },
            transformers_id=hub.repo_id,
            gguf_repo=hub.gguf[0].repo if hub.gguf else "",
            published_gguf=gguf,
            hub_checked_at=timezone.now(),
        )
        text = Modality.objects.get_or_create(code="text")[0]
        model.output_modalities.set([text])
        model.input_modalities.set(
            [Modality.objects.get_or_create(code=c)[0] for c in hub.input_modalities]
        )
    progress(f"{hub.repo_id}: created as /models/{model.slug}/")
    return "created"
