"""Incidents: which posts need one, one per problem and place, routing, priority, workflow, escalation.

Every function is pure: it returns new objects (pydantic `model_copy`) and never mutates its inputs; the
caller stores them with optimistic concurrency.

Priority (`priority_for`), over the posts of an incident:
- critical: total reach ≥ 50,000, or ≥ 10 distinct authors, or inside a volume spike with ≥ 5 authors;
- high: reach ≥ 5,000, or ≥ 3 authors, or a post with aggression ≥ 0.5 or an escalation marker
  (threats to go to the prosecutor/court/media, collective action, violence), or inside a spike;
- normal otherwise.
`attach_post` is given a `PriorityTally` of the messages already attached (reach summed, one message
per distinct author up to 10), so authors and reach are counted over the whole incident; the incident
keeps the tally as its `priority_basis`, so the next message needs only those ≤ 10 messages read, not
all of them. Without a tally it falls back to the number of attached messages (3 → high, 10 →
critical) as a stand-in for the number of authors. Priority is only ever raised.

Deadlines use the recipient's own SLA where the profile gives one (`sla_for`), on its calendar.

Escalation of the open deadline (the first answer for new/assigned, the final one for interim), by level,
in working time on the recipient's calendar: 1 a warning `warn_before_hours` working hours before the
deadline; 2 at the deadline, to the recipient's head; 3 four working hours after it, to the head of the
МЦУ; 4 one working day (8 working hours) after it, marked for the ЦУР. Each level is applied once; an
interim answer starts the final-answer clock and resets the level to 0, so the final deadline escalates
afresh.

Manual changes: `merge_incidents` moves every message of one incident into another (the emptied one is
closed with `merged_into` set), `split_incident` moves chosen messages into a new incident; both are
audited on both sides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from importlib.metadata import version

from index.models import (
    AuditEntry,
    CitizenReaction,
    Incident,
    IncidentStatus,
    Kind,
    Outcome,
    Place,
    Post,
    Priority,
    PriorityBasis,
    Tone,
    as_utc,
    stable_id,
)
from index.profile import Profile, RoutingRule, SlaRules
from risk.calendar import WorkCalendar
from risk.deadlines import calendar_for, final_answer_due, first_answer_due
from risk.satisfaction import classify_reaction
from risk.text import normalize_word, query_lemmas

#: The actor written in the audit for automatic changes.
SYSTEM_ACTOR = "система"

#: Priority thresholds (see the module docstring).
CRITICAL_REACH = 50_000
HIGH_REACH = 5_000
CRITICAL_AUTHORS = 10
HIGH_AUTHORS = 3
SPIKE_CRITICAL_AUTHORS = 5
HIGH_AGGRESSION = 0.5
ESCALATION_MARKERS = frozenset({"threat_escalation", "collective_action", "violence"})
#: Attached messages standing for distinct authors in `attach_post`.
HIGH_MESSAGES = 3
CRITICAL_MESSAGES = 10

#: Escalation offsets after the open deadline, in working hours (level 1 uses warn_before_hours).
HEAD_OF_CENTRE_AFTER_HOURS = 4.0
CUR_AFTER_HOURS = 8.0
#: Reactions kept on an incident (the oldest are dropped beyond this).
MAX_REACTIONS = 50

_PRIORITY_RANK = {Priority.normal: 0, Priority.high: 1, Priority.critical: 2}

#: Russian names of statuses and priorities for messages and the audit.
STATUS_NAMES: dict[IncidentStatus, str] = {
    IncidentStatus.new: "новый",
    IncidentStatus.assigned: "назначен",
    IncidentStatus.interim: "промежуточный ответ",
    IncidentStatus.final: "окончательный ответ",
    IncidentStatus.closed: "закрыт",
}
PRIORITY_NAMES: dict[Priority, str] = {
    Priority.normal: "обычный",
    Priority.high: "высокий",
    Priority.critical: "критический",
}

#: Allowed status moves (closed → assigned is a reopening).
ALLOWED: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    IncidentStatus.new: frozenset({IncidentStatus.assigned, IncidentStatus.interim, IncidentStatus.final}),
    IncidentStatus.assigned: frozenset({IncidentStatus.interim, IncidentStatus.final}),
    IncidentStatus.interim: frozenset({IncidentStatus.final}),
    IncidentStatus.final: frozenset({IncidentStatus.closed}),
    IncidentStatus.closed: frozenset({IncidentStatus.assigned}),
}
OPEN_STATUSES = frozenset({IncidentStatus.new, IncidentStatus.assigned, IncidentStatus.interim})

#: Words that already name a street type (then no "ул." is added in titles).
_STREET_TYPES = (
    "улица",
    "ул.",
    "проспект",
    "пр-т",
    "пр.",
    "переулок",
    "пер.",
    "бульвар",
    "б-р",
    "шоссе",
    "площадь",
    "пл.",
    "набережная",
    "наб.",
    "проезд",
    "тупик",
    "аллея",
    "микрорайон",
    "мкр",
    "квартал",
    "тракт",
    "линия",
    "спуск",
)


class InvalidTransition(ValueError):
    """A status change or assignment that the workflow does not allow (message in Russian)."""


@dataclass(frozen=True)
class Escalation:
    """One escalation step of an incident's open deadline."""

    level: int  # 1 warning, 2 recipient's head, 3 head of the МЦУ, 4 ЦУР
    due_at: datetime  # when the step became due (UTC)
    deadline: datetime  # the deadline it is about (UTC)
    stage: str  # "first" (first answer) or "final" (final answer)

    @property
    def target(self) -> str:
        """Return who is told at this step, in Russian."""
        return ESCALATION_TARGETS[self.level]


