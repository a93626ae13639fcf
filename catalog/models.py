"""The catalog: providers, families, models with their architecture, and hardware."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from functools import cached_property
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, models
from django.db.models import F, Q
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.urls import reverse

from estimator.memory import KeyedConfig


class Provider(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    url = models.URLField(blank=True)
    hf_org = models.CharField("Hugging Face organisation", max_length=120, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:provider_detail", args=[self.slug])


class Family(models.Model):
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="families")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "families"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:family_detail", args=[self.slug])


class Modality(models.Model):
    """text, image, audio, video: what a model reads or writes."""

    code = models.SlugField(max_length=20, unique=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "modalities"

    def __str__(self) -> str:
        return self.code


class ModelQuerySet(models.QuerySet["Model"]):
    def search(self, text: str) -> ModelQuerySet:
        """Models whose name, repo id, provider or family contains every word of text."""
        qs = self
        for word in text.split():
            qs = qs.filter(
                Q(name__icontains=word)
                | Q(hf_id__icontains=word)
                | Q(provider__name__icontains=word)
                | Q(family__name__icontains=word)
            )
        return qs

    def with_listing(self) -> ModelQuerySet:
        """What a model list shows, without one query per row."""
        return self.select_related("provider", "family").prefetch_related(
            "input_modalities", "output_modalities"
        )

    def browse(self, filters: Mapping[str, Any]) -> ModelQuerySet:
        """The browse page's list: models passing its filters (catalog.forms.BrowseForm's
        values; None or "" is no filter), in its sort order."""
        qs = self.with_listing()
        if text := filters.get("q"):
            qs = qs.search(text)
        if (low := filters.get("params_min")) is not None:
            qs = qs.filter(params_total__gte=int(low * 1e9))
        if (high := filters.get("params_max")) is not None:
            qs = qs.filter(params_total__lte=int(high * 1e9))
        if modality := filters.get("modality"):
            qs = qs.filter(input_modalities__code=modality)
        if terms := filters.get("license"):
            qs = qs.filter(commercial_use=terms == "commercial")
        if provider := filters.get("provider"):
            qs = qs.filter(provider__slug=provider)
        if context_min := filters.get("context_min"):
            qs = qs.filter(context_length__gte=context_min)
        sort = filters.get("sort") or "-release_date"
        field = F(sort.lstrip("-"))
        # Undated models last in both directions (PostgreSQL sorts NULL first when descending).
        order = field.desc(nulls_last=True) if sort.startswith("-") else field.asc(nulls_last=True)
        return qs.order_by(order, "name")


class Model(models.Model):
    class RopeScaling(models.TextChoices):
        """Rope scaling a card documents beyond the native context (llama.cpp's
        --rope-scaling names, vLLM's rope_type)."""

        YARN = "yarn", "YaRN"
        LINEAR = "linear", "linear"

    slug = models.SlugField(max_length=120)
    hf_id = models.CharField("Hugging Face repo id", max_length=200)
    name = models.CharField(max_length=200)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="models")
    family = models.ForeignKey(Family, on_delete=models.PROTECT, related_name="models")
    release_date = models.DateField(null=True, blank=True)
    license = models.CharField(max_length=120)
    license_url = models.URLField(max_length=300, blank=True)
    commercial_use = models.BooleanField()
    license_note = models.CharField(max_length=300, blank=True)
    input_modalities = models.ManyToManyField(Modality, related_name="input_of")
    output_modalities = models.ManyToManyField(Modality, related_name="output_of")
    context_length = models.PositiveIntegerField(help_text="maximum context in tokens")
    # A maximum reached only by a rope scaling the card documents and the released config.json
    # leaves out (Qwen3: 32,768 tokens natively, 131,072 with YaRN x4): runtimes apply it only
    # when told to. Empty for a model whose config carries its scaling, or needs none.
    native_context_length = models.PositiveIntegerField(
        null=True, blank=True, help_text="context without rope scaling, when below the maximum"
    )
    rope_scaling = models.CharField(
        max_length=20, blank=True, choices=RopeScaling.choices,
        help_text="what to switch on beyond the native context",
    )  # fmt: skip
    rope_scaling_factor = models.FloatField(null=True, blank=True)
    rope_scaling_original_context = models.PositiveIntegerField(
        null=True, blank=True, help_text="the scaling's original_max_position_embeddings"
    )
    rope_scaling_caveat = models.CharField(
        max_length=600, blank=True, help_text="the card's words on what the scaling costs"
    )
    description = models.TextField(blank=True)
    # Counted from `config` by estimator.inventory; params_total adds the encoders.
    params_language = models.BigIntegerField(help_text="language model parameters")
    params_total = models.BigIntegerField()
    params_active = models.BigIntegerField(help_text="parameters used per token (MoE)")
    params_complete = models.BooleanField(
        default=True, help_text="false when an encoder's parameter count is unknown"
    )
    params_official = models.BigIntegerField(null=True, blank=True)
    params_official_source = models.CharField(max_length=300, blank=True)
    model_type = models.CharField(max_length=60, help_text="config.json model_type")
    architecture_exact = models.BooleanField(
        default=True, help_text="false when the model_type is read as a generic decoder"
    )
    config = models.JSONField(help_text="config.json fields")
    sources = models.JSONField(default=dict, help_text="fact -> URL or citation")
    capabilities = models.JSONField(
        default=dict, blank=True, help_text="fact -> {value, source, note} (catalog data)"
    )
    gguf_repo = models.CharField(max_length=200, blank=True)
    gguf_file = models.CharField(max_length=200, blank=True, help_text="{quant} is replaced")
    ollama_tag = models.CharField(max_length=120, blank=True)
    mlx_repo = models.CharField(max_length=200, blank=True)
    transformers_id = models.CharField(max_length=200, blank=True)
    # GGUF files quantizers published, read from the Hub by `import_hf` (catalog/hub.py):
    # [{"repo", "filename", "quant", "size"}]; they check our file-size estimate.
    published_gguf = models.JSONField(default=list, blank=True)
    hub_checked_at = models.DateTimeField(null=True, blank=True)

    objects = ModelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["slug"], name="unique_model_slug"),
            models.UniqueConstraint(fields=["hf_id"], name="unique_model_hf_id"),
            models.CheckConstraint(
                condition=Q(params_language__gt=0), name="params_language_positive"
            ),
            models.CheckConstraint(
                condition=Q(params_total__gte=models.F("params_language")),
                name="params_total_at_least_language",
            ),
            models.CheckConstraint(
                condition=Q(params_active__gt=0) & Q(params_active__lte=models.F("params_total")),
                name="params_active_within_total",
            ),
            models.CheckConstraint(
                condition=Q(context_length__gt=0), name="context_length_positive"
            ),
            models.CheckConstraint(
                condition=Q(native_context_length__isnull=True)
                | Q(native_context_length__lt=F("context_length")),
                name="native_context_below_context_length",
            ),
            models.CheckConstraint(
                condition=Q(
                    native_context_length__isnull=True,
                    rope_scaling="",
                    rope_scaling_factor__isnull=True,
                    rope_scaling_original_context__isnull=True,
                )
                | (
                    Q(
                        native_context_length__isnull=False,
                        rope_scaling_factor__gt=1,
                        rope_scaling_original_context__gt=0,
                    )
                    & ~Q(rope_scaling="")
                ),
                name="rope_scaling_with_native_context",
            ),
        ]
        indexes = [
            # The browse page sorts by release date and filters on size.
            models.Index(fields=["-release_date"], name="model_release_date_idx"),
            models.Index(fields=["params_total"], name="model_params_total_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:model_detail", args=[self.slug])

    @cached_property
    def estimator_config(self) -> KeyedConfig:
        """`config` for the estimator, serialized to its cache key once per instance."""
        return KeyedConfig(self.config)

    @property
    def is_moe(self) -> bool:
        return self.params_active < self.params_language

    def needs_rope_scaling(self, n_ctx: int) -> bool:
        """Whether n_ctx tokens per sequence go beyond the native context, so that runtimes
        need the card's rope scaling switched on."""
        return self.native_context_length is not None and n_ctx > self.native_context_length

    in_catalog = True

    @property
    def source_url(self) -> str:
        return str(self.sources.get("card") or f"https://huggingface.co/{self.hf_id}")


class EstimateConfig(models.Model):
    """A config.json someone estimated on /estimate/ (pasted, or read from the Hub): kept so
    the estimate's URL can be shared. `key` is a digest of the config."""

    key = models.CharField(max_length=24, primary_key=True)
    name = models.CharField(max_length=200)
    repo_id = models.CharField(max_length=200, blank=True, help_text="when read from the Hub")
    config = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:estimate_detail", args=[self.key])


class EstimatedModel(Model):
    """A model that is not in the catalog, built from an EstimateConfig for the live panels;
    never saved. Its pages live under /estimate/."""

    class Meta:
        proxy = True

    def get_absolute_url(self) -> str:
        return reverse("catalog:estimate_detail", args=[self.slug])

    @property
    def in_catalog(self) -> bool:
        return False


class Encoder(models.Model):
    """A multimodal encoder (vision tower, audio encoder), counted apart from the language model."""

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="encoders")
    name = models.CharField(max_length=200)
    modality = models.ForeignKey(Modality, on_delete=models.PROTECT)
    params = models.BigIntegerField(null=True, blank=True, help_text="empty when unknown")
    source = models.CharField(max_length=300)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["model", "name"], name="unique_encoder_per_model"),
            models.CheckConstraint(
                condition=Q(params__isnull=True) | Q(params__gt=0),
                name="encoder_params_positive_or_unknown",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model}: {self.name}"


