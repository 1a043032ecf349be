"""The demo stream's ground truth: injected spikes, conflict threads and incident groups (truth.json)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

from index.models import as_utc


class SpikeTruth(BaseModel):
    """A burst of messages about one sector in one territory, [start, end) in UTC."""

    key: str = ""
    sector: str
    topic: str | None = None
    territory: str
    start: datetime
    end: datetime
    post_ids: list[str] = Field(default_factory=list)  # every injected message of the burst

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)


class ConflictTruth(BaseModel):
    """A heated thread under an official page's post; post_ids are the citizens' comments."""

    key: str = ""
    thread_id: str  # the root post id
    page_id: str
    sector: str | None = None
    start: datetime  # when the root post was published
    escalated_at: datetime | None = None  # the first comment with insults or threats
    authors: int = 0  # distinct citizen authors
    post_ids: list[str] = Field(default_factory=list)

    @field_validator("start", "escalated_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)


class IncidentTruth(BaseModel):
    """Complaints about one problem at one place (sector, territory, street) that make one incident."""

    sector: str
    topic: str | None = None
    territory: str
    street: str  # the street name as listed in the profile
    post_ids: list[str] = Field(default_factory=list)  # the complaints, oldest first
    first_published_at: datetime

    @field_validator("first_published_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)


class GroundTruth(BaseModel):
    """What the generator injected into the demo stream (ids are Post ids, "demo:{network}:{item_id}")."""

    start: datetime
    end: datetime
    count: int
    seed: int = 7
    spikes: list[SpikeTruth] = Field(default_factory=list)
    conflicts: list[ConflictTruth] = Field(default_factory=list)
    incidents: list[IncidentTruth] = Field(default_factory=list)

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)


def dump_truth(truth: GroundTruth) -> str:
    """Return truth.json text (times in ISO UTC)."""
    return truth.model_dump_json(indent=1)


def load_truth(path: Path) -> GroundTruth:
    """Read truth.json; raise ValueError with a Russian message when it is missing or invalid."""
    try:
        return GroundTruth.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(f"файл эталонной разметки не найден: {path}") from exc
    except (ValidationError, UnicodeDecodeError) as exc:
        raise ValueError(f"файл эталонной разметки {path} повреждён: {exc}") from exc