ESCALATION_TARGETS: dict[int, str] = {
    1: "исполнитель (предупреждение)",
    2: "руководитель исполнителя",
    3: "глава МЦУ",
    4: "ЦУР",
}


# Which posts need an incident -------------------------------------------------------------------


def needs_incident(post: Post) -> bool:
    """Return whether a post asks for an answer: a citizen's complaint or negative question with a sector."""
    if post.is_official or not post.sector:
        return False
    if post.kind == Kind.complaint:
        return True
    return post.kind == Kind.question and post.tone == Tone.negative


def _street(post: Post) -> Place | None:
    """Return the first street (or house) place of a post."""
    return next((p for p in post.places if p.level in ("street", "house")), None)


def _norm(value: str | None) -> str:
    """Return a key part: lowercase, ё→е, without the ЦУР priority star and extra spaces."""
    return " ".join(normalize_word((value or "").replace("★", "")).split())


def problem_key(post: Post) -> str:
    """Return the key of the problem and place: sector | topic (or sector) | territory | street.

    A message with no place at all (no territory, no street) cannot be said to be about the same place as
    another: it is keyed by its thread instead (sector | topic | | | thread:<root id>), so the complaints of
    one discussion make one incident but placeless complaints across the city do not pile into one.
    """
    street = _street(post)
    parts = [post.sector, post.topic or post.sector, post.territory, street.name if street else None]
    key = "|".join(_norm(p) for p in parts)
    if not post.territory and street is None:
        key += f"|thread:{post.thread_id or post.id}"
    return key


def incident_id_for(post: Post) -> str:
    """Return the deterministic id of the incident a post belongs to."""
    return stable_id("incident", problem_key(post))


# Routing and priority ---------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _keyword_lemmas(keyword: str) -> frozenset[str]:
    """Return the lemmas of a routing keyword (a word or a phrase)."""
    return frozenset(query_lemmas(keyword))


def _rule_matches(rule: RoutingRule, post: Post, ancestors: Sequence[str]) -> bool:
    """Return whether every condition the rule gives matches the post."""
    if rule.sector is not None and _norm(rule.sector) != _norm(post.sector):
        return False
    if rule.topic is not None and _norm(rule.topic) != _norm(post.topic):
        return False
    if rule.territory is not None and rule.territory not in ancestors:
        return False
    if rule.keywords:
        words = set(post.lemmas.split())
        if not any(lem and lem <= words for lem in map(_keyword_lemmas, rule.keywords)):
            return False
    return True


def _territory_chain(territory: str | None, profile: Profile) -> list[str]:
    """Return the territory and its ancestors, nearest first."""
    if not territory:
        return []
    parents = profile.parents()
    chain = [territory]
    while chain[-1] in parents and len(chain) < 64:
        chain.append(parents[chain[-1]])
    return chain


def route(post: Post, profile: Profile) -> str | None:
    """Return the recipient of the first routing rule that matches the post, else the default one."""
    chain = _territory_chain(post.territory, profile)
    for rule in profile.routing:
        if _rule_matches(rule, post, chain):
            return rule.recipient
    return profile.default_recipient


def _max_priority(*values: Priority) -> Priority:
    """Return the highest of the priorities."""
    return max(values, key=lambda p: _PRIORITY_RANK[p])


def priority_for(posts: Sequence[Post], *, in_spike: bool = False) -> Priority:
    """Return the priority of an incident with these posts (thresholds in the module docstring)."""
    return PriorityTally.of(posts).judge(posts, in_spike=in_spike)


def _alarming(post: Post) -> bool:
    """Return whether one message alone makes an incident high: aggressive or threatening to escalate."""
    return post.aggression >= HIGH_AGGRESSION or bool(ESCALATION_MARKERS & set(post.aggression_markers))