class Score(models.Model):
    """A published benchmark result of a model, as its source states it (model card, paper or
    the benchmark's own leaderboard); never computed by us."""

    class Kind(models.TextChoices):
        CARD = "card", "model card"
        PAPER = "paper", "paper or report"
        LEADERBOARD = "leaderboard", "benchmark leaderboard"
        BLOG = "blog", "provider's announcement"

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="scores")
    benchmark = models.CharField(max_length=60, help_text="e.g. MMLU, GPQA, HumanEval")
    setting = models.CharField(
        max_length=80, blank=True, help_text="version, subset and shots as the source states"
    )
    value = models.FloatField()
    unit = models.CharField(max_length=10, default="%")
    source = models.URLField(max_length=300)
    source_kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.CARD)

    class Meta:
        ordering = ["benchmark", "setting", "-value"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "benchmark", "setting"], name="unique_score_per_setting"
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="score_value_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.model}: {self.benchmark} {self.setting} {self.value:g}{self.unit}"

    @property
    def label(self) -> str:
        return f"{self.benchmark} ({self.setting})" if self.setting else self.benchmark


class Hardware(models.Model):
    class Kind(models.TextChoices):
        GPU = "gpu", "Discrete GPU"
        APPLE = "apple", "Apple unified memory"
        UNIFIED = "unified", "Unified-memory PC (the GPU uses system RAM)"
        CPU = "cpu", "CPU"

    class Segment(models.TextChoices):
        CONSUMER = "consumer", "Consumer GPUs"
        WORKSTATION = "workstation", "Workstation GPUs"
        DATACENTER = "datacenter", "Datacenter GPUs"
        APPLE = "apple", "Apple silicon"
        UNIFIED = "unified", "Unified-memory PCs"
        CPU = "cpu", "CPUs"

    slug = models.SlugField(max_length=60)
    name = models.CharField(max_length=120)
    vendor = models.CharField(max_length=40)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    segment = models.CharField(max_length=20, choices=Segment.choices)
    architecture = models.CharField(max_length=60, blank=True)
    release_year = models.PositiveSmallIntegerField(null=True, blank=True)
    memory_bytes = models.BigIntegerField()
    memory_options_bytes = models.JSONField(default=list, blank=True)
    bandwidth_gbps = models.FloatField(help_text="GB/s, 10^9 bytes per second")
    fp16_tflops = models.FloatField(null=True, blank=True, help_text="dense FP16 tensor TFLOPS")
    tdp_watts = models.PositiveIntegerField(
        null=True, blank=True, help_text="board power, TGP or chip package power, W"
    )
    memory_type = models.CharField(max_length=40, blank=True, help_text="e.g. DDR5-6000, GDDR7")
    memory_channels = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="CPUs: 64-bit DDR channels"
    )
    runpod_names = models.JSONField(default=list, blank=True)
    vast_names = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=300, blank=True)
    sources = models.JSONField(default=dict, help_text="fact -> the public URL stating it")

    class Meta:
        ordering = ["segment", "-memory_bytes", "-bandwidth_gbps", "name"]
        verbose_name_plural = "hardware"
        constraints = [
            models.UniqueConstraint(fields=["slug"], name="unique_hardware_slug"),
            models.CheckConstraint(condition=Q(memory_bytes__gt=0), name="memory_bytes_positive"),
            models.CheckConstraint(condition=Q(bandwidth_gbps__gt=0), name="bandwidth_positive"),
            models.CheckConstraint(
                condition=Q(fp16_tflops__isnull=True) | Q(fp16_tflops__gt=0),
                name="fp16_tflops_positive_or_unknown",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["gpu", "apple", "unified", "cpu"]), name="hardware_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(tdp_watts__isnull=True) | Q(tdp_watts__gt=0),
                name="tdp_watts_positive_or_unknown",
            ),
            models.CheckConstraint(
                condition=Q(memory_channels__isnull=True) | Q(memory_channels__gt=0),
                name="memory_channels_positive_or_unknown",
            ),
        ]

    # The facts a device's sources name (each a public URL), in the order its page lists them,
    # with the labels it shows them under.
    SOURCE_LABELS = {
        "memory": "Memory",
        "bandwidth": "Bandwidth",
        "memory_channels": "Channels",
        "gpu_share": "GPU share",
        "fp16_tflops": "FP16",
        "tdp_watts": "Power",
        "runpod_names": "RunPod names",
        "vast_names": "Vast.ai names",
    }

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:hardware_detail", args=[self.slug])


