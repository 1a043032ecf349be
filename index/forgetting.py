"""Forgetting one person: remove their posts' traces from incidents and alerts (shared by every backend).

A backend's `forget_author` deletes the person's posts itself, then passes them here to get the
incidents and alerts that referred to them, cleaned: post ids dropped, example texts dropped, the
person's name replaced by a placeholder, and (for incidents) an audit entry saying what was done
without naming the person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from index.models import Alert, AuditEntry, Incident, Post, as_utc

#: What replaces a forgotten person's name in audit texts and alert texts.
FORGOTTEN = "[удалено]"
#: The actor written into the audit entry of a forgetting.
FORGET_ACTOR = "infopole forget"
#: The audit action of a forgetting.
FORGET_ACTION = "forget"
#: Names shorter than this are not replaced in free text (they would match inside ordinary words).
MIN_NAME_CHARS = 3
#: A quoted prefix of a post's text shorter than this identifies it only when it is the whole text.
MIN_QUOTE_CHARS = 12
#: How alert texts introduce a quoted example line.
QUOTE_MARK = "— "


def _names(posts: Iterable[Post]) -> list[str]:
    """Return the distinct author names of `posts` worth replacing, longest first."""
    names = {p.author_name.strip() for p in posts if p.author_name and not p.is_official}
    return sorted((n for n in names if len(n) >= MIN_NAME_CHARS), key=len, reverse=True)


def _texts(posts: Iterable[Post]) -> list[str]:
    """Return each post's text with whitespace normalised, as alerts quote it."""
    return [t for t in {" ".join(p.text.split()) for p in posts} if t]


def scrub_text(text: str, names: Sequence[str]) -> str:
    """Return `text` with every name in `names` replaced by the placeholder."""
    for name in names:
        text = text.replace(name, FORGOTTEN)
    return text


def _scrub_value(value: Any, ids: frozenset[str], names: Sequence[str], texts: Sequence[str]) -> Any:
    """Return a JSON value without items about the deleted posts (by id or by quoted text)."""
    if isinstance(value, Mapping):
        return {k: _scrub_value(v, ids, names, texts) for k, v in value.items()}
    if isinstance(value, list):
        kept = []
        for item in value:
            if isinstance(item, str) and item in ids:
                continue
            if isinstance(item, Mapping) and (item.get("id") in ids or item.get("post_id") in ids):
                continue
            if isinstance(item, Mapping) and _quotes(str(item.get("text") or ""), texts):
                continue
            kept.append(_scrub_value(item, ids, names, texts))
        return kept
    if isinstance(value, str):
        return scrub_text(value, names)
    return value


def _quotes(text: str, texts: Sequence[str]) -> bool:
    """Return whether `text` (an example or a «— …» line) quotes the beginning of one of `texts`."""
    quoted = " ".join(text.split()).removeprefix(QUOTE_MARK.strip()).strip()
    if not quoted:
        return False
    return any(
        full == quoted or (len(quoted) >= MIN_QUOTE_CHARS and full.startswith(quoted)) for full in texts
    )


def scrub_incident(incident: Incident, posts: Sequence[Post], at: datetime) -> Incident | None:
    """Return `incident` without the deleted `posts` (ids, names in its audit), audited; None if untouched."""
    ids = frozenset(p.id for p in posts)
    if not ids.intersection(incident.post_ids):
        return None
    names = _names(posts)
    kept = [pid for pid in incident.post_ids if pid not in ids]
    audit = [entry.model_copy(update={"detail": scrub_text(entry.detail, names)}) for entry in incident.audit]
    removed = len(incident.post_ids) - len(kept)
    audit.append(
        AuditEntry(
            at=as_utc(at),
            actor=FORGET_ACTOR,
            action=FORGET_ACTION,
            detail=f"по запросу об удалении персональных данных удалено сообщений: {removed}",
        )
    )
    return incident.model_copy(
        update={"post_ids": kept, "audit": audit, "updated_at": as_utc(at), "priority_basis": None}
    )


def scrub_alert(alert: Alert, posts: Sequence[Post]) -> Alert | None:
    """Return `alert` without the deleted `posts` (ids, examples, quoted lines, names); None if untouched."""
    ids = frozenset(p.id for p in posts)
    names = _names(posts)
    texts = _texts(posts)
    post_ids = [pid for pid in alert.post_ids if pid not in ids]
    lines = [
        scrub_text(line, names)
        for line in alert.text.split("\n")
        if not (line.startswith(QUOTE_MARK) and _quotes(line, texts))
    ]
    scrubbed = alert.model_copy(
        update={
            "post_ids": post_ids,
            "text": "\n".join(lines),
            "title": scrub_text(alert.title, names),
            "details": _scrub_value(alert.details, ids, names, texts),
        }
    )
    if scrubbed.model_dump() == alert.model_dump():
        return None
    return scrubbed