@dataclass
class PriorityTally:
    """The running figures of an incident's messages its priority is judged on (built and grown per write).

    Reach is summed; authors are counted up to CRITICAL_AUTHORS (more change nothing), each by its first
    message. A message alone raising the priority (aggression, escalation) is judged as it arrives: the
    priority is only ever raised, so it need not be remembered.
    """

    reach: int = 0
    authors: dict[str, str] = field(default_factory=dict)  # author (id, else the post's id) → first post id

    @classmethod
    def of(cls, posts: Sequence[Post]) -> PriorityTally:
        """Return the tally of these messages (in the order given)."""
        tally = cls()
        for post in posts:
            tally.add(post)
        return tally

    @classmethod
    def resume(cls, basis: PriorityBasis, author_posts: Sequence[Post]) -> PriorityTally:
        """Return the tally a stored basis stands for, from its author messages as read (missing: lost)."""
        by_id = {p.id: p for p in author_posts}
        tally = cls(reach=basis.reach)
        for post_id in basis.author_posts:
            post = by_id.get(post_id)
            if post is not None:
                tally.authors.setdefault(post.author_id or post.id, post.id)
        return tally

    def add(self, post: Post) -> None:
        """Count one more message."""
        self.reach += post.metrics.reach()
        if len(self.authors) < CRITICAL_AUTHORS:
            self.authors.setdefault(post.author_id or post.id, post.id)

    def judge(self, new: Sequence[Post], *, in_spike: bool = False) -> Priority:
        """Return the priority the tally gives, with `new` the messages just counted (judged one by one)."""
        authors = len(self.authors)
        if (
            self.reach >= CRITICAL_REACH
            or authors >= CRITICAL_AUTHORS
            or (in_spike and authors >= SPIKE_CRITICAL_AUTHORS)
        ):
            return Priority.critical
        if self.reach >= HIGH_REACH or authors >= HIGH_AUTHORS or in_spike or any(map(_alarming, new)):
            return Priority.high
        return Priority.normal

    def basis(self, post_ids: Sequence[str], priority: Priority) -> PriorityBasis | None:
        """Return what to keep on an incident of `priority` whose messages are `post_ids` (not empty).

        None for a critical incident: its priority cannot rise, so nothing needs judging again.
        """
        if priority == Priority.critical:
            return None
        return PriorityBasis(
            messages=len(post_ids),
            last_post_id=post_ids[-1],
            reach=self.reach,
            author_posts=list(self.authors.values()),
        )


# Titles -----------------------------------------------------------------------------------------


def _street_label(name: str) -> str:
    """Return a street name for a title: "ул. Ленина", or the name itself when it has a type."""
    lowered = name.lower()
    if any(t in lowered.split() or lowered.startswith(t) or lowered.endswith(t) for t in _STREET_TYPES):
        return name.replace("улица ", "ул. ")
    return f"ул. {name}"


def _topic_label(topic: str) -> str:
    """Return a topic for a title: without the star, first letter lowercased unless an abbreviation."""
    text = " ".join(topic.replace("★", "").split())
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        text = text[0].lower() + text[1:]
    return text


def place_of(post: Post, profile: Profile) -> tuple[str | None, str | None]:
    """Return (place stored on the incident, place label for the title) of a post."""
    street = _street(post)
    if street is not None:
        label = _street_label(street.name)
        if street.house:
            label = f"{label}, {street.house}"
        return street.name, label
    settlement = next((p for p in post.places if p.level in ("settlement", "district")), None)
    if settlement is not None:
        return settlement.name, settlement.name
    node = profile.territory(post.territory) if post.territory else None
    return (node.name, node.name) if node else (None, None)


def incident_title(post: Post, profile: Profile) -> str:
    """Return a Russian title: "ЖКХ: нет горячей воды — ул. Ленина"."""
    sector = " ".join((post.sector or "Без сектора").replace("★", "").split())
    head = (
        f"{sector}: {_topic_label(post.topic)}"
        if post.topic and _norm(post.topic) != _norm(sector)
        else sector
    )
    _, label = place_of(post, profile)
    return f"{head} — {label}" if label else head


# Workflow ---------------------------------------------------------------------------------------


def _audit(incident: Incident, at: datetime, actor: str, action: str, detail: str = "") -> list[AuditEntry]:
    """Return the incident's audit with one more entry."""
    return [*incident.audit, AuditEntry(at=at, actor=actor, action=action, detail=detail)]


#: Audit actions of the system attaching one message, and a stretch of them counted in one entry.
ATTACHED = "добавлено сообщение"
ATTACHED_MANY = "добавлены сообщения"
#: Messages whose attachment keeps an audit entry of its own; later ones are folded (see _audit_attached).
ATTACHED_ENTRIES_KEPT = 20


