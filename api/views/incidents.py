"""Incident pages: the filtered list, one incident with its messages and journal, a role's actions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from api.auth import Permission, Principal
from api.dashboard import IncidentRow, attention_key, incident_row
from api.views.common import (
    FormError,
    form_int,
    local_time,
    reveals_personal,
    shown_author,
    shown_text,
    url_with,
)
from api.views.labels import source_name
from index.models import AuditEntry, Incident, IncidentStatus, Outcome, Post, Priority
from index.profile import Profile
from index.store import IncidentQuery, PostQuery, Store
from risk.incidents import ALLOWED, OPEN_STATUSES, PRIORITY_NAMES, STATUS_NAMES, open_deadline

#: Rows per page of the incident list.
LIST_ROWS = 50
#: At most this many incidents are read when a filter the store cannot apply (priority) is used.
MAX_FILTER_SCAN = 5_000
#: Longest comment or answer text (characters).
MAX_COMMENT_CHARS = 4_000
#: Audit action of a comment added without a status change.
COMMENT_ACTION = "комментарий"

#: Status filter values of the list → the statuses they mean.
STATUS_FILTERS: Mapping[str, tuple[str, list[IncidentStatus] | None]] = {
    "open": ("открытые", sorted(OPEN_STATUSES)),
    "answered": ("с окончательным ответом", [IncidentStatus.final]),
    "closed": ("закрытые", [IncidentStatus.closed]),
    "all": ("все", None),
}

#: Button labels of the status moves.
MOVE_LABELS: Mapping[IncidentStatus, str] = {
    IncidentStatus.assigned: "Перевести в «назначен»",
    IncidentStatus.interim: "Дать промежуточный ответ",
    IncidentStatus.final: "Дать окончательный ответ",
    IncidentStatus.closed: "Закрыть",
}

#: Confirmation messages shown after an action (the `done` query value).
DONE_MESSAGES: Mapping[str, str] = {
    "assigned": "Инцидент переведён в статус «назначен».",
    "reopened": "Инцидент переоткрыт.",
    "interim": "Промежуточный ответ записан; пошёл срок окончательного ответа.",
    "final": "Окончательный ответ записан.",
    "closed": "Инцидент закрыт.",
    "assign": "Исполнитель назначен.",
    "comment": "Комментарий добавлен.",
}


@dataclass
class IncidentFilters:
    """What the incident list is filtered by."""

    status: str = "open"
    overdue: bool = False
    priority: Priority | None = None
    recipient: str | None = None
    sector: str | None = None
    territory: str | None = None
    offset: int = 0

    def params(self) -> dict[str, str | int | None]:
        """Return the query parameters of these filters (for links)."""
        return {
            "status": self.status,
            "overdue": "1" if self.overdue else None,
            "priority": self.priority.value if self.priority else None,
            "recipient": self.recipient,
            "sector": self.sector,
            "territory": self.territory,
        }


def parse_filters(params: Mapping[str, str], principal: Principal) -> IncidentFilters:
    """Return the list filters from the query string; a recipient is always limited to itself.

    Raises FormError for an unknown status or priority or a bad offset.
    """
    status = params.get("status") or "open"
    if status not in STATUS_FILTERS:
        raise FormError("неизвестный фильтр статуса")
    priority_text = params.get("priority") or None
    try:
        priority = Priority(priority_text) if priority_text else None
    except ValueError as exc:
        raise FormError("неизвестный приоритет") from exc
    recipient = params.get("recipient") or None
    if principal.recipient_id is not None:
        recipient = principal.recipient_id
    return IncidentFilters(
        status=status,
        overdue=params.get("overdue") in {"1", "on", "true"},
        priority=priority,
        recipient=recipient,
        sector=params.get("sector") or None,
        territory=params.get("territory") or None,
        offset=form_int(params.get("offset"), "сдвиг", default=0),
    )


@dataclass
class IncidentList:
    """One page of the incident list."""

    filters: IncidentFilters
    incidents: list[IncidentRow]
    total: int
    status_options: list[tuple[str, str]]
    recipient_options: list[tuple[str, str]]
    territory_options: list[tuple[str, str]]
    priority_options: list[tuple[str, str]]
    prev_href: str | None = None
    next_href: str | None = None
    truncated: bool = False


def list_incidents(
    store: Store, profile: Profile, principal: Principal, flt: IncidentFilters, now: datetime, tz: tzinfo
) -> IncidentList:
    """Return one page of incidents matching `flt` (overdue first when the overdue filter is on)."""
    query = IncidentQuery(
        status=STATUS_FILTERS[flt.status][1],
        recipient=flt.recipient,
        sector=flt.sector,
        territory=flt.territory,
        overdue_at=now if flt.overdue else None,
        limit=LIST_ROWS,
        offset=flt.offset,
    )
    truncated = False
    if flt.priority is None:
        page = store.query_incidents(query)
        items, total = page.items, page.total
    else:
        matched: list[Incident] = []
        query.offset, query.limit = 0, 500
        while query.offset < MAX_FILTER_SCAN:
            page = store.query_incidents(query)
            matched += [i for i in page.items if i.priority == flt.priority]
            query.offset += len(page.items)
            if not page.items or query.offset >= page.total:
                break
        else:
            truncated = True
        total = len(matched)
        items = matched[flt.offset : flt.offset + LIST_ROWS]
    if flt.overdue or flt.priority is not None:
        items = sorted(items, key=lambda i: attention_key(i, now))
    base = flt.params()
    result = IncidentList(
        filters=flt,
        incidents=[incident_row(i, profile, now, tz) for i in items],
        total=total,
        status_options=[(k, v[0]) for k, v in STATUS_FILTERS.items()],
        recipient_options=[] if principal.recipient_id else [(r.id, r.name) for r in profile.recipients],
        territory_options=[(t.id, t.name) for t in profile.walk()],
        priority_options=[(p.value, PRIORITY_NAMES[p]) for p in Priority],
        truncated=truncated,
    )
    if flt.offset > 0:
        result.prev_href = url_with("/ui/incidents", {**base, "offset": max(flt.offset - LIST_ROWS, 0)})
    if flt.offset + LIST_ROWS < total:
        result.next_href = url_with("/ui/incidents", {**base, "offset": flt.offset + LIST_ROWS})
    return result


@dataclass(frozen=True)
class PostLine:
    """A citizen's message attached to an incident."""

    id: str
    at: str
    source: str
    author: str
    text: str
    url: str | None


