"""Moderation: held results with the plausibility reason, bulk publish/reject, filters."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from benchmarks import submit
from benchmarks.models import Status, Submission
from catalog.models import Revision

REJECT_REASONS = {
    "reject_implausible": "Implausible for this setup.",
    "reject_spam": "Spam or not a real measurement.",
    "reject_wrong_setup": "The setup described does not match the figures.",
}


def _moderate(
    request: HttpRequest, queryset: QuerySet[Submission], status: Status, reason: str = ""
) -> None:
    count = queryset.update(status=status, rejected_reason=reason, moderated_at=timezone.now())
    Revision.bump(Revision.BENCHMARKS)  # update() sends no signals: pages show the change
    messages.success(request, f"{count} result{'s' if count != 1 else ''}: {status.label}.")


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "id", "model", "device", "quant_or_text", "test", "prompt_tokens_per_s",
        "gen_tokens_per_s", "vs_estimate", "status", "held_reason", "created_at",
    )  # fmt: skip
    list_filter = (
        "status", "runtime", "backend", "source", "hardware__segment", "kv_type", "flash_attn",
        "created_at",
    )  # fmt: skip
    search_fields = ("model__name", "hardware__name", "hardware_text", "name", "notes")
    list_select_related = ("model", "hardware")
    list_per_page = 100
    date_hierarchy = "created_at"
    actions = ("publish", "hold", *REJECT_REASONS)
    readonly_fields = (
        "held_reason", "estimate_gen_tokens_per_s", "roofline_gen_tokens_per_s",
        "roofline_prompt_tokens_per_s", "source", "ip_hash", "fingerprint", "created_at",
        "moderated_at",
    )  # fmt: skip
    raw_id_fields = ("model", "hardware")

    @admin.display(description="device")
    def device(self, obj: Submission) -> str:
        return obj.device_label

    @admin.display(description="quant")
    def quant_or_text(self, obj: Submission) -> str:
        return obj.quant or obj.quant_text

    @admin.display(description="measured ÷ estimate")
    def vs_estimate(self, obj: Submission) -> str:
        if obj.gen_tokens_per_s and obj.estimate_gen_tokens_per_s:
            return f"{obj.gen_tokens_per_s / obj.estimate_gen_tokens_per_s:.2f}"
        return "—"

    def save_model(self, request: HttpRequest, obj: Submission, form: object, change: bool) -> None:
        changed = set(getattr(form, "changed_data", ()))
        if change and "status" in changed:
            obj.moderated_at = timezone.now()
        if changed & set(submit.SETUP_FIELDS + submit.ROW_FIELDS):
            submit.refresh(obj)  # calibration and duplicates use what it derives
        super().save_model(request, obj, form, change)  # type: ignore[arg-type]

    @admin.action(description="Publish the selected results")
    def publish(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        _moderate(request, queryset, Status.PUBLISHED)

    @admin.action(description="Hold the selected results (back to pending)")
    def hold(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        _moderate(request, queryset, Status.PENDING)

    @admin.action(description="Reject: implausible for this setup")
    def reject_implausible(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        _moderate(request, queryset, Status.REJECTED, REJECT_REASONS["reject_implausible"])

    @admin.action(description="Reject: spam or not a real measurement")
    def reject_spam(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        _moderate(request, queryset, Status.REJECTED, REJECT_REASONS["reject_spam"])

    @admin.action(description="Reject: the setup does not match the figures")
    def reject_wrong_setup(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        _moderate(request, queryset, Status.REJECTED, REJECT_REASONS["reject_wrong_setup"])
