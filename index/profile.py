"""The municipality profile: territories, sources, official pages, recipients, routing, SLA, norms.

It is domain data (risk/ reads it, infopole/ loads it), so it lives beside the other models.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, model_validator

from index.models import OfficialPage


class ProfileError(ValueError):
    """The profile file is missing, not YAML, or does not describe a valid municipality."""


class Territory(BaseModel):
    """A node of the territory tree: region → municipality → district → settlement."""

    id: str
    name: str
    level: str = "district"  # region | municipality | district | settlement
    aliases: list[str] = Field(default_factory=list)  # other spellings people use ("центр", "Заречка")
    streets: list[str] = Field(default_factory=list)  # street names in this territory (without "ул.")
    boundary: dict[str, object] | None = None  # optional GeoJSON geometry
    children: list[Territory] = Field(default_factory=list)


class WorkingHours(BaseModel):
    """A working day schedule in local time."""

    start: time = time(9, 0)
    end: time = time(18, 0)
    lunch_start: time | None = time(13, 0)
    lunch_end: time | None = time(14, 0)


class SlaRules(BaseModel):
    """Answer deadlines, counted in working time on the Russian production calendar."""

    first_answer_hours: dict[str, float] = Field(
        default_factory=lambda: {"normal": 8.0, "high": 4.0, "critical": 1.0}
    )
    final_answer_days: int = 7
    warn_before_hours: float = 2.0
    working_hours: WorkingHours = Field(default_factory=WorkingHours)


class Recipient(BaseModel):
    """A responsible body that answers incidents (a department, an МКУ, a district administration)."""

    id: str
    name: str
    head: str | None = None  # the recipient's head (first escalation step)
    email: str | None = None
    telegram_chat_id: str | None = None
    timezone: str | None = None  # defaults to the profile's
    working_hours: WorkingHours | None = None  # defaults to the SLA's
    sectors: list[str] = Field(default_factory=list)  # departments it covers (for its role key)
    # Its own answer deadlines (None or missing priorities: the profile's SLA).
    first_answer_hours: dict[str, float] = Field(default_factory=dict)  # priority → working hours
    final_answer_days: int | None = None
    warn_before_hours: float | None = None
    # Where escalations to the recipient's head go (step 2).
    head_email: str | None = None
    head_telegram_chat_id: str | None = None


class RoutingRule(BaseModel):
    """Route an incident to `recipient` when every given condition matches."""

    recipient: str
    sector: str | None = None
    topic: str | None = None
    territory: str | None = None
    keywords: list[str] = Field(default_factory=list)  # any of these lemmas in the text


class SourceList(BaseModel):
    """What to collect besides the official pages."""

    vk_communities: list[str] = Field(default_factory=list)
    tg_channels: list[str] = Field(default_factory=list)
    ok_groups: list[str] = Field(default_factory=list)
    web_sites: list[str] = Field(default_factory=list)


class IndicatorNorms(BaseModel):
    """Thresholds of the indicators, the pages' health, the content plan and the reports."""

    tension_priorities: list[str] = Field(default_factory=lambda: ["high", "critical"])
    rating_min_incidents: int = 2  # a recipient is rated only with this many incidents in the period
    rating_weights: dict[str, float] = Field(default_factory=lambda: {"timeliness": 0.5, "completeness": 0.5})
    incident_lookback_days: int = 30  # incidents opened this long before a period may hold its messages
    rising_change_pct: float = 30.0  # a sector or topic rises from this week-over-week change on
    rising_min_count: int = 10  # ... when it has at least this many messages
    page_min_answered_share: float = 0.8  # госпаблик: share of citizen questions and complaints answered
    page_answer_hours: float = 8.0  # госпаблик: answer time in working hours considered timely
    page_max_negative_share: float = 0.5  # госпаблик: negative comments above this share need attention
    plan_history_days: int = 28  # content plan: history used for audience hours and concerns
    plan_silent_min_count: int = 15  # content plan: citizens' messages a week for a silent sector


class PlannedEvent(BaseModel):
    """A planned event the official pages should announce and report (content plan)."""

    title: str
    start: datetime  # naive values are local time of the profile
    end: datetime | None = None
    territory: str | None = None
    sector: str | None = None
    pages: list[str] = Field(default_factory=list)  # page ids that should cover it (empty: any)
    description: str = ""


class Profile(BaseModel):
    """One municipality (or a region of several) as the centre describes it."""

    name: str
    timezone: str = "Europe/Moscow"
    keywords: list[str] = Field(default_factory=list)
    territories: list[Territory] = Field(default_factory=list)
    pages: list[OfficialPage] = Field(default_factory=list)
    sources: SourceList = Field(default_factory=SourceList)
    recipients: list[Recipient] = Field(default_factory=list)
    routing: list[RoutingRule] = Field(default_factory=list)
    default_recipient: str | None = None
    sla: SlaRules = Field(default_factory=SlaRules)
    posting_norms: dict[str, int] = Field(
        default_factory=lambda: {"флагманский": 5, "активный": 3, "визитка": 1}
    )
    officials: list[str] = Field(default_factory=list)  # names and posts of officials ("глава города")
    events: list[PlannedEvent] = Field(default_factory=list)  # planned events for the content plan
    indicators: IndicatorNorms = Field(default_factory=IndicatorNorms)
    # Gazetteer CSV files (district,settlement,street) merged into `territories` by risk.gazetteer_csv;
    # relative paths are read from the profile's folder.
    gazetteer_csv: list[Path] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_references(self) -> Profile:
        ids = [t.id for t in self.walk()]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"повторяющиеся id территорий: {sorted(dup)}")
        recipients = {r.id for r in self.recipients}
        for rule in self.routing:
            if rule.recipient not in recipients:
                raise ValueError(
                    f"правило маршрутизации ссылается на неизвестного исполнителя {rule.recipient!r}"
                )
        if self.default_recipient and self.default_recipient not in recipients:
            raise ValueError(f"неизвестный исполнитель по умолчанию {self.default_recipient!r}")
        return self

    def walk(self) -> Iterator[Territory]:
        """Yield every territory of the tree, parents before children."""
        stack = list(reversed(self.territories))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def parents(self) -> dict[str, str]:
        """Return a map of territory id → parent territory id."""
        out: dict[str, str] = {}
        for node in self.walk():
            for child in node.children:
                out[child.id] = node.id
        return out

    def territory(self, territory_id: str) -> Territory | None:
        """Return a territory by id, or None."""
        return next((t for t in self.walk() if t.id == territory_id), None)

    def recipient(self, recipient_id: str) -> Recipient | None:
        """Return a recipient by id, or None."""
        return next((r for r in self.recipients if r.id == recipient_id), None)


def load_profile(path: str | Path) -> Profile:
    """Read a profile YAML file; raise ProfileError with a Russian message if it is invalid."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProfileError(f"файл профиля не найден: {p}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ProfileError(f"профиль {p} не читается как YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"профиль {p} должен быть словарём YAML")
    try:
        profile = Profile.model_validate(data)
    except ValueError as exc:
        raise ProfileError(f"профиль {p} неверен: {exc}") from exc
    profile.gazetteer_csv = [f if f.is_absolute() else p.parent / f for f in profile.gazetteer_csv]
    return profile