@dataclass(frozen=True)
class AuditLine:
    """One line of the incident's journal."""

    at: str
    actor: str
    action: str
    detail: str


@dataclass(frozen=True)
class Move:
    """A status move the user may make, with its button label."""

    to: str
    label: str


@dataclass
class IncidentView:
    """One incident with everything its page shows and the forms the role may use."""

    id: str
    title: str
    version: int
    status: str
    status_code: str
    priority: str
    critical: bool
    sector: str
    topic: str
    place: str
    territory: str
    recipient: str
    created: str
    first_due: str
    first_answered: str
    final_due: str
    final_answered: str
    closed: str
    outcome: str
    overdue: bool
    deadline_label: str
    deadline: str
    escalation_level: int
    posts: list[PostLine] = field(default_factory=list)
    audit: list[AuditLine] = field(default_factory=list)
    answer_moves: list[Move] = field(default_factory=list)  # interim / final with an answer text
    can_close: bool = False
    can_reopen: bool = False
    can_assign_status: bool = False  # new → assigned (a recipient is set)
    can_comment: bool = False
    can_assign: bool = False
    recipient_options: list[tuple[str, str]] = field(default_factory=list)
    outcome_options: list[str] = field(default_factory=list)


def _posts(store: Store, incident: Incident, tz: tzinfo, reveal: bool) -> list[PostLine]:
    """Return the incident's messages, oldest first."""
    if not incident.post_ids:
        return []
    ids = list(incident.post_ids)
    page = store.query_posts(PostQuery(ids=ids, limit=len(ids), newest_first=False))
    return [_post_line(p, tz, reveal) for p in page.items]


def _post_line(post: Post, tz: tzinfo, reveal: bool) -> PostLine:
    return PostLine(
        id=post.id,
        at=local_time(post.published_at, tz),
        source=source_name(post.source),
        author=shown_author(post.author_id, post.author_name, reveal, post.is_official),
        text=shown_text(post.text, reveal),
        url=post.url if post.url and post.url.startswith(("https://", "http://")) else None,
    )


