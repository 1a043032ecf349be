"""A loopback VK API for tests: a small world of walls, comments and search results served over HTTP.

The server speaks the VK wire format vk_api uses (form-encoded POST to /method/<name>, answers
{"response": ...} or {"error": ...}), runs `execute` scripts of the shape the client generates
(`return [API.m({...}),...];`), pages wall.get by offset and newsfeed.search by next_from, caps
search at 1,000 results, and can be told to fail: planned error codes per method, expired tokens,
deleted posts, and raw bodies (a BOM-prefixed recorded response). `mount()` points a requests
session at it with a transport adapter that rewrites vk_api's hard-coded host.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import requests
from requests.adapters import HTTPAdapter

from crawlers.vk.constants import API_HOST, NEWSFEED_SEARCH_RESULT_CAP

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vk"
_CALL = re.compile(r"API\.([A-Za-z]+\.[A-Za-z]+)\((\{.*?\})\)(?=,API\.|\];)")


def load_fixture(relative: str) -> Any:
    """Return a fixture's JSON (BOM tolerated)."""
    return json.loads((FIXTURES / relative).read_text(encoding="utf-8-sig"))


def vk_post(owner: int, pid: int, date: int, text: str, **extra: Any) -> dict[str, Any]:
    """Return a wall post in the 5.199 shape (wall_wallpost_full)."""
    post: dict[str, Any] = {
        "id": pid,
        "owner_id": owner,
        "from_id": extra.pop("from_id", owner),
        "date": date,
        "post_type": "post",
        "text": text,
        "comments": {"count": extra.pop("comments", 0), "can_post": 1},
        "likes": {"count": extra.pop("likes", 0), "user_likes": 0, "can_like": 1, "can_publish": 1},
        "reposts": {"count": 0, "user_reposted": 0},
        "views": {"count": extra.pop("views", 100)},
    }
    post.update(extra)
    return post


def vk_comment(owner: int, pid: int, cid: int, date: int, text: str, **extra: Any) -> dict[str, Any]:
    """Return a comment in the 5.199 shape (wall_wall_comment)."""
    comment: dict[str, Any] = {
        "id": cid,
        "from_id": extra.pop("from_id", 700000 + cid),
        "post_id": pid,
        "owner_id": owner,
        "parents_stack": extra.pop("parents_stack", []),
        "date": date,
        "text": text,
        "likes": {"count": 0, "user_likes": 0, "can_like": 1},
    }
    comment.update(extra)
    return comment


def vk_error(code: int, message: str, **extra: Any) -> dict[str, Any]:
    """Return a VK error object."""
    return {"error_code": code, "error_msg": message, **extra}


@dataclass
class Group:
    """A community the world knows."""

    id: int
    name: str
    screen_name: str
    members_count: int = 1000
    verified: int = 0
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "screen_name": self.screen_name,
            "is_closed": 0,
            "type": "page",
            "members_count": self.members_count,
            "verified": self.verified,
            "description": self.description,
            **self.extra,
        }


