"""The OK source: topics of the profile's official groups and local groups, and their comments.

A run: (1) group short names are resolved once with url.getInfo; (2) each group's feed is read with
mediatopic.getTopics, newest first, page by page (`anchor`) until the topics are older than the
group's cursor (the first run reaches back `backfill_hours`); a group's cursor moves only when its new
topics are all read; (3) topics younger than `comments_days` whose comment counter changed get their
new comments read with discussions.getComments, forward from the anchor saved after the last comment
read, so comments are never read twice. Every API answer ends in a Batch carrying the whole cursor.

Cursor: {"resolved": {name: gid}, "groups": {gid: newest created_ms}, "since": {gid: unix_s the first
backfill began}, "topics": {"gid_topic": [comments count, created_s, anchor]}}.
"""

from __future__ import annotations

import copy
import logging
import re
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from crawlers.base import Batch, SourceNotConfigured, register_source
from crawlers.ok.client import OkClient, session_secret
from crawlers.ok.constants import (
    COMMENTS_PAGE_COUNT,
    DISCUSSION_TYPE,
    GROUP_FIELDS,
    MAX_COMMENT_PAGES,
    MAX_TOPIC_PAGES,
    TOPICS_PAGE_COUNT,
)
from crawlers.ok.errors import OkObjectError
from crawlers.ratelimit import make_rate_limiter
from crawlers.relevance import SOURCE_RULE
from index.models import OfficialPage, SourceState, utcnow
from index.profile import Profile
from infopole.settings import OkSettings, Settings

log = logging.getLogger(__name__)

#: Mapper name of every OK item.
MAPPER = "ok"

_GROUP_URL = re.compile(r"^(?:https?://)?(?:m\.)?ok\.ru/group/(\d+)/?$")
_NAME_URL = re.compile(r"^(?:https?://)?(?:m\.)?ok\.ru/([A-Za-z0-9_.]+)/?$")

Cursor = dict[str, Any]
Counts = Counter[str]


def parse_group_ref(ref: str) -> str:
    """Return a group id ("70000001843001") or a short name to resolve ("name")."""
    text = ref.strip()
    if text.isdigit():
        return text
    match = _GROUP_URL.match(text) or _NAME_URL.match(text)
    return match.group(1) if match else text


@dataclass
class OkOptions:
    """How far a run reaches back."""

    backfill_hours: float = 48.0
    comments_days: float = 3.0
    topics_count: int = TOPICS_PAGE_COUNT
    comments_count: int = COMMENTS_PAGE_COUNT

    @classmethod
    def from_settings(cls, ok: OkSettings) -> OkOptions:
        """Return the options configured in OK settings."""
        return cls(backfill_hours=ok.backfill_hours, comments_days=ok.comments_days)


def _group_names(response: Any) -> dict[str, str]:
    """Return {"group:<gid>": name} from an answer's `entities`."""
    names: dict[str, str] = {}
    entities = response.get("entities") if isinstance(response, dict) else None
    groups = entities.get("groups") if isinstance(entities, dict) else None
    for group in groups or []:
        if isinstance(group, dict) and group.get("uid") and group.get("name"):
            names[f"group:{group['uid']}"] = str(group["name"])
    return names


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