def _audit_attached(incident: Incident, at: datetime, post_id: str) -> list[AuditEntry]:
    """Return the incident's audit with the attachment of `post_id` recorded.

    The first ATTACHED_ENTRIES_KEPT attachments get an entry each; after them a stretch of attachments
    with nothing else between them is one entry ("first … last", `count` messages, at the latest).
    An incident of thousands of messages otherwise carried thousands of entries that every detection
    run read and wrote back (the incident's `post_ids` keep every message, in order).
    """
    audit = incident.audit
    kept, singles = 0, 0
    while kept < len(audit) and singles < ATTACHED_ENTRIES_KEPT:
        singles += audit[kept].action == ATTACHED
        kept += 1
    start = len(audit)
    while (
        start > kept
        and audit[start - 1].actor == SYSTEM_ACTOR
        and audit[start - 1].action in (ATTACHED, ATTACHED_MANY)
    ):
        start -= 1
    stretch = audit[start:]
    if singles < ATTACHED_ENTRIES_KEPT or not stretch:
        return _audit(incident, at, SYSTEM_ACTOR, ATTACHED, post_id)
    first = stretch[0].detail.split(" … ", 1)[0]
    folded = AuditEntry(
        at=at,
        actor=SYSTEM_ACTOR,
        action=ATTACHED_MANY,
        detail=f"{first} … {post_id}",
        count=sum(e.count for e in stretch) + 1,
    )
    return [*audit[:start], folded]


def sla_for(profile: Profile, recipient_id: str | None) -> SlaRules:
    """Return a recipient's SLA: the profile's, with the recipient's own deadlines where it gives them."""
    recipient = profile.recipient(recipient_id) if recipient_id else None
    if recipient is None:
        return profile.sla
    update: dict[str, object] = {}
    if recipient.first_answer_hours:
        update["first_answer_hours"] = {**profile.sla.first_answer_hours, **recipient.first_answer_hours}
    if recipient.final_answer_days is not None:
        update["final_answer_days"] = recipient.final_answer_days
    if recipient.warn_before_hours is not None:
        update["warn_before_hours"] = recipient.warn_before_hours
    return profile.sla.model_copy(update=update) if update else profile.sla


def _first_due(created_at: datetime, priority: Priority, recipient: str | None, profile: Profile) -> datetime:
    """Return the first-answer deadline on the recipient's calendar and SLA."""
    return first_answer_due(
        created_at, priority, sla_for(profile, recipient), calendar_for(profile, recipient)
    )


def _final_due(answered_at: datetime, recipient: str | None, profile: Profile) -> datetime:
    """Return the final-answer deadline from the interim answer, on the recipient's calendar and SLA."""
    return final_answer_due(answered_at, sla_for(profile, recipient), calendar_for(profile, recipient))


def open_incident(post: Post, profile: Profile, now: datetime, *, in_spike: bool = False) -> Incident:
    """Return a new incident for a post that needs one: routed, prioritised, with its first deadline."""
    recipient = route(post, profile)
    tally = PriorityTally.of([post])
    priority = tally.judge([post], in_spike=in_spike)
    place, _ = place_of(post, profile)
    status = IncidentStatus.assigned if recipient else IncidentStatus.new
    first = _first_due(post.published_at, priority, recipient, profile)
    who = recipient or "не определён"
    detail = f"приоритет {PRIORITY_NAMES[priority]}; исполнитель: {who}; сообщение {post.id}"
    if in_spike:
        detail += "; во время всплеска"
    fresh = Incident(
        id=incident_id_for(post),
        title=incident_title(post, profile),
        sector=post.sector,
        topic=post.topic,
        territory=post.territory,
        place=place,
        recipient=recipient,
        priority=priority,
        status=status,
        post_ids=[post.id],
        created_at=post.published_at,
        first_answer_due=first,
        audit=[AuditEntry(at=now, actor=SYSTEM_ACTOR, action="создан", detail=detail)],
        updated_at=now,
        priority_basis=tally.basis([post.id], priority),
    )
    return _refresh_step(None, fresh, profile)


def _reopen(
    incident: Incident, at: datetime, since: datetime, profile: Profile, actor: str, why: str
) -> Incident:
    """Return the incident reopened with a fresh first-answer clock counted from `since`."""
    status = IncidentStatus.assigned if incident.recipient else IncidentStatus.new
    detail = (
        f"{why}; прежний исход: {incident.outcome.value if incident.outcome else 'нет'}; "
        f"новый срок первого ответа от {since.isoformat()}"
    )
    return incident.model_copy(
        update={
            "status": status,
            "outcome": None,
            "closed_at": None,
            "first_answered_at": None,
            "final_answered_at": None,
            "final_answer_due": None,
            "first_answer_due": _first_due(since, incident.priority, incident.recipient, profile),
            "escalation_level": 0,
            "audit": _audit(incident, at, actor, "переоткрыт", detail),
            "updated_at": at,
        }
    )


def _raise_priority(incident: Incident, priority: Priority, profile: Profile, now: datetime) -> Incident:
    """Return the incident with its priority raised to `priority` (audited; an unanswered clock restarts)."""
    if _PRIORITY_RANK[priority] <= _PRIORITY_RANK[incident.priority]:
        return incident
    change: dict[str, object] = {
        "priority": priority,
        "audit": _audit(
            incident,
            now,
            SYSTEM_ACTOR,
            "приоритет повышен",
            f"{PRIORITY_NAMES[incident.priority]} → {PRIORITY_NAMES[priority]}",
        ),
        "updated_at": now,
    }
    if incident.first_answered_at is None and incident.status in OPEN_STATUSES:
        change["first_answer_due"] = _first_due(incident.created_at, priority, incident.recipient, profile)
    return incident.model_copy(update=change)


