"""Community measurements of tokens/sec, each pinned to its exact setup, and their moderation."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from catalog.models import Hardware, Model, Revision

KV_TYPES = ("f16", "q8_0", "q4_0")
MAX_COUNT = 64
MAX_BATCH = 1024
MAX_TOKENS_PER_S = 10_000_000.0  # beyond any device: a typo, refused outright


class Runtime(models.TextChoices):
    LLAMA_CPP = "llama.cpp", "llama.cpp"
    OLLAMA = "ollama", "Ollama"
    LM_STUDIO = "lm-studio", "LM Studio"
    KOBOLDCPP = "koboldcpp", "KoboldCpp"
    VLLM = "vllm", "vLLM"
    SGLANG = "sglang", "SGLang"
    MLX = "mlx", "MLX"
    TRANSFORMERS = "transformers", "Transformers"
    EXLLAMA = "exllama", "ExLlamaV2/V3"
    OTHER = "other", "Other"


# The engine whose speed a runtime's results describe: Ollama, LM Studio and KoboldCpp run
# llama.cpp; SGLang serves as vLLM does. Calibration groups runs by engine.
ENGINES = {
    "llama.cpp": "llama.cpp", "ollama": "llama.cpp", "lm-studio": "llama.cpp",
    "koboldcpp": "llama.cpp", "vllm": "vllm", "sglang": "vllm", "mlx": "mlx",
}  # fmt: skip


class Backend(models.TextChoices):
    CUDA = "cuda", "CUDA"
    METAL = "metal", "Metal"
    ROCM = "rocm", "ROCm"
    VULKAN = "vulkan", "Vulkan"
    SYCL = "sycl", "SYCL"
    CPU = "cpu", "CPU"
    OTHER = "other", "Other"


class Status(models.TextChoices):
    PENDING = "pending", "Pending moderation"
    PUBLISHED = "published", "Published"
    REJECTED = "rejected", "Rejected"


class Source(models.TextChoices):
    FORM = "form", "Form"
    PASTE = "paste", "Pasted llama-bench output"
    API = "api", "API"


class SubmissionQuerySet(models.QuerySet["Submission"]):
    def published(self) -> SubmissionQuerySet:
        return self.filter(status=Status.PUBLISHED)


class Submission(models.Model):
    """One measured result: prompt processing and/or generation speed of one setup.

    `gen_tokens_per_s` is the aggregate over `batch` parallel sequences. `context` is the
    context size the run allocated (llama-bench: prompt + generated + depth tokens); `depth`
    the tokens already in the cache when it was measured.
    """

    model = models.ForeignKey(Model, on_delete=models.PROTECT, related_name="submissions")
    quant = models.CharField(max_length=20, blank=True, help_text="a GGUF file type; blank = other")
    quant_text = models.CharField(
        max_length=200, blank=True, help_text="the file name or quant as the submitter wrote it"
    )
    hardware = models.ForeignKey(
        Hardware, on_delete=models.PROTECT, null=True, blank=True, related_name="submissions"
    )
    hardware_text = models.CharField(
        max_length=120, blank=True, help_text="a device not in the catalog (not aggregated)"
    )
    hardware_count = models.PositiveSmallIntegerField(default=1)
    runtime = models.CharField(max_length=20, choices=Runtime.choices)
    runtime_version = models.CharField(max_length=80, blank=True)
    backend = models.CharField(max_length=10, choices=Backend.choices)
    context = models.PositiveIntegerField()
    depth = models.PositiveIntegerField(default=0)
    batch = models.PositiveSmallIntegerField(default=1)
    flash_attn = models.BooleanField(null=True, blank=True, help_text="blank = not stated")
    kv_type = models.CharField(max_length=8, default="f16")
    prompt_tokens_per_s = models.FloatField(null=True, blank=True)
    gen_tokens_per_s = models.FloatField(null=True, blank=True)
    test = models.CharField(max_length=40, blank=True, help_text="llama-bench's test, e.g. tg128")
    notes = models.TextField(max_length=1000, blank=True)
    link = models.URLField(max_length=300, blank=True)
    name = models.CharField(max_length=60, blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    held_reason = models.CharField(
        max_length=400, blank=True, help_text="why the plausibility check held it"
    )
    rejected_reason = models.CharField(max_length=400, blank=True)
    estimate_gen_tokens_per_s = models.FloatField(
        null=True, blank=True, help_text="our estimate for this setup when it was submitted"
    )
    roofline_gen_tokens_per_s = models.FloatField(null=True, blank=True)
    roofline_prompt_tokens_per_s = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.FORM)
    ip_hash = models.CharField(
        max_length=64, help_text="salted hash of the /24 or /64 network; no address is stored"
    )
    fingerprint = models.CharField(max_length=64, help_text="the setup and the figures, hashed")
    created_at = models.DateTimeField(default=timezone.now)
    moderated_at = models.DateTimeField(null=True, blank=True)

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # the model page's and the hardware page's published results
            models.Index(fields=["model", "status"], name="submission_model_status"),
            models.Index(fields=["hardware", "status"], name="submission_hardware_status"),
            models.Index(fields=["status", "created_at"], name="submission_moderation_queue"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["fingerprint"], name="unique_submission_fingerprint"),
            models.CheckConstraint(
                condition=Q(prompt_tokens_per_s__isnull=False) | Q(gen_tokens_per_s__isnull=False),
                name="submission_has_a_speed",
            ),
            models.CheckConstraint(
                condition=Q(prompt_tokens_per_s__isnull=True) | Q(prompt_tokens_per_s__gt=0),
                name="prompt_tokens_per_s_positive",
            ),
            models.CheckConstraint(
                condition=Q(gen_tokens_per_s__isnull=True) | Q(gen_tokens_per_s__gt=0),
                name="gen_tokens_per_s_positive",
            ),
            models.CheckConstraint(
                condition=Q(hardware__isnull=False) | ~Q(hardware_text=""),
                name="submission_names_a_device",
            ),
            models.CheckConstraint(
                condition=Q(hardware_count__gte=1) & Q(hardware_count__lte=MAX_COUNT),
                name="hardware_count_in_range",
            ),
            models.CheckConstraint(
                condition=Q(batch__gte=1) & Q(batch__lte=MAX_BATCH), name="batch_in_range"
            ),
            models.CheckConstraint(
                condition=Q(depth__lte=models.F("context")), name="depth_in_context"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]), name="submission_status_valid"
            ),
        ]

    def __str__(self) -> str:
        speeds = " / ".join(
            f"{label} {value:g} t/s"
            for label, value in (("pp", self.prompt_tokens_per_s), ("tg", self.gen_tokens_per_s))
            if value is not None
        )
        return f"{self.model_id} {self.quant or self.quant_text} on {self.device_label}: {speeds}"

    @property
    def device_label(self) -> str:
        name = self.hardware.name if self.hardware else f"{self.hardware_text} (other)"
        return f"{self.hardware_count} x {name}" if self.hardware_count > 1 else name

    @property
    def engine(self) -> str | None:
        return ENGINES.get(self.runtime)


def _benchmarks_changed(sender: type, **kwargs: object) -> None:
    Revision.bump(Revision.BENCHMARKS)


post_save.connect(_benchmarks_changed, sender=Submission, dispatch_uid="revision-save-submission")
post_delete.connect(_benchmarks_changed, sender=Submission, dispatch_uid="revision-del-submission")