class OkSource:
    """Collects the profile's OK group feeds and comments."""

    name: ClassVar[str] = "ok"

    def __init__(
        self,
        client: OkClient,
        profile: Profile,
        options: OkOptions | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Build the source over a client; `clock` gives "now" for the backfill and comment windows."""
        self.client = client
        self.profile = profile
        self.options = options or OkOptions()
        self.clock = clock
        self.pages = [p for p in profile.pages if p.network == "ok"]

    @property
    def credential_id(self) -> str:
        """Return the session fingerprint (a pause applies to one session)."""
        return self.client.credential_id

    def _targets(self) -> list[tuple[str, str | None]]:
        """Return (group id or short name, page id) for every group to read, pages first."""
        out = [(parse_group_ref(p.owner_id or p.url), p.id) for p in self.pages]
        return out + [(parse_group_ref(ref), None) for ref in self.profile.sources.ok_groups if ref.strip()]

    def _resolve(self, cursor: Cursor, errors: Counts) -> dict[str, str | None]:
        """Return {gid: page id or None}; short names are resolved once with url.getInfo."""
        resolved: dict[str, str] = cursor.setdefault("resolved", {})
        groups: dict[str, str | None] = {}
        for ref, page_id in self._targets():
            gid = ref if ref.isdigit() else resolved.get(ref)
            if gid is None:
                try:
                    info = self.client.call("url.getInfo", {"url": f"https://ok.ru/{ref}"})
                except OkObjectError as exc:
                    errors[exc.kind] += 1
                    continue
                if isinstance(info, dict) and str(info.get("type", "")).upper() == "GROUP":
                    gid = str(info.get("objectId") or "") or None
                if gid is None:
                    errors["ok/unresolved"] += 1
                    continue
                resolved[ref] = gid
            if gid not in groups or groups[gid] is None:
                groups[gid] = page_id
        return groups

    def poll(self, state: SourceState) -> Iterator[Batch]:
        """Yield batches of new topics, then of new comments, from `state.cursor` on."""
        cursor: Cursor = copy.deepcopy(state.cursor) if isinstance(state.cursor, dict) else {}
        now = self.clock()
        errors: Counts = Counter()
        groups = self._resolve(cursor, errors)
        seen: dict[str, tuple[int, int, str, str]] = {}
        for gid, page_id in groups.items():
            seen.update((yield from self._feed(cursor, gid, page_id, now, errors)))
        yield from self._comments(cursor, seen, groups, now)

    def _batch(self, items: list[dict[str, Any]], cursor: Cursor, errors: Counts) -> Batch:
        batch = Batch(MAPPER, items, copy.deepcopy(cursor), dict(errors))
        errors.clear()
        return batch

    def _feed(
        self, cursor: Cursor, gid: str, page_id: str | None, now: datetime, errors: Counts
    ) -> Generator[Batch, None, dict[str, tuple[int, int, str, str]]]:
        """Read a group's new topics; return {"gid_topic": (comments, created_s, gid, topic)} if recent."""
        newest: dict[str, int] = cursor.setdefault("groups", {})
        old = newest.get(gid)
        since_ms = int((now - timedelta(hours=self.options.backfill_hours)).timestamp() * 1000)
        comment_since = int((now - timedelta(days=self.options.comments_days)).timestamp())
        # Comments are followed only on topics this collector took in (not before its backfill).
        starts: dict[str, int] = cursor.setdefault("since", {})
        comment_since = max(comment_since, starts.setdefault(gid, since_ms // 1000))
        seen: dict[str, tuple[int, int, str, str]] = {}
        top = old or 0
        anchor: str | None = None
        for _ in range(MAX_TOPIC_PAGES):
            params: dict[str, Any] = {"gid": gid, "count": self.options.topics_count}
            if anchor:
                params.update({"anchor": anchor, "direction": "BACKWARD"})
            try:
                response = self.client.call("mediatopic.getTopics", params)
            except OkObjectError as exc:
                errors[exc.kind] += 1
                yield self._batch([], cursor, errors)
                return seen
            topics = [t for t in (response or {}).get("media_topics") or [] if isinstance(t, dict)]
            names = _group_names(response)
            items: list[dict[str, Any]] = []
            for topic in topics:
                created = _int(topic.get("created_ms"))
                is_new = created > old if old is not None else created >= since_ms
                topic_id = str(topic.get("id") or "")
                if created // 1000 >= comment_since and topic_id:
                    count = _int((topic.get("discussion_summary") or {}).get("comments_count"))
                    seen[f"{gid}_{topic_id}"] = (count, created // 1000, gid, topic_id)
                if is_new:
                    items.append(self._annotate_topic(topic, gid, page_id, names))
                top = max(top, created)
            anchor = response.get("anchor") if isinstance(response, dict) else None
            oldest = min((_int(t.get("created_ms")) for t in topics), default=0)
            more = bool(response.get("has_more")) and bool(anchor) and bool(topics)
            more = more and (oldest > old if old is not None else oldest >= since_ms)
            if not more and top:
                newest[gid] = top
            yield self._batch(items, cursor, errors)
            if not more:
                break
        return seen

    def _annotate_topic(
        self, topic: dict[str, Any], gid: str, page_id: str | None, names: dict[str, str]
    ) -> dict[str, Any]:
        item = dict(topic)
        item.update({"_kind": "topic", "_group_id": gid, "_relevance": SOURCE_RULE})
        if page_id:
            item["_page_id"] = page_id
        author = str(item.get("author_ref") or "")
        if author in names:
            item["_author_name"] = names[author]
        return item

    def _comments(
        self,
        cursor: Cursor,
        seen: dict[str, tuple[int, int, str, str]],
        groups: dict[str, str | None],
        now: datetime,
    ) -> Iterator[Batch]:
        """Read new comments of recent topics whose counter changed, forward from the saved anchor."""
        tracked: dict[str, list[Any]] = cursor.setdefault("topics", {})
        since = int((now - timedelta(days=self.options.comments_days)).timestamp())
        for key in [k for k, v in tracked.items() if not isinstance(v, list) or len(v) != 3 or v[1] < since]:
            del tracked[key]
        for key, (count, created, gid, topic_id) in sorted(seen.items(), key=lambda kv: kv[1][1]):
            known = tracked.get(key, [0, created, None])
            if count == 0 or known[0] == count:
                continue
            yield self._read_comments(cursor, key, count, created, gid, topic_id, groups.get(gid), known[2])

    def _read_comments(
        self,
        cursor: Cursor,
        key: str,
        count: int,
        created: int,
        gid: str,
        topic_id: str,
        page_id: str | None,
        anchor: str | None,
    ) -> Batch:
        """Read one topic's comments after `anchor`; return them with the topic's cursor moved."""
        errors: Counts = Counter()
        items: list[dict[str, Any]] = []
        for _ in range(MAX_COMMENT_PAGES):
            params: dict[str, Any] = {
                "discussionId": topic_id,
                "discussionType": DISCUSSION_TYPE,
                "count": self.options.comments_count,
                "direction": "FORWARD",
            }
            if anchor:
                params["anchor"] = anchor
            try:
                response = self.client.call("discussions.getComments", params)
            except OkObjectError as exc:
                errors[exc.kind] += 1
                break
            for comment in (response or {}).get("comments") or []:
                if isinstance(comment, dict):
                    item = dict(comment)
                    item.update({"_kind": "comment", "_group_id": gid, "_topic_id": topic_id})
                    item["_relevance"] = SOURCE_RULE
                    if page_id:
                        item["_page_id"] = page_id
                    items.append(item)
            if isinstance(response, dict) and response.get("anchor"):
                anchor = str(response["anchor"])
            if not (isinstance(response, dict) and response.get("has_more")):
                break
        cursor["topics"][key] = [count, created, anchor]
        return self._batch(items, cursor, errors)

    def fetch_pages(self) -> list[OfficialPage]:
        """Return the official OK pages with members, description and contacts from group.getInfo."""
        by_gid = {parse_group_ref(p.owner_id or p.url): p for p in self.pages}
        gids = [g for g in by_gid if g.isdigit()]
        if not gids:
            return []
        try:
            response = self.client.call("group.getInfo", {"uids": ",".join(gids), "fields": GROUP_FIELDS})
        except OkObjectError as exc:
            log.warning("ok: metadata of official pages unavailable: %s", exc)
            return []
        groups = response.get("groups") if isinstance(response, dict) else response
        out: list[OfficialPage] = []
        for group in groups or []:
            page = by_gid.get(str(group.get("uid"))) if isinstance(group, dict) else None
            if page is not None:
                out.append(page_from_group(page, group))
        return out


def page_from_group(page: OfficialPage, group: dict[str, Any]) -> OfficialPage:
    """Return the profile page updated with what OK reports about the group."""
    update: dict[str, Any] = {}
    if isinstance(group.get("members_count"), int):
        update["followers"] = group["members_count"]
    if group.get("description"):
        update["description"] = str(group["description"]).strip()
    contacts = "; ".join(str(group[k]).strip() for k in ("phone", "homepage_url") if group.get(k))
    if contacts:
        update["contacts"] = contacts
    if not page.owner_id and group.get("uid"):
        update["owner_id"] = str(group["uid"])
    return page.model_copy(update=update)


@register_source("ok")
def build_ok_source(settings: Settings, profile: Profile) -> OkSource:
    """Return the configured OK source; raise SourceNotConfigured (Russian reason) when it cannot run."""
    ok = settings.ok
    token = ok.session_key.get_secret_value()
    secret = ok.session_secret.get_secret_value()
    app_secret = ok.application_secret_key.get_secret_value()
    if not ok.application_key or not token:
        raise SourceNotConfigured("ok отключён: OK__APPLICATION_KEY или OK__SESSION_KEY не задан")
    if not secret and not app_secret:
        raise SourceNotConfigured("ok отключён: задайте OK__SESSION_SECRET или OK__APPLICATION_SECRET_KEY")
    if not any(p.network == "ok" for p in profile.pages) and not profile.sources.ok_groups:
        raise SourceNotConfigured("ok отключён: в профиле нет страниц и групп OK")
    limiter = make_rate_limiter(settings.redis.url, "ok", token, ok.requests_per_second)
    client = OkClient(
        ok.application_key, token, secret or session_secret(token, app_secret), limiter, api_url=ok.api_url
    )
    return OkSource(client, profile, OkOptions.from_settings(ok))
