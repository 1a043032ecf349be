"""The VK source: walls of official pages and local communities, their comments, and keyword search.

One run (`poll`) goes through four steps and yields a Batch after every API round trip, each with the
whole cursor reached so far; the worker queues the items and only then saves the cursor.

1. Resolve screen names of the profile's communities to owner ids (once; cached in the cursor).
2. Walls: `wall.get` for 25 owners per `execute`; new posts are those above the owner's last seen id
   (the first run reaches back `backfill_hours`). An owner's cursor moves only when its pages are all
   read, so a run killed midway re-reads, never skips. Official pages are read every run; the other
   walls take turns so that wall.get stays within its daily quota (`wall_daily_quota`).
3. Comments: posts younger than `comments_days` whose comment counter changed get all their comments
   re-read (`wall.getComments` with threads; long threads paged by `comment_id`), 25 calls per execute.
4. Search: `newsfeed.search` per profile keyword over [last window end − overlap, now]; a window that
   holds more than VK's 1,000-result cap is split in halves until it fits. Results pass through the
   relevance rules; the keyword's cursor moves to a window's end once the window is fully read.
   Keywords take turns within newsfeed.search's daily quota; a keyword's window always starts where
   its last one ended, so a skipped turn makes the next window longer, never leaves a gap.

Cursor: {"resolved": {name: owner_id}, "walls": {owner_id: max_post_id}, "since": {owner_id: unix_s
the first backfill began}, "comments": {"owner_post": [count, date]}, "search": {keyword: until_unix_s},
"turn": {"walls": next wall in turn, "search": next keyword in turn}}.
"""

from __future__ import annotations

import copy
import logging
import re
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from crawlers.base import Batch, SourceNotConfigured, register_source
from crawlers.ratelimit import make_rate_limiter
from crawlers.relevance import SOURCE_RULE, Relevance, parse_vk_coordinates
from crawlers.vk.client import Call, CallResult, VkClient
from crawlers.vk.constants import (
    COMMENTS_MAX_COUNT,
    EXECUTE_MAX_CALLS,
    GROUPS_GET_BY_ID_MAX,
    MAX_COMMENTS_PER_POST,
    MAX_WALL_PAGES,
    NEWSFEED_SEARCH_DAILY_QUOTA,
    NEWSFEED_SEARCH_MAX_COUNT,
    NEWSFEED_SEARCH_RESULT_CAP,
    QUOTA_SHARE,
    SEARCH_MIN_WINDOW_S,
    THREAD_ITEMS_MAX_COUNT,
    WALL_GET_DAILY_QUOTA,
    WALL_GET_MAX_COUNT,
)
from crawlers.vk.errors import VkObjectError
from crawlers.vk.mapping import display_text
from index.models import OfficialPage, SourceState, utcnow
from index.profile import Profile
from infopole.settings import Settings, VkSettings

log = logging.getLogger(__name__)

#: Mapper name of every VK item.
MAPPER = "vk"
#: Fields asked of groups.getById for the official pages' health check.
PAGE_FIELDS = "members_count,verified,description,contacts,site,status"

_NUMERIC = re.compile(r"^-?\d+$")
_PREFIXED = re.compile(r"^(club|public|event)(\d+)$")
_USER = re.compile(r"^id(\d+)$")
_URL = re.compile(r"^(?:https?://)?(?:m\.)?vk\.(?:com|ru)/([A-Za-z0-9_.]+)/?$")

Cursor = dict[str, Any]
Counts = Counter[str]


def parse_ref(ref: str) -> int | str:
    """Return the owner id a community reference names, or its screen name to resolve.

    "-123", "123", "club123", "public123" → -123 (communities); "id5" → 5 (a person's wall);
    "https://vk.com/name" or "name" → "name".
    """
    text = ref.strip()
    url = _URL.match(text)
    if url:
        text = url.group(1)
    if _NUMERIC.match(text):
        return -abs(int(text))
    prefixed = _PREFIXED.match(text)
    if prefixed:
        return -int(prefixed.group(2))
    user = _USER.match(text)
    if user:
        return int(user.group(1))
    return text.lower()