def record_reaction(incident: Incident, post: Post, now: datetime) -> Incident:
    """Return the incident with a citizen's follow-up after the answer classified and stored (idempotent).

    Only a citizen's message published after the first answer counts; anything else returns the incident.
    """
    answered = incident.first_answered_at
    if post.is_official or answered is None or post.published_at <= answered:
        return incident
    if any(r.post_id == post.id for r in incident.reactions):
        return incident
    reaction = classify_reaction(post)
    entry = CitizenReaction(
        post_id=post.id, at=post.published_at, verdict=reaction.verdict.value, cues=reaction.cues
    )
    return incident.model_copy(
        update={
            "reactions": [*incident.reactions, entry][-MAX_REACTIONS:],
            "audit": _audit(
                incident, now, SYSTEM_ACTOR, "реакция жителя", f"{reaction.verdict.value}: {post.id}"
            ),
            "updated_at": now,
        }
    )


def attach_post(
    incident: Incident,
    post: Post,
    profile: Profile,
    now: datetime,
    *,
    tally: PriorityTally | None = None,
    in_spike: bool = False,
) -> Incident:
    """Return the incident with the post attached (idempotent), its priority raised and reopened if closed.

    `tally`: of the messages already attached (the caller reads it, see PriorityTally.resume); the post
    is counted into it (it is changed) and the incident keeps it as its priority basis, so authors and
    reach are counted over the whole incident. Without one the number of messages stands in for
    authors. A message published after the answer is also kept as the citizen's reaction.
    """
    if post.id in incident.post_ids:
        return incident
    post_ids = [*incident.post_ids, post.id]
    if tally is not None:
        tally.add(post)
        by_posts = tally.judge([post], in_spike=in_spike)
    else:
        by_count = (
            Priority.critical
            if len(post_ids) >= CRITICAL_MESSAGES
            else Priority.high
            if len(post_ids) >= HIGH_MESSAGES
            else Priority.normal
        )
        by_posts = _max_priority(priority_for([post], in_spike=in_spike), by_count)
    priority = _max_priority(incident.priority, by_posts)
    change: dict[str, object] = {
        "post_ids": post_ids,
        "audit": _audit_attached(incident, now, post.id),
        "updated_at": now,
    }
    if tally is not None:
        change["priority_basis"] = tally.basis(post_ids, priority)
    updated = _raise_priority(incident.model_copy(update=change), priority, profile, now)
    updated = record_reaction(updated, post, now)
    if incident.status == IncidentStatus.closed and (
        incident.closed_at is None or post.published_at > incident.closed_at
    ):
        updated = _reopen(
            updated, now, post.published_at, profile, SYSTEM_ACTOR, f"новое сообщение {post.id}"
        )
    return _refresh_step(incident, updated, profile)


def transition(
    incident: Incident,
    to: IncidentStatus,
    *,
    actor: str,
    at: datetime,
    profile: Profile,
    outcome: Outcome | None = None,
    comment: str = "",
) -> Incident:
    """Return the incident moved to status `to`; raise InvalidTransition for a move the workflow forbids.

    interim records the first answer and starts the final-answer clock (from the interim answer);
    final records the final answer (and the first one if unset); closed needs an outcome; closed →
    assigned reopens the incident with a fresh first-answer clock from `at`.
    """
    if incident.merged_into:
        raise InvalidTransition(f"инцидент объединён с {incident.merged_into}: работайте с ним")
    source = incident.status
    if to not in ALLOWED[source]:
        raise InvalidTransition(f"переход «{STATUS_NAMES[source]}» → «{STATUS_NAMES[to]}» недопустим")
    if to == IncidentStatus.assigned and not incident.recipient:
        raise InvalidTransition("нельзя перевести в «назначен»: исполнитель не выбран")
    if to == IncidentStatus.closed and outcome is None:
        raise InvalidTransition("чтобы закрыть инцидент, укажите исход")
    if source == IncidentStatus.closed:
        reopened = _reopen(incident, at, at, profile, actor, comment or "переоткрыт вручную")
        return _refresh_step(incident, reopened, profile)
    update: dict[str, object] = {"status": to, "updated_at": at}
    if to == IncidentStatus.interim:
        update["first_answered_at"] = at
        update["final_answer_due"] = _final_due(at, incident.recipient, profile)
        update["escalation_level"] = 0
    elif to == IncidentStatus.final:
        update["final_answered_at"] = at
        if incident.first_answered_at is None:
            update["first_answered_at"] = at
    elif to == IncidentStatus.closed:
        update["closed_at"] = at
        update["outcome"] = outcome
    action = f"статус: {STATUS_NAMES[source]} → {STATUS_NAMES[to]}"
    if outcome is not None and to == IncidentStatus.closed:
        comment = f"исход: {outcome.value}" + (f"; {comment}" if comment else "")
    update["audit"] = _audit(incident, at, actor, action, comment)
    return _refresh_step(incident, incident.model_copy(update=update), profile)