def incident_view(
    store: Store, profile: Profile, principal: Principal, incident: Incident, now: datetime, tz: tzinfo
) -> IncidentView:
    """Return the page of one incident for `principal`, with the actions the role and status allow."""
    row = incident_row(incident, profile, now, tz)
    territory = profile.territory(incident.territory) if incident.territory else None
    deadline = open_deadline(incident)
    view = IncidentView(
        id=incident.id,
        title=incident.title,
        version=incident.version,
        status=row.status,
        status_code=incident.status.value,
        priority=row.priority,
        critical=row.critical,
        sector=incident.sector or "—",
        topic=incident.topic or "—",
        place=incident.place or "—",
        territory=territory.name if territory else (incident.territory or "—"),
        recipient=row.recipient,
        created=local_time(incident.created_at, tz),
        first_due=local_time(incident.first_answer_due, tz),
        first_answered=local_time(incident.first_answered_at, tz),
        final_due=local_time(incident.final_answer_due, tz),
        final_answered=local_time(incident.final_answered_at, tz),
        closed=local_time(incident.closed_at, tz),
        outcome=incident.outcome.value if incident.outcome else "—",
        overdue=row.overdue,
        deadline_label=row.deadline_label,
        deadline=row.deadline if deadline else "—",
        escalation_level=incident.escalation_level,
        posts=_posts(store, incident, tz, reveals_personal(principal)),
        audit=[_audit_line(a, tz) for a in reversed(incident.audit)],
    )
    if principal.can(Permission.incidents_transition):
        allowed = ALLOWED[incident.status]
        view.answer_moves = [
            Move(s.value, MOVE_LABELS[s])
            for s in (IncidentStatus.interim, IncidentStatus.final)
            if s in allowed
        ]
        view.can_close = IncidentStatus.closed in allowed
        view.can_reopen = incident.status == IncidentStatus.closed and incident.recipient is not None
        view.can_assign_status = incident.status == IncidentStatus.new and incident.recipient is not None
        view.can_comment = True
        view.outcome_options = [o.value for o in Outcome]
    if principal.can(Permission.incidents_assign) and incident.status in OPEN_STATUSES:
        view.can_assign = True
        view.recipient_options = [(r.id, r.name) for r in profile.recipients]
    return view


def _audit_line(entry: AuditEntry, tz: tzinfo) -> AuditLine:
    action = f"{entry.action} ({entry.count})" if entry.count > 1 else entry.action
    return AuditLine(at=local_time(entry.at, tz), actor=entry.actor, action=action, detail=entry.detail)


def add_comment(incident: Incident, text: str, *, actor: str, at: datetime) -> Incident:
    """Return the incident with a comment in its journal (no status change).

    Raises FormError when the text is empty.
    """
    if not text.strip():
        raise FormError("комментарий пуст")
    entry = AuditEntry(at=at, actor=actor, action=COMMENT_ACTION, detail=text.strip())
    return incident.model_copy(update={"audit": [*incident.audit, entry], "updated_at": at})


def parse_move(form: Mapping[str, str]) -> tuple[IncidentStatus, Outcome | None, str]:
    """Return (target status, outcome, comment) from a transition form.

    Raises FormError for an unknown status or outcome, a close without outcome, or a too long text.
    """
    try:
        to = IncidentStatus(form.get("to", ""))
    except ValueError as exc:
        raise FormError("неизвестный статус") from exc
    outcome_text = form.get("outcome") or ""
    try:
        outcome = Outcome(outcome_text) if outcome_text else None
    except ValueError as exc:
        raise FormError("неизвестный исход") from exc
    if to == IncidentStatus.closed and outcome is None:
        raise FormError("чтобы закрыть инцидент, выберите исход")
    comment = (form.get("comment") or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise FormError(f"текст длиннее {MAX_COMMENT_CHARS} символов — сократите его")
    if to in (IncidentStatus.interim, IncidentStatus.final) and not comment:
        raise FormError("напишите текст ответа гражданам")
    return to, outcome, comment


def done_code(old: IncidentStatus, new: IncidentStatus) -> str:
    """Return the confirmation code of a status move."""
    if old == IncidentStatus.closed:
        return "reopened"
    return new.value


def status_name(status: IncidentStatus) -> str:
    """Return the Russian name of a status."""
    return STATUS_NAMES.get(status, status.value)