@dataclass
class VkOptions:
    """How far a run reaches back."""

    backfill_hours: float = 48.0
    comments_days: float = 3.0
    search_overlap_s: int = 900
    wall_count: int = WALL_GET_MAX_COUNT
    comments_count: int = COMMENTS_MAX_COUNT
    search_count: int = NEWSFEED_SEARCH_MAX_COUNT
    poll_interval_s: int = 600
    wall_daily_quota: int = WALL_GET_DAILY_QUOTA
    search_daily_quota: int = NEWSFEED_SEARCH_DAILY_QUOTA

    @classmethod
    def from_settings(cls, vk: VkSettings) -> VkOptions:
        """Return the options configured in VK settings."""
        return cls(
            backfill_hours=vk.backfill_hours,
            comments_days=vk.comments_days,
            search_overlap_s=vk.search_overlap_s,
            poll_interval_s=vk.poll_interval_s,
            wall_daily_quota=vk.wall_daily_quota,
            search_daily_quota=vk.search_daily_quota,
        )

    def per_run(self, daily_quota: int) -> int | None:
        """Return how many calls of a method one run may plan under its daily quota (None: no limit)."""
        if daily_quota <= 0:
            return None
        return max(1, int(daily_quota * QUOTA_SHARE * self.poll_interval_s / 86_400))


T = TypeVar("T")


def rotate(items: list[T], start: int, take: int | None) -> tuple[list[T], int]:
    """Return up to `take` items of a circular list from `start`, and where the next turn starts."""
    if take is None or take >= len(items) or not items:
        return list(items), 0
    start %= len(items)
    chosen = [items[(start + i) % len(items)] for i in range(take)]
    return chosen, (start + take) % len(items)


@dataclass
class _PostComments:
    """Comments of one post being read: its calls still to make and the items read so far."""

    key: str
    owner_id: int
    post_id: int
    count: int
    date: int
    page_id: str | None
    items: list[dict[str, Any]] = field(default_factory=list)
    pending: int = 0
    read: int = 0


def _group_names(response: Any) -> dict[int, str]:
    """Return {-group_id: name} from the `groups` of an extended response."""
    names: dict[int, str] = {}
    if isinstance(response, dict):
        for group in response.get("groups") or []:
            if isinstance(group, dict) and isinstance(group.get("id"), int) and group.get("name"):
                names[-group["id"]] = str(group["name"])
    return names


def _items(response: Any) -> list[dict[str, Any]]:
    """Return the `items` of a response, keeping only objects."""
    if not isinstance(response, dict):
        return []
    return [i for i in response.get("items") or [] if isinstance(i, dict)]