def assign(incident: Incident, recipient_id: str, *, actor: str, at: datetime, profile: Profile) -> Incident:
    """Return the incident (re)assigned to a recipient, deadlines recomputed on its calendar if unanswered.

    Raises InvalidTransition for an unknown recipient or an incident with a final answer or closed.
    """
    recipient = profile.recipient(recipient_id)
    if recipient is None:
        raise InvalidTransition(f"неизвестный исполнитель «{recipient_id}»")
    if incident.status not in OPEN_STATUSES:
        raise InvalidTransition(
            f"нельзя сменить исполнителя: инцидент в статусе «{STATUS_NAMES[incident.status]}»"
        )
    if incident.recipient == recipient_id and incident.status != IncidentStatus.new:
        return incident
    update: dict[str, object] = {"recipient": recipient_id, "updated_at": at}
    if incident.status == IncidentStatus.new:
        update["status"] = IncidentStatus.assigned
    if incident.first_answered_at is None:
        update["first_answer_due"] = _first_due(incident.created_at, incident.priority, recipient_id, profile)
    elif incident.status == IncidentStatus.interim:
        update["final_answer_due"] = _final_due(incident.first_answered_at, recipient_id, profile)
    detail = f"{incident.recipient or 'нет'} → {recipient_id} ({recipient.name})"
    update["audit"] = _audit(incident, at, actor, "назначен исполнитель", detail)
    return _refresh_step(incident, incident.model_copy(update=update), profile)


# Manual merge and split ---------------------------------------------------------------------------


def merge_incidents(
    target: Incident, source: Incident, *, actor: str, at: datetime, profile: Profile
) -> tuple[Incident, Incident]:
    """Return (target, source) after moving every message of `source` into `target`.

    The target keeps its recipient and workflow; it takes the higher priority, the earlier start (its
    unanswered first-answer clock is recomputed from it) and the source's reactions, and is reopened when
    it was closed but the source was not. The source is emptied, closed and points at the target; both
    audits name the other. Raises InvalidTransition when merging an incident into itself or a merged one.
    """
    if target.id == source.id:
        raise InvalidTransition("нельзя объединить инцидент с самим собой")
    if target.merged_into or source.merged_into:
        merged = target if target.merged_into else source
        raise InvalidTransition(f"инцидент {merged.id} уже объединён с {merged.merged_into}")
    moved = [pid for pid in source.post_ids if pid not in target.post_ids]
    created_at = min(target.created_at, source.created_at)
    priority = _max_priority(target.priority, source.priority)
    reactions = sorted(
        {r.post_id: r for r in [*target.reactions, *source.reactions]}.values(), key=lambda r: r.at
    )[-MAX_REACTIONS:]
    detail = f"из инцидента {source.id} ({source.title}): {count_messages(len(moved))}"
    update: dict[str, object] = {
        "post_ids": [*target.post_ids, *moved],
        "created_at": created_at,
        "priority": priority,
        "reactions": reactions,
        "audit": _audit(target, at, actor, "объединён", detail),
        "updated_at": at,
    }
    if target.first_answered_at is None and target.status in OPEN_STATUSES:
        update["first_answer_due"] = _first_due(created_at, priority, target.recipient, profile)
    merged_target = target.model_copy(update=update)
    if target.status == IncidentStatus.closed and source.status != IncidentStatus.closed:
        merged_target = _reopen(
            merged_target, at, at, profile, actor, f"присоединён открытый инцидент {source.id}"
        )
    emptied = source.model_copy(
        update={
            "post_ids": [],
            "merged_into": target.id,
            "status": IncidentStatus.closed,
            "closed_at": at,
            "audit": _audit(
                source,
                at,
                actor,
                "объединён",
                f"в инцидент {target.id} ({target.title}); сообщения: {', '.join(source.post_ids)}",
            ),
            "updated_at": at,
        }
    )
    return _refresh_step(target, merged_target, profile), emptied


def count_messages(n: int) -> str:
    """Return "1 сообщение", "3 сообщения", "5 сообщений"."""
    if n % 10 == 1 and n % 100 != 11:
        return f"{n} сообщение"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return f"{n} сообщения"
    return f"{n} сообщений"


def split_id(incident_id: str, post_ids: Sequence[str]) -> str:
    """Return the deterministic id of the incident split off with `post_ids`."""
    return stable_id("split", incident_id, *sorted(post_ids))


