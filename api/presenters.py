"""Turn domain models into API models: overdue flags, recipient names, attached posts."""

from __future__ import annotations

from datetime import datetime

from api.schemas import AlertPublic, IncidentDetail, IncidentPublic, PostPublic
from index.models import Alert, Incident, Post
from index.profile import Profile
from index.store import PostQuery, Store
from risk.incidents import open_deadline
from risk.personal import author_label, mask_text


def is_overdue(incident: Incident, now: datetime) -> bool:
    """Return whether the deadline the incident's status waits for passed before `now`.

    new/assigned wait for the first answer, interim for the final one (the workflow's
    `open_deadline`, the same rule as `IncidentQuery.overdue_at`); final and closed are never overdue.
    """
    deadline = open_deadline(incident)
    return deadline is not None and deadline[1] < now


def post_public(post: Post, reveal: bool = True) -> PostPublic:
    """Return the API view of a post; without `reveal` the name is a pseudonym and contacts are masked."""
    view = PostPublic.model_validate(post)
    if not reveal and not post.is_official:
        view.author_name = author_label(post.author_id, post.author_name, reveal=False)
        view.text = mask_text(post.text)
    return view


def alert_public(alert: Alert) -> AlertPublic:
    """Return the API view of an alert."""
    return AlertPublic.model_validate(alert)


def _recipient_name(profile: Profile, recipient_id: str | None) -> str | None:
    if recipient_id is None:
        return None
    recipient = profile.recipient(recipient_id)
    return recipient.name if recipient else None


def incident_public(incident: Incident, profile: Profile, now: datetime) -> IncidentPublic:
    """Return the API view of an incident in a list."""
    view = IncidentPublic.model_validate(incident)
    view.recipient_name = _recipient_name(profile, incident.recipient)
    view.overdue = is_overdue(incident, now)
    return view


def incident_detail(
    incident: Incident, store: Store, profile: Profile, now: datetime, reveal: bool = True
) -> IncidentDetail:
    """Return one incident with its audit trail and attached posts (oldest first; see post_public)."""
    posts: list[PostPublic] = []
    if incident.post_ids:
        page = store.query_posts(
            PostQuery(ids=list(incident.post_ids), limit=len(incident.post_ids), newest_first=False)
        )
        posts = [post_public(p, reveal) for p in page.items]
    base = incident_public(incident, profile, now)
    return IncidentDetail(
        **base.model_dump(), audit=list(incident.audit), posts=posts, reactions=list(incident.reactions)
    )