def _int_or(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


class VkSource:
    """Collects the profile's VK walls, comments and keyword search results."""

    name: ClassVar[str] = "vk"

    def __init__(
        self,
        client: VkClient,
        profile: Profile,
        options: VkOptions | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Build the source over a client; `clock` gives "now" for windows and backfill."""
        self.client = client
        self.profile = profile
        self.options = options or VkOptions()
        self.clock = clock
        self.pages = [p for p in profile.pages if p.network == "vk"]
        self.keywords = list(dict.fromkeys(k.strip() for k in profile.keywords if k.strip()))
        self._relevance: Relevance | None = None

    @property
    def credential_id(self) -> str:
        """Return the token fingerprint (a pause applies to one token)."""
        return self.client.credential_id

    @property
    def relevance(self) -> Relevance:
        """Return the relevance rules (built on first use: the gazetteer takes a moment)."""
        if self._relevance is None:
            self._relevance = Relevance(self.profile)
        return self._relevance

    # Targets -------------------------------------------------------------------------------------

    def _targets(self) -> list[tuple[int | str, str | None]]:
        """Return (owner id or screen name, page id) for every wall to read, pages first."""
        out: list[tuple[int | str, str | None]] = []
        for page in self.pages:
            ref = page.owner_id or page.url
            out.append((parse_ref(ref), page.id))
        out += [(parse_ref(ref), None) for ref in self.profile.sources.vk_communities if ref.strip()]
        return out

    def _resolve(self, cursor: Cursor, errors: Counts) -> dict[int, str | None]:
        """Return {owner_id: page id or None}; screen names are resolved once and cached."""
        resolved: dict[str, int] = cursor.setdefault("resolved", {})
        targets = self._targets()
        unknown = sorted({ref for ref, _ in targets if isinstance(ref, str) and ref not in resolved})
        for start in range(0, len(unknown), GROUPS_GET_BY_ID_MAX):
            names = unknown[start : start + GROUPS_GET_BY_ID_MAX]
            try:
                response = self.client.call("groups.getById", {"group_ids": ",".join(names)})
            except VkObjectError as exc:
                errors[exc.kind] += len(names)
                continue
            for group in _groups_of(response):
                screen = str(group.get("screen_name") or "").lower()
                if screen in names and isinstance(group.get("id"), int):
                    resolved[screen] = -group["id"]
        owners: dict[int, str | None] = {}
        for ref, page_id in targets:
            owner = resolved.get(ref) if isinstance(ref, str) else ref
            if owner is None:
                errors["vk/unresolved"] += 1
                continue
            if owner not in owners or owners[owner] is None:
                owners[owner] = page_id
        return owners

    # Polling ---------------------------------------------------------------------------------------

    def poll(self, state: SourceState) -> Iterator[Batch]:
        """Yield batches of walls, then comments, then search results, from `state.cursor` on."""
        cursor: Cursor = copy.deepcopy(state.cursor) if isinstance(state.cursor, dict) else {}
        now = self.clock()
        errors: Counts = Counter()
        owners = self._resolve(cursor, errors)
        seen = yield from self._walls(cursor, owners, now, errors)
        yield from self._comments(cursor, seen, owners, now)
        yield from self._search(cursor, owners, now)

    def _batch(self, items: list[dict[str, Any]], cursor: Cursor, errors: Counts) -> Batch:
        """Return a batch with a snapshot of the cursor and the errors counted since the last one."""
        batch = Batch(MAPPER, items, copy.deepcopy(cursor), dict(errors))
        errors.clear()
        return batch

    def _walls(
        self, cursor: Cursor, owners: dict[int, str | None], now: datetime, errors: Counts
    ) -> Generator[Batch, None, dict[str, tuple[int, int, int]]]:
        """Read new wall posts; return {"owner_post": (comments count, date, owner)} of recent posts."""
        walls: dict[str, int] = cursor.setdefault("walls", {})
        starts: dict[str, int] = cursor.setdefault("since", {})
        first_since = int((now - timedelta(hours=self.options.backfill_hours)).timestamp())
        comment_since = int((now - timedelta(days=self.options.comments_days)).timestamp())
        seen: dict[str, tuple[int, int, int]] = {}
        # Official pages every run; the other walls in turn, within wall.get's daily quota.
        turns: dict[str, int] = cursor.setdefault("turn", {})
        pages = [o for o, page in owners.items() if page]
        budget = self.options.per_run(self.options.wall_daily_quota)
        others, turns["walls"] = rotate(
            [o for o, page in owners.items() if not page],
            _int_or(turns.get("walls"), 0),
            None if budget is None else max(0, budget - len(pages)),
        )
        queue: list[tuple[int, int]] = [(owner, 0) for owner in [*pages, *others]]
        top: dict[int, int] = {}
        while queue:
            round_, queue = queue[:EXECUTE_MAX_CALLS], queue[EXECUTE_MAX_CALLS:]
            calls = [
                Call(
                    "wall.get",
                    {"owner_id": o, "offset": off, "count": self.options.wall_count, "extended": 1},
                )
                for o, off in round_
            ]
            items: list[dict[str, Any]] = []
            for (owner, offset), result in zip(round_, self.client.execute(calls), strict=True):
                if result.error is not None:
                    errors[result.error.kind] += 1
                    continue
                old = walls.get(str(owner))
                # Comments are followed only on posts this collector took in (not before its backfill).
                owner_since = starts.setdefault(str(owner), first_since)
                page = _items(result.response)
                names = _group_names(result.response)
                for post in page:
                    post_id = _int_or(post.get("id"), 0)
                    date = _int_or(post.get("date"), 0)
                    is_new = post_id > old if old is not None else date >= first_since
                    if date >= max(comment_since, owner_since):
                        count = _int_or((post.get("comments") or {}).get("count"), 0)
                        seen[f"{owner}_{post_id}"] = (count, date, owner)
                    if is_new:
                        items.append(self._annotate_post(post, owner, owners[owner], names, SOURCE_RULE))
                    top[owner] = max(top.get(owner, old or 0), post_id)
                if self._more_pages(page, old, first_since, offset):
                    queue.append((owner, offset + len(page)))
                elif owner in top:
                    walls[str(owner)] = top[owner]
            yield self._batch(items, cursor, errors)
        return seen

    def _more_pages(self, page: list[dict[str, Any]], old: int | None, since: int, offset: int) -> bool:
        """Return whether an owner's wall continues past this page with posts still to read."""
        if len(page) < self.options.wall_count or offset // self.options.wall_count + 1 >= MAX_WALL_PAGES:
            return False
        regular = [p for p in page if not p.get("is_pinned")]
        if not regular:
            return False
        if old is not None:
            return min(_int_or(p.get("id"), 0) for p in regular) > old
        return min(_int_or(p.get("date"), 0) for p in regular) >= since

    def _annotate_post(
        self, post: dict[str, Any], owner: int, page_id: str | None, names: dict[int, str], rule: str
    ) -> dict[str, Any]:
        """Add the collector's keys to a wall post."""
        item = dict(post)
        item["_kind"] = "post"
        item.setdefault("owner_id", owner)
        item["_relevance"] = rule
        if page_id:
            item["_page_id"] = page_id
        author = _int_or(item.get("from_id"), owner)
        if author in names:
            item["_author_name"] = names[author]
        return item

    # Comments --------------------------------------------------------------------------------------

    def _comments(
        self,
        cursor: Cursor,
        seen: dict[str, tuple[int, int, int]],
        owners: dict[int, str | None],
        now: datetime,
    ) -> Iterator[Batch]:
        """Re-read the comments of recent posts whose comment counter changed."""
        tracked: dict[str, list[int]] = cursor.setdefault("comments", {})
        since = int((now - timedelta(days=self.options.comments_days)).timestamp())
        for key in [k for k, v in tracked.items() if not isinstance(v, list) or len(v) != 2 or v[1] < since]:
            del tracked[key]
        todo: list[_PostComments] = []
        for key, (count, date, owner) in sorted(seen.items(), key=lambda kv: kv[1][1]):
            if count > 0 and tracked.get(key, [None])[0] != count:
                post_id = int(key.rsplit("_", 1)[1])
                todo.append(_PostComments(key, owner, post_id, count, date, owners.get(owner)))
        for start in range(0, len(todo), EXECUTE_MAX_CALLS):
            yield self._read_comments(todo[start : start + EXECUTE_MAX_CALLS], tracked, cursor)

    def _comment_call(self, post: _PostComments, offset: int, thread: int | None) -> Call:
        params: dict[str, Any] = {
            "owner_id": post.owner_id,
            "post_id": post.post_id,
            "offset": offset,
            "count": self.options.comments_count,
            "sort": "desc",  # newest first: a post beyond MAX_COMMENTS_PER_POST keeps its latest ones
            "need_likes": 1,
            "extended": 1,
        }
        if thread is None:
            params["thread_items_count"] = THREAD_ITEMS_MAX_COUNT
        else:
            params["comment_id"] = thread
        return Call("wall.getComments", params)

    def _read_comments(
        self, posts: list[_PostComments], tracked: dict[str, list[int]], cursor: Cursor
    ) -> Batch:
        """Read every comment of up to 25 posts (pages and long threads) and return them as one batch."""
        errors: Counts = Counter()
        queue: list[tuple[_PostComments, int, int | None]] = [(p, 0, None) for p in posts]
        failed: set[str] = set()
        while queue:
            round_, queue = queue[:EXECUTE_MAX_CALLS], queue[EXECUTE_MAX_CALLS:]
            calls = [self._comment_call(p, offset, thread) for p, offset, thread in round_]
            for (post, offset, thread), result in zip(round_, self.client.execute(calls), strict=True):
                queue += self._take_comments(post, offset, thread, result, errors, failed)
        items: list[dict[str, Any]] = []
        for post in posts:
            items += [] if post.key in failed else post.items
            tracked[post.key] = [post.count, post.date]
        return self._batch(items, cursor, errors)

    def _take_comments(
        self,
        post: _PostComments,
        offset: int,
        thread: int | None,
        result: CallResult,
        errors: Counts,
        failed: set[str],
    ) -> list[tuple[_PostComments, int, int | None]]:
        """Keep the comments of one answer; return the follow-up calls (next page, long threads)."""
        if result.error is not None:
            errors[result.error.kind] += 1
            if thread is None and offset == 0:
                failed.add(post.key)  # deleted post, closed comments: skip it until its counter changes
            return []
        response = result.response if isinstance(result.response, dict) else {}
        names = _group_names(response)
        page = _items(response)
        more: list[tuple[_PostComments, int, int | None]] = []
        for comment in page:
            replies: list[dict[str, Any]] = []
            item = dict(comment)
            cid = _int_or(item.get("id"), 0)
            info = item.get("thread")
            if thread is None and isinstance(info, dict):
                replies = [r for r in info.get("items") or [] if isinstance(r, dict)]
                item["thread"] = {k: v for k, v in info.items() if k != "items"}
                if _int_or(info.get("count"), 0) > len(replies):
                    more.append((post, 0, cid))
                    replies = []  # the thread is read in full by its own call
            for raw in [item, *replies]:
                self._keep_comment(post, raw, thread if raw is item else cid, names, errors)
        post.read += len(page)
        level_count = _int_or(response.get("current_level_count"), _int_or(response.get("count"), 0))
        if thread is not None:
            level_count = _int_or(response.get("count"), 0)
        next_offset = offset + len(page)
        if page and next_offset < level_count and post.read < MAX_COMMENTS_PER_POST:
            more.append((post, next_offset, thread))
        return more

    def _keep_comment(
        self,
        post: _PostComments,
        raw: dict[str, Any],
        root: int | None,
        names: dict[int, str],
        errors: Counts,
    ) -> None:
        """Annotate one comment and keep it (deleted ones are counted, not kept)."""
        if raw.get("deleted"):
            errors["vk/deleted"] += 1
            return
        item = dict(raw)
        item.update({"_kind": "comment", "_owner_id": post.owner_id, "_post_id": post.post_id})
        item["_relevance"] = SOURCE_RULE
        if root is not None:
            item["_thread_root"] = root
        if post.page_id:
            item["_page_id"] = post.page_id
        author = _int_or(item.get("from_id"), 0)
        if author in names:
            item["_author_name"] = names[author]
        post.items.append(item)

    # Search ----------------------------------------------------------------------------------------

    def _search(self, cursor: Cursor, owners: dict[int, str | None], now: datetime) -> Iterator[Batch]:
        """Search every keyword over its new time window, splitting windows that exceed the cap."""
        done: dict[str, int] = cursor.setdefault("search", {})
        end = int(now.timestamp())
        turns: dict[str, int] = cursor.setdefault("turn", {})
        keywords, turns["search"] = rotate(
            self.keywords,
            _int_or(turns.get("search"), 0),
            self.options.per_run(self.options.search_daily_quota),
        )
        for keyword in keywords:
            until = done.get(keyword)
            start = (
                until - self.options.search_overlap_s
                if isinstance(until, int)
                else int((now - timedelta(hours=self.options.backfill_hours)).timestamp())
            )
            if end - start < 1:
                continue
            windows = [(start, end)]
            while windows:
                window = windows.pop()
                yield from self._search_window(keyword, window, windows, owners, cursor)

    def _search_window(
        self,
        keyword: str,
        window: tuple[int, int],
        windows: list[tuple[int, int]],
        owners: dict[int, str | None],
        cursor: Cursor,
    ) -> Iterator[Batch]:
        """Page through one window; split it (pushing both halves) when it holds more than the cap."""
        start, end = window
        splittable = end - start >= 2 * SEARCH_MIN_WINDOW_S
        errors: Counts = Counter()
        read = 0
        next_from: str | None = None
        while True:
            params: dict[str, Any] = {
                "q": keyword,
                "start_time": start,
                "end_time": end,
                "count": self.options.search_count,
                "extended": 1,
            }
            if next_from:
                params["start_from"] = next_from
            try:
                response = self.client.call("newsfeed.search", params)
            except VkObjectError as exc:
                errors[exc.kind] += 1
                response = {}
            if read == 0 and splittable and _over_cap(response):
                mid = (start + end) // 2
                windows += [(mid, end), (start, mid)]  # the older half is popped first
                return
            page = _items(response)
            read += len(page)
            items = self._relevant(page, owners, _group_names(response), errors)
            next_from = response.get("next_from") if isinstance(response, dict) else None
            capped = read >= NEWSFEED_SEARCH_RESULT_CAP
            if next_from and page and capped and splittable:
                mid = (start + end) // 2
                windows += [(mid, end), (start, mid)]
                yield self._batch(items, cursor, errors)
                return
            if not next_from or not page or capped:
                if capped and next_from:
                    errors["vk/search_cap"] += 1
                cursor["search"][keyword] = max(end, _int_or(cursor["search"].get(keyword), 0))
                yield self._batch(items, cursor, errors)
                return
            yield self._batch(items, cursor, errors)

    def _relevant(
        self,
        page: list[dict[str, Any]],
        owners: dict[int, str | None],
        names: dict[int, str],
        errors: Counts,
    ) -> list[dict[str, Any]]:
        """Keep search results from the profile's walls or that mention the municipality."""
        kept: list[dict[str, Any]] = []
        for post in page:
            owner = _int_or(post.get("owner_id"), 0)
            if owner in owners:
                kept.append(self._annotate_post(post, owner, owners[owner], names, SOURCE_RULE))
                continue
            texts = [display_text(str(post.get("text") or ""))]
            for shared in post.get("copy_history") or []:
                if isinstance(shared, dict):
                    texts.append(display_text(str(shared.get("text") or "")))
            geo: dict[str, Any] = post["geo"] if isinstance(post.get("geo"), dict) else {}
            place: dict[str, Any] = geo["place"] if isinstance(geo.get("place"), dict) else {}
            title = " ".join(str(place.get(k) or "") for k in ("title", "city")).strip() or None
            rule = self.relevance.rule("\n".join(texts), parse_vk_coordinates(geo.get("coordinates")), title)
            if rule is None:
                errors["vk/irrelevant"] += 1
                continue
            kept.append(self._annotate_post(post, owner, None, names, rule))
        return kept

    # Official pages ----------------------------------------------------------------------------------

    def fetch_pages(self) -> list[OfficialPage]:
        """Return the official VK pages with members, verification, description and contacts from VK."""
        refs: dict[str, OfficialPage] = {}
        for page in self.pages:
            ref = parse_ref(page.owner_id or page.url)
            refs[str(-ref) if isinstance(ref, int) else ref] = page
        out: list[OfficialPage] = []
        keys = list(refs)
        for start in range(0, len(keys), GROUPS_GET_BY_ID_MAX):
            chunk = keys[start : start + GROUPS_GET_BY_ID_MAX]
            try:
                response = self.client.call(
                    "groups.getById", {"group_ids": ",".join(chunk), "fields": PAGE_FIELDS}
                )
            except VkObjectError as exc:
                log.warning("vk: metadata of official pages unavailable: %s", exc)
                continue
            for group in _groups_of(response):
                found = refs.get(str(group.get("id"))) or refs.get(
                    str(group.get("screen_name") or "").lower()
                )
                if found is not None:
                    out.append(page_from_group(found, group))
        return out


def _over_cap(response: Any) -> bool:
    """Return whether a first search page says the window holds more than VK will return.

    `total_count` (all matches) says it directly; without it, `count` (the matches VK will return)
    at the cap means there may be more.
    """
    if not isinstance(response, dict):
        return False
    total, count = response.get("total_count"), response.get("count")
    if isinstance(total, int):
        return total > NEWSFEED_SEARCH_RESULT_CAP
    return isinstance(count, int) and count >= NEWSFEED_SEARCH_RESULT_CAP


def _groups_of(response: Any) -> list[dict[str, Any]]:
    """Return the groups of a groups.getById answer (5.199: {"groups": [...]}, older: a list)."""
    groups = response.get("groups") if isinstance(response, dict) else response
    return [g for g in groups or [] if isinstance(g, dict)]


def _contacts(group: dict[str, Any]) -> str | None:
    """Return the community's contacts as one line ("desc: phone, email; ...")."""
    parts: list[str] = []
    for contact in group.get("contacts") or []:
        if not isinstance(contact, dict):
            continue
        reach = ", ".join(str(contact[k]) for k in ("phone", "email") if contact.get(k))
        desc = str(contact.get("desc") or "").strip()
        line = f"{desc}: {reach}" if desc and reach else desc or reach
        if line:
            parts.append(line)
    site = str(group.get("site") or "").strip()
    if site:
        parts.append(site)
    return "; ".join(parts) or None


def page_from_group(page: OfficialPage, group: dict[str, Any]) -> OfficialPage:
    """Return the profile page updated with what VK reports about the community."""
    update: dict[str, Any] = {}
    if isinstance(group.get("members_count"), int):
        update["followers"] = group["members_count"]
    if "verified" in group:
        update["verified"] = bool(group.get("verified"))
    if group.get("description"):
        update["description"] = display_text(str(group["description"]))
    contacts = _contacts(group)
    if contacts:
        update["contacts"] = contacts
    if isinstance(group.get("id"), int) and not page.owner_id:
        update["owner_id"] = str(-group["id"])
    return page.model_copy(update=update)


@register_source("vk")
def build_vk_source(settings: Settings, profile: Profile) -> VkSource:
    """Return the configured VK source; raise SourceNotConfigured (Russian reason) when it cannot run."""
    token = settings.vk.token.get_secret_value()
    if not token:
        raise SourceNotConfigured("vk отключён: VK__TOKEN не задан")
    has_targets = (
        any(p.network == "vk" for p in profile.pages) or profile.sources.vk_communities or profile.keywords
    )
    if not has_targets:
        raise SourceNotConfigured("vk отключён: в профиле нет страниц и сообществ VK и ключевых слов")
    limiter = make_rate_limiter(settings.redis.url, "vk", token, settings.vk.requests_per_second)
    client = VkClient(token, limiter, api_version=settings.vk.api_version)
    return VkSource(client, profile, VkOptions.from_settings(settings.vk))