def split_incident(
    incident: Incident,
    posts: Sequence[Post],
    *,
    actor: str,
    at: datetime,
    profile: Profile,
) -> tuple[Incident, Incident]:
    """Return (rest, new): the chosen `posts` moved out of `incident` into a new incident of their own.

    The new incident is titled and placed after its earliest message, keeps the recipient, takes the
    priority of its messages and a first-answer clock from its earliest one. Raises InvalidTransition
    when a post is not attached, none is chosen, or every message would leave.
    """
    chosen = {p.id: p for p in posts}
    if not chosen:
        raise InvalidTransition("выберите сообщения, которые нужно выделить")
    missing = [pid for pid in chosen if pid not in incident.post_ids]
    if missing:
        raise InvalidTransition(f"сообщения не относятся к инциденту: {', '.join(missing)}")
    rest_ids = [pid for pid in incident.post_ids if pid not in chosen]
    if not rest_ids:
        raise InvalidTransition("нельзя выделить все сообщения: в инциденте должно остаться хотя бы одно")
    if incident.merged_into:
        raise InvalidTransition(f"инцидент объединён с {incident.merged_into}: работайте с ним")
    ordered = sorted(chosen.values(), key=lambda p: (p.published_at, p.id))
    first = ordered[0]
    new_id = split_id(incident.id, list(chosen))
    tally = PriorityTally.of(ordered)
    priority = tally.judge(ordered)
    place, _ = place_of(first, profile)
    recipient = incident.recipient
    status = IncidentStatus.assigned if recipient else IncidentStatus.new
    fresh = Incident(
        id=new_id,
        title=incident_title(first, profile),
        sector=first.sector or incident.sector,
        topic=first.topic or incident.topic,
        territory=first.territory or incident.territory,
        place=place or incident.place,
        recipient=recipient,
        priority=priority,
        status=status,
        post_ids=[p.id for p in ordered],
        created_at=first.published_at,
        first_answer_due=_first_due(first.published_at, priority, recipient, profile),
        reactions=[r for r in incident.reactions if r.post_id in chosen],
        priority_basis=tally.basis([p.id for p in ordered], priority),
        audit=[
            AuditEntry(
                at=at,
                actor=actor,
                action="выделен",
                detail=f"из инцидента {incident.id} ({incident.title}): {count_messages(len(ordered))}",
            )
        ],
        updated_at=at,
    )
    rest = incident.model_copy(
        update={
            "post_ids": rest_ids,
            "reactions": [r for r in incident.reactions if r.post_id not in chosen],
            "audit": _audit(
                incident, at, actor, "разделён", f"в инцидент {new_id}: {', '.join(p.id for p in ordered)}"
            ),
            "updated_at": at,
        }
    )
    return rest, _refresh_step(None, fresh, profile)


# Escalation -------------------------------------------------------------------------------------


def open_deadline(incident: Incident) -> tuple[str, datetime] | None:
    """Return ("first" | "final", deadline) the incident's status waits for, or None."""
    if incident.merged_into:
        return None
    if incident.status in (IncidentStatus.new, IncidentStatus.assigned) and incident.first_answer_due:
        return "first", incident.first_answer_due
    if incident.status == IncidentStatus.interim and incident.final_answer_due:
        return "final", incident.final_answer_due
    return None


def working_hours_before(calendar: WorkCalendar, moment: datetime, hours: float) -> datetime:
    """Return the UTC moment `hours` working hours before `moment` on `calendar` (walking back day by day)."""
    remaining = timedelta(hours=max(hours, 0.0))
    end = as_utc(moment)
    if remaining <= timedelta(0):
        return end
    day = end.astimezone(calendar.tz).date() + timedelta(days=1)
    for _ in range(4000):
        for a, b in reversed(calendar.work_intervals(day)):
            lo, hi = as_utc(a), min(as_utc(b), end)
            if hi <= lo:
                continue
            if hi - lo >= remaining:
                return hi - remaining
            remaining -= hi - lo
        day -= timedelta(days=1)
    raise ValueError("срок выходит за пределы календаря")


def escalation_moments(
    deadline: datetime, sla: SlaRules, calendar: WorkCalendar | None = None
) -> dict[int, datetime]:
    """Return when each escalation level is due for a deadline (UTC), in working time on `calendar`.

    Without a calendar the offsets are calendar hours (warning `warn_before_hours` before, 4 h and 8 h after).
    """
    if calendar is None:
        return {
            1: deadline - timedelta(hours=sla.warn_before_hours),
            2: deadline,
            3: deadline + timedelta(hours=HEAD_OF_CENTRE_AFTER_HOURS),
            4: deadline + timedelta(hours=CUR_AFTER_HOURS),
        }
    return {
        1: working_hours_before(calendar, deadline, sla.warn_before_hours),
        2: deadline,
        3: calendar.add_working_hours(deadline, HEAD_OF_CENTRE_AFTER_HOURS),
        4: calendar.add_working_hours(deadline, CUR_AFTER_HOURS),
    }


