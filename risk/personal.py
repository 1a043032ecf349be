"""Pseudonymise citizens' personal data in what leaves the system: author names and contacts in texts."""

from __future__ import annotations

import re

from index.models import stable_id

#: Phone numbers (Russian formats), e-mails, VK mention markup [id123|Имя] and profile links.
_PHONE = re.compile(r"(?<!\d)(?:\+7|8)[\s\-(]*\d{3}[\s\-)]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_MENTION = re.compile(r"\[(?:id|club|public)\d+\|[^\]]*\]")
_PROFILE_LINK = re.compile(r"(?:https?://)?(?:vk\.com|ok\.ru/profile|t\.me)/[\w.]+", re.IGNORECASE)


def mask_text(text: str) -> str:
    """Return `text` with phones, e-mails, mentions and personal profile links replaced by placeholders."""
    text = _MENTION.sub("[пользователь]", text)
    text = _EMAIL.sub("[e-mail]", text)
    text = _PHONE.sub("[телефон]", text)
    return _PROFILE_LINK.sub("[ссылка на профиль]", text)


def author_label(
    author_id: str | None, author_name: str | None, *, reveal: bool, official: bool = False
) -> str:
    """Return how an author is shown: the name when `reveal` (or the page itself), else «житель #abcd12»."""
    if official:
        return author_name or "официальная страница"
    if reveal and author_name:
        return author_name
    if not author_id and not author_name:
        return "житель"
    return f"житель #{stable_id('author', author_id or author_name)[:6]}"
