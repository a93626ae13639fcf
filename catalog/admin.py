from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from catalog import hub, importer
from catalog.models import Encoder, Family, Hardware, Modality, Model, Provider, Score


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "hf_org"]
    search_fields = ["name", "slug"]


@admin.register(Family)
class FamilyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "provider"]
    list_filter = ["provider"]
    search_fields = ["name", "slug"]


@admin.register(Modality)
class ModalityAdmin(admin.ModelAdmin):
    list_display = ["code"]


class EncoderInline(admin.TabularInline):
    model = Encoder
    extra = 0


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ["name", "provider", "family", "params_total", "context_length", "release_date"]
    list_filter = ["provider", "family", "commercial_use", "model_type"]
    search_fields = ["name", "hf_id", "slug"]
    list_select_related = ["provider", "family"]
    inlines = [EncoderInline]
    actions = ["refresh_from_hub"]

    @admin.action(description="Read the published GGUF sizes again from the Hugging Face Hub")
    def refresh_from_hub(self, request: HttpRequest, queryset: QuerySet[Model]) -> None:
        for model in queryset:
            try:
                importer.import_model(hub.fetch(model.hf_id))
            except (hub.HubError, importer.NotEstimable) as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{model.hf_id}: published GGUF sizes refreshed.")


@admin.register(Score)
class ScoreAdmin(admin.ModelAdmin):
    list_display = ["model", "benchmark", "setting", "value", "unit", "source_kind"]
    list_filter = ["benchmark", "source_kind"]
    search_fields = ["model__name", "benchmark"]
    list_select_related = ["model"]


@admin.register(Encoder)
class EncoderAdmin(admin.ModelAdmin):
    list_display = ["name", "model", "modality", "params"]
    list_select_related = ["model", "modality"]


@admin.register(Hardware)
class HardwareAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "kind",
        "segment",
        "memory_bytes",
        "bandwidth_gbps",
        "fp16_tflops",
    ]
    list_filter = ["kind", "segment", "vendor"]
    search_fields = ["name", "slug"]