def due_escalations(
    incident: Incident, now: datetime, sla: SlaRules, calendar: WorkCalendar | None = None
) -> list[Escalation]:
    """Return the escalation steps that are due at `now` and not yet applied, lowest level first.

    Pass the recipient's `calendar` (risk.deadlines.calendar_for) and SLA (`sla_for`) to count the
    offsets in working time; without a calendar they are calendar hours.
    """
    return escalation_plan(incident, now, sla, calendar)[0]


def escalation_plan(
    incident: Incident, now: datetime, sla: SlaRules, calendar: WorkCalendar | None = None
) -> tuple[list[Escalation], datetime | None]:
    """Return the steps due at `now` (as `due_escalations`) and when the next step after them falls due.

    The second is None when no step is left after them (the last level, or no deadline open).
    """
    current = open_deadline(incident)
    if current is None:
        return [], None
    stage, deadline = current
    moments = escalation_moments(deadline, sla, calendar)
    due = [
        Escalation(level=level, due_at=moment, deadline=deadline, stage=stage)
        for level, moment in sorted(moments.items())
        if level > incident.escalation_level and moment <= now
    ]
    reached = max([incident.escalation_level, *(step.level for step in due)])
    ahead = [moment for level, moment in moments.items() if level > reached]
    return due, (min(ahead) if ahead else None)


def apply_escalation(incident: Incident, escalation: Escalation, at: datetime) -> Incident:
    """Return the incident with the escalation level raised to the step's and the step audited."""
    if escalation.level <= incident.escalation_level:
        return incident
    what = "первого ответа" if escalation.stage == "first" else "окончательного ответа"
    detail = f"срок {what}: {escalation.deadline.isoformat()}; кому: {escalation.target}"
    return incident.model_copy(
        update={
            "escalation_level": escalation.level,
            "audit": _audit(incident, at, SYSTEM_ACTOR, f"эскалация, уровень {escalation.level}", detail),
            "updated_at": at,
        }
    )


#: Bumped whenever the arithmetic of the escalation moments changes: next steps worked out by earlier
#: code then count as not worked out and the next escalation run works them out again.
ESCALATION_RULES_VERSION = 1
#: Recipient fields the escalation moments depend on (deadlines and working calendar).
_RECIPIENT_RULES = {
    "id",
    "timezone",
    "working_hours",
    "first_answer_hours",
    "final_answer_days",
    "warn_before_hours",
}


#: The last profile whose escalation rules were digested, and the digest (profiles are not hashable).
_RULES_OF: list[tuple[Profile, str]] = []


def escalation_rules(profile: Profile) -> str:
    """Return a digest of what the escalation moments depend on: the SLA, calendars and recipients' own.

    Stored with each incident's next step (Incident.next_step_basis): a profile edit changes the digest,
    so every open incident's next step counts as not worked out until the next run works it out anew.
    The digest of the last profile asked about is kept (a profile is not edited in place).
    """
    if _RULES_OF and _RULES_OF[0][0] is profile:
        return _RULES_OF[0][1]
    parts = [
        str(ESCALATION_RULES_VERSION),
        version("holidays"),  # the production calendar's holidays
        profile.timezone,
        profile.sla.model_dump_json(),
        *(r.model_dump_json(include=_RECIPIENT_RULES) for r in profile.recipients),
    ]
    digest = hashlib.blake2b("\n".join(parts).encode(), digest_size=8).hexdigest()
    _RULES_OF[:] = [(profile, digest)]
    return digest


def next_step_at(incident: Incident, sla: SlaRules, calendar: WorkCalendar | None = None) -> datetime | None:
    """Return when the open deadline's next escalation step above the incident's level falls due (UTC).

    None when it has none left (the last level reached, or no deadline open).
    """
    current = open_deadline(incident)
    if current is None:
        return None
    moments = escalation_moments(current[1], sla, calendar)
    ahead = [moment for level, moment in moments.items() if level > incident.escalation_level]
    return min(ahead) if ahead else None


def with_next_step(
    incident: Incident, rules: str, sla: SlaRules, calendar: WorkCalendar | None = None
) -> Incident:
    """Return the incident with its next escalation step worked out under `rules` for its present state."""
    return incident.with_step_plan(rules, next_step_at(incident, sla, calendar))


def worked_out(incident: Incident, profile: Profile) -> Incident:
    """Return the incident with its next escalation step worked out under the profile's rules."""
    recipient = incident.recipient
    return with_next_step(
        incident, escalation_rules(profile), sla_for(profile, recipient), calendar_for(profile, recipient)
    )


def _refresh_step(before: Incident | None, after: Incident, profile: Profile) -> Incident:
    """Return `after` with its next escalation step worked out if a change made it due to be.

    Only a convenience: a stored next step counts only while its basis is the incident as it is
    (Incident.step_index), so a change made elsewhere without this is worked out by the next run.
    """
    if after.status not in OPEN_STATUSES or after.merged_into:
        return after
    if (
        before is None
        or after.escalation_state() != before.escalation_state()
        or after.step_index()[0] is None
    ):
        return worked_out(after, profile)
    return after
