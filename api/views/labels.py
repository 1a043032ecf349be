"""Russian names of sources, kinds and tones as the web UI shows them."""

from __future__ import annotations

from collections.abc import Mapping

from index.models import Kind, Tone

SOURCE_NAMES: Mapping[str, str] = {
    "vk": "ВКонтакте",
    "tg": "Telegram",
    "ok": "Одноклассники",
    "web": "сайты",
    "im": "Инцидент Менеджмент",
    "pos": "ПОС",
    "demo": "демо",
}
KIND_LABELS: Mapping[str, str] = {
    Kind.complaint.value: "жалоба",
    Kind.question.value: "вопрос",
    Kind.suggestion.value: "предложение",
    Kind.gratitude.value: "благодарность",
    Kind.information.value: "информация",
}
TONE_LABELS: Mapping[str, str] = {
    Tone.negative.value: "негатив",
    Tone.neutral.value: "нейтрально",
    Tone.positive.value: "позитив",
}
#: Shown for a value that was not determined.
UNKNOWN = "не определено"


def source_name(source: str | None) -> str:
    """Return the Russian name of a source id (the id itself when unknown)."""
    if not source:
        return UNKNOWN
    return SOURCE_NAMES.get(source, source)