class Revision(models.Model):
    """Tokens that change whenever the catalog (row 1), the rental prices (row 2) or the
    community benchmarks (row 3) do.

    Cached page fragments are keyed on them and each process's copy of the device list on the
    catalog's, so an edit (admin, `load_catalog`, `refresh_prices`) shows on the next request in
    every worker. Random tokens rather than counters: a rolled-back change cannot bring back an
    old token with other data behind it.
    """

    CATALOG = 1
    PRICES = 2
    BENCHMARKS = 3

    token = models.CharField(max_length=32)

    def __str__(self) -> str:
        return self.token

    @classmethod
    def current(cls) -> Tokens:
        """The catalog, prices and benchmarks tokens: read at most once per REVISION_CHECK_MS in
        each process, so a page served from the cache makes no query; a change made by another
        process shows there within that time, and at once in the process that made it."""
        global _seen_revisions
        now = time.monotonic()
        seen = _seen_revisions
        if seen is not None and now - seen[0] < settings.REVISION_CHECK_MS / 1000:
            return seen[1]
        # Plain SQL: it skips the ORM's query compilation.
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, token FROM {cls._meta.db_table} WHERE id IN (1, 2, 3)")
            tokens = dict(cursor.fetchall())
        current = Tokens(*(tokens.get(row, "initial") for row in (1, 2, 3)))
        _seen_revisions = (now, current)
        return current

    @classmethod
    def bump(cls, which: int = CATALOG) -> None:
        global _seen_revisions
        cls.objects.update_or_create(pk=which, defaults={"token": uuid.uuid4().hex})
        _seen_revisions = None  # this process reads the new token on its next request


class Tokens(NamedTuple):
    catalog: str
    prices: str
    benchmarks: str


_seen_revisions: tuple[float, Tokens] | None = None  # (monotonic time, tokens)


CATALOG_MODELS = (Provider, Family, Modality, Model, Encoder, Score, Hardware)


def _catalog_changed(sender: Any, **kwargs: Any) -> None:
    if kwargs.get("action", "post_").startswith("post_"):
        Revision.bump()


for _model in CATALOG_MODELS:
    post_save.connect(_catalog_changed, sender=_model, dispatch_uid=f"revision-save-{_model}")
    post_delete.connect(_catalog_changed, sender=_model, dispatch_uid=f"revision-del-{_model}")
for _through in (Model.input_modalities.through, Model.output_modalities.through):
    m2m_changed.connect(_catalog_changed, sender=_through, dispatch_uid=f"revision-m2m-{_through}")