@dataclass
class World:
    """What the fake VK holds and how it misbehaves."""

    tokens: set[str] = field(default_factory=lambda: {"good-token"})
    expired: set[str] = field(default_factory=set)
    groups: list[Group] = field(default_factory=list)
    walls: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[tuple[int, int], list[dict[str, Any]]] = field(default_factory=dict)
    replies: dict[tuple[int, int, int], list[dict[str, Any]]] = field(default_factory=dict)
    deleted_posts: set[tuple[int, int]] = field(default_factory=set)
    wall_errors: dict[int, int] = field(default_factory=dict)  # owner → error code of wall.get
    search: list[dict[str, Any]] = field(default_factory=list)
    report_total: bool = True  # newsfeed.search answers carry total_count
    fail: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    raw_next: dict[str, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    log: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # Building ------------------------------------------------------------------------------------

    def add_wall(self, owner: int, posts: list[dict[str, Any]]) -> None:
        self.walls.setdefault(owner, []).extend(posts)

    def add_comments(self, owner: int, pid: int, comments: list[dict[str, Any]]) -> None:
        """Add top-level comments (with their full reply threads under "thread"."items")."""
        for comment in comments:
            thread = comment.get("thread") or {}
            replies = thread.get("items") or []
            self.replies[(owner, pid, comment["id"])] = list(replies)
            stored = dict(comment)
            stored["thread"] = {
                "count": len(replies),
                "items": [],
                "can_post": True,
                "show_reply_button": True,
                "groups_can_post": True,
            }
            self.comments.setdefault((owner, pid), []).append(stored)
        self._sync_count(owner, pid)

    def _sync_count(self, owner: int, pid: int) -> None:
        total = sum(
            1 + len(self.replies.get((owner, pid, c["id"]), [])) for c in self.comments.get((owner, pid), [])
        )
        for post in self.walls.get(owner, []):
            if post["id"] == pid:
                post["comments"]["count"] = total

    def plan_error(self, method: str, error: dict[str, Any]) -> None:
        """Make the next call of `method` ("execute", "newsfeed.search"...) fail with `error`."""
        self.fail[method].append(error)

    def calls(self, method: str) -> list[dict[str, str]]:
        """Return the parameters of every HTTP call of `method` so far."""
        return [params for _, m, params in self.log if m == method]

    # Methods -------------------------------------------------------------------------------------

    def dispatch(self, method: str, params: dict[str, Any]) -> Any:
        """Return the response of one method call, or raise _VkError."""
        handler = {
            "wall.get": self.wall_get,
            "wall.getComments": self.wall_get_comments,
            "newsfeed.search": self.newsfeed_search,
            "groups.getById": self.groups_get_by_id,
        }.get(method)
        if handler is None:
            raise _VkError(vk_error(3, "Unknown method passed"))
        return handler(params)

    def wall_get(self, p: dict[str, Any]) -> Any:
        owner = int(p["owner_id"])
        if owner in self.wall_errors:
            raise _VkError(vk_error(self.wall_errors[owner], "Access denied"))
        posts = sorted(self.walls.get(owner, []), key=lambda x: (not x.get("is_pinned"), -x["id"]))
        offset, count = int(p.get("offset", 0)), int(p.get("count", 20))
        response: dict[str, Any] = {"count": len(posts), "items": posts[offset : offset + count]}
        if str(p.get("extended", "0")) == "1":
            response["profiles"] = []
            response["groups"] = [g.as_json() for g in self.groups if -g.id == owner]
        return response

    def wall_get_comments(self, p: dict[str, Any]) -> Any:
        owner, pid = int(p["owner_id"]), int(p["post_id"])
        if (owner, pid) in self.deleted_posts:
            raise _VkError(vk_error(15, "Access denied: post was deleted"))
        offset, count = int(p.get("offset", 0)), int(p.get("count", 20))
        groups = [g.as_json() for g in self.groups if -g.id == owner]
        newest_first = p.get("sort") == "desc"
        if "comment_id" in p:
            replies = self.replies.get((owner, pid, int(p["comment_id"])), [])
            replies = replies[::-1] if newest_first else replies
            return {
                "count": len(replies),
                "current_level_count": len(replies),
                "items": replies[offset : offset + count],
                "profiles": [],
                "groups": groups,
            }
        top = self.comments.get((owner, pid), [])
        top = top[::-1] if newest_first else top
        shown = int(p.get("thread_items_count", 0))
        items = []
        for comment in top[offset : offset + count]:
            item = json.loads(json.dumps(comment))
            item["thread"]["items"] = self.replies.get((owner, pid, comment["id"]), [])[:shown]
            items.append(item)
        total = sum(1 + len(self.replies.get((owner, pid, c["id"]), [])) for c in top)
        return {
            "count": total,
            "current_level_count": len(top),
            "items": items,
            "profiles": [],
            "groups": groups,
        }

    def newsfeed_search(self, p: dict[str, Any]) -> Any:
        query = str(p.get("q", "")).lower()
        start, end = int(p.get("start_time", 0)), int(p.get("end_time", 2**31))
        found = [x for x in self.search if query in x["text"].lower() and start <= x["date"] <= end]
        found.sort(key=lambda x: (-x["date"], x["owner_id"], x["id"]))
        capped = found[:NEWSFEED_SEARCH_RESULT_CAP]
        offset, count = int(p.get("start_from") or 0), int(p.get("count", 30))
        page = capped[offset : offset + count]
        response: dict[str, Any] = {"items": page, "count": len(capped), "profiles": [], "groups": []}
        if self.report_total:
            response["total_count"] = len(found)
        if offset + count < len(capped):
            response["next_from"] = str(offset + count)
        return response

    def groups_get_by_id(self, p: dict[str, Any]) -> Any:
        wanted = [x.strip().lower() for x in str(p.get("group_ids", "")).split(",") if x.strip()]
        found = [g.as_json() for g in self.groups if str(g.id) in wanted or g.screen_name in wanted]
        if not found:
            raise _VkError(vk_error(100, "One of the parameters specified was missing or invalid: group_ids"))
        return {"groups": found, "profiles": []}

    def execute(self, code: str) -> dict[str, Any]:
        responses: list[Any] = []
        errors: list[dict[str, Any]] = []
        body = code.strip()
        if not (body.startswith("return [") and body.endswith("];")):
            raise _VkError(vk_error(12, "Unable to compile code"))
        calls = _CALL.findall(body)
        if len(calls) > 25:
            raise _VkError(vk_error(13, "Runtime error: too many API calls"))
        for method, args in calls:
            try:
                responses.append(self._sub_call(method, json.loads(args)))
            except _VkError as exc:
                responses.append(False)
                errors.append({"method": method, **exc.error})
        out: dict[str, Any] = {"response": responses}
        if errors:
            out["execute_errors"] = errors
        return out

    def _sub_call(self, method: str, params: dict[str, Any]) -> Any:
        planned = self.fail.get(f"execute:{method}")
        if planned:
            raise _VkError(planned.pop(0))
        return self.dispatch(method, params)

    def handle(self, method: str, params: dict[str, str]) -> bytes:
        """Return the HTTP body for one request."""
        with self.lock:
            self.log.append((time.monotonic(), method, params))
            raw = self.raw_next.get(method)
            if raw:
                return raw.pop(0)
            try:
                if params.get("v") != "5.199":
                    raise _VkError(vk_error(8, f"Invalid request: version {params.get('v')!r}"))
                token = params.get("access_token", "")
                if token in self.expired or token not in self.tokens:
                    raise _VkError(vk_error(5, "User authorization failed: invalid access_token (4)."))
                planned = self.fail.get(method)
                if planned:
                    raise _VkError(planned.pop(0))
                if method == "execute":
                    return _dump(self.execute(params.get("code", "")))
                return _dump({"response": self.dispatch(method, params)})
            except _VkError as exc:
                return _dump({"error": exc.error})


class _VkError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("error_msg"))
        self.error = error


def _dump(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


class FakeVkServer:
    """The world behind a loopback HTTP server (start/stop as a context manager)."""

    def __init__(self, world: World) -> None:
        self.world = world
        world_ref = world

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode("utf-8"), keep_blank_values=True)
                params = {k: v[-1] for k, v in form.items()}
                method = self.path.rsplit("/", 1)[-1].split("?", 1)[0]
                body = world_ref.handle(method, params)
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeVkServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class RedirectAdapter(HTTPAdapter):
    """Send requests for VK's API host to the loopback server instead."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        assert request.url is not None
        request.url = request.url.replace(API_HOST, self.base_url, 1)
        return super().send(request, *args, **kwargs)


def mount(base_url: str) -> requests.Session:
    """Return a requests session whose VK API calls reach the loopback server."""
    session = requests.Session()
    session.mount(API_HOST, RedirectAdapter(base_url))
    return session
