"""Domain objects to Elasticsearch documents and back, with the derived fields Kibana slices by."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from index.models import (
    Alert,
    Delivery,
    Incident,
    IncidentStatus,
    OfficialPage,
    Post,
    SourceState,
    Subscription,
)

#: A word of a full-text query: letters and digits (as the lemmas analyzer's tokens).
_WORD = re.compile(r"[^\W_]+")
#: Post document fields computed here, not part of the Post model.
POST_DERIVED = (
    "lemmas_unfolded",
    "location",
    "engagement",
    "answered_at",
    "page_name",
    "page_category",
    "page_norm_per_week",
)
#: Incident document fields computed here, not part of the Incident model.
INCIDENT_DERIVED = (
    "stored_seq",
    "is_open",
    "answered_on_time",
    "first_answer_hours",
    "step_rules",
    "step_due_at",
)
#: Alert document fields computed here.
ALERT_DERIVED = ("acknowledged",)
#: Open incident statuses (their deadlines run).
_OPEN = (IncidentStatus.new, IncidentStatus.assigned, IncidentStatus.interim)


def fold(text: str) -> str:
    """Return `text` with ё folded to е (both spellings then match)."""
    return text.replace("ё", "е").replace("Ё", "Е")


def query_words(text: str) -> list[str]:
    """Return the distinct lowercase words of a full-text query, ё folded to е, in order."""
    return list(dict.fromkeys(_WORD.findall(fold(text).lower())))


def _coordinate(value: object) -> float | None:
    """Return `value` as a float, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _point(lat: object, lon: object) -> dict[str, float] | None:
    """Return a geo_point for valid latitude and longitude, else None."""
    la, lo = _coordinate(lat), _coordinate(lon)
    if la is None or lo is None or not (-90 <= la <= 90 and -180 <= lo <= 180):
        return None
    return {"lat": la, "lon": lo}


def raw_location(raw: Mapping[str, Any]) -> dict[str, float] | None:
    """Return the coordinates an API object carries (VK geo "lat lon", Telegram/OK lat/long), or None."""
    geo = raw.get("geo")
    if isinstance(geo, Mapping):
        coordinates = geo.get("coordinates")
        if isinstance(coordinates, str):
            parts = coordinates.replace(",", " ").split()
            if len(parts) == 2:
                return _point(parts[0], parts[1])
        if "lat" in geo:
            return _point(geo.get("lat"), geo.get("long", geo.get("lon")))
    for holder in (raw, raw.get("place"), raw.get("location")):
        if isinstance(holder, Mapping) and "latitude" in holder:
            return _point(holder.get("latitude"), holder.get("longitude"))
    return None


def post_doc(
    post: Post, page: OfficialPage | None = None, answered_at: datetime | None = None
) -> dict[str, Any]:
    """Return the document of `post`: the post itself plus derived fields for search and Kibana."""
    doc = post.model_dump(mode="json")
    folded = fold(post.lemmas)
    if folded != post.lemmas:
        doc["lemmas"] = folded
        doc["lemmas_unfolded"] = post.lemmas
    location = raw_location(post.raw)
    if location is not None:
        doc["location"] = location
    metrics = post.metrics
    doc["engagement"] = (metrics.likes or 0) + (metrics.reposts or 0) + (metrics.comments or 0)
    if answered_at is not None:
        doc["answered_at"] = answered_at.isoformat()
    if page is not None:
        doc["page_name"] = page.name
        doc["page_category"] = page.category
        doc["page_norm_per_week"] = page.norm_per_week
    return doc


def post_from_doc(source: Mapping[str, Any]) -> Post:
    """Return the Post stored in a document (derived fields dropped, unfolded lemmas restored)."""
    values = {key: value for key, value in source.items() if key not in POST_DERIVED}
    if "lemmas_unfolded" in source:
        values["lemmas"] = source["lemmas_unfolded"]
    return Post.model_validate(values)


def incident_doc(incident: Incident, seq: int | None = None) -> dict[str, Any]:
    """Return the document of `incident` with its store order and timeliness fields."""
    doc = incident.model_dump(mode="json")
    doc["stored_seq"] = time.time_ns() if seq is None else seq
    doc["is_open"] = incident.status in _OPEN
    step_rules, step_due_at = incident.step_index()  # the escalation run's index (None: not worked out)
    doc["step_rules"] = step_rules
    doc["step_due_at"] = None if step_due_at is None else step_due_at.isoformat()
    answered, due = incident.first_answered_at, incident.first_answer_due
    doc["answered_on_time"] = None if answered is None else (due is None or answered <= due)
    doc["first_answer_hours"] = (
        None if answered is None else round((answered - incident.created_at).total_seconds() / 3600, 3)
    )
    return doc


def incident_from_doc(source: Mapping[str, Any]) -> Incident:
    """Return the Incident stored in a document."""
    return Incident.model_validate({k: v for k, v in source.items() if k not in INCIDENT_DERIVED})


def alert_doc(alert: Alert) -> dict[str, Any]:
    """Return the document of `alert`."""
    doc = alert.model_dump(mode="json")
    doc["acknowledged"] = alert.acknowledged_at is not None
    return doc


def alert_from_doc(source: Mapping[str, Any]) -> Alert:
    """Return the Alert stored in a document."""
    return Alert.model_validate({k: v for k, v in source.items() if k not in ALERT_DERIVED})


def source_doc(state: SourceState) -> dict[str, Any]:
    """Return the document of a collector state."""
    return state.model_dump(mode="json")


def page_doc(page: OfficialPage) -> dict[str, Any]:
    """Return the document of an official page."""
    return page.model_dump(mode="json")


def subscription_doc(subscription: Subscription) -> dict[str, Any]:
    """Return the document of an alert subscription."""
    return subscription.model_dump(mode="json")


def subscription_from_doc(source: Mapping[str, Any]) -> Subscription:
    """Return the Subscription stored in a document."""
    return Subscription.model_validate(source)


def delivery_doc(delivery: Delivery) -> dict[str, Any]:
    """Return the document of one delivery (the delivery log)."""
    return delivery.model_dump(mode="json")


def delivery_from_doc(source: Mapping[str, Any]) -> Delivery:
    """Return the Delivery stored in a document."""
    return Delivery.model_validate(source)
