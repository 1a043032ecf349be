"""A loopback OK REST API for tests, checking request signatures like the real one.

POST /fb.do with form parameters; the server recomputes `sig` from the parameters (without sig and
access_token) and the session secret of the token, and answers error 104 PARAM_SIGNATURE when they
differ, 102 PARAM_SESSION_EXPIRED for an expired token, 101 for an unknown application key. Feeds
page newest first with an opaque `anchor`; comments page forward from an `anchor`.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from crawlers.ok.client import md5_hex, sign

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ok"

APP_KEY = "CBAQTESTKEY"
APP_SECRET = "0123456789ABCDEF0123456789ABCDEF"
TOKEN = "tkn1-test-access-token"
GROUP = "70000001843001"


def load_fixture(name: str) -> Any:
    """Return a fixture's JSON."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def ok_error(code: int, message: str) -> dict[str, Any]:
    """Return an OK error answer."""
    return {"error_code": code, "error_msg": message, "error_data": None}


@dataclass
class OkWorld:
    """What the fake OK holds."""

    app_key: str = APP_KEY
    app_secret: str = APP_SECRET
    tokens: set[str] = field(default_factory=lambda: {TOKEN})
    expired: set[str] = field(default_factory=set)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    short_names: dict[str, str] = field(default_factory=dict)
    topics: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # newest first
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # oldest first
    fail: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    log: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, method: str) -> list[dict[str, str]]:
        return [p for m, p in self.log if m == method]

    def handle(self, params: dict[str, str]) -> Any:
        with self.lock:
            method = params.get("method", "")
            self.log.append((method, params))
            if params.get("application_key") != self.app_key:
                return ok_error(101, "PARAM_API_KEY : Application key is invalid")
            token = params.get("access_token", "")
            if token in self.expired:
                return ok_error(102, "PARAM_SESSION_EXPIRED : Session expired")
            if token not in self.tokens:
                return ok_error(103, "PARAM_SESSION_KEY : Invalid session key")
            expected = sign(params, md5_hex(token + self.app_secret))
            if params.get("sig") != expected:
                return ok_error(104, f"PARAM_SIGNATURE : Invalid signature {params.get('sig')}")
            planned = self.fail.get(method)
            if planned:
                return planned.pop(0)
            handler = {
                "url.getInfo": self.url_get_info,
                "group.getInfo": self.group_get_info,
                "mediatopic.getTopics": self.get_topics,
                "discussions.getComments": self.get_comments,
            }.get(method)
            if handler is None:
                return ok_error(3, f"METHOD : Method {method} does not exist")
            return handler(params)

    def url_get_info(self, p: dict[str, str]) -> Any:
        name = p.get("url", "").rstrip("/").rsplit("/", 1)[-1]
        gid = self.short_names.get(name)
        if gid is None:
            return ok_error(300, "NOT_FOUND : Object not found")
        return {"objectId": int(gid), "type": "GROUP"}

    def group_get_info(self, p: dict[str, str]) -> Any:
        uids = [u for u in p.get("uids", "").split(",") if u]
        return {"groups": [self.groups[u] for u in uids if u in self.groups]}

    def get_topics(self, p: dict[str, str]) -> Any:
        gid = p.get("gid", "")
        if gid not in self.groups:
            return ok_error(160, "PARAM_GROUP_ID : Invalid group id")
        topics = self.topics.get(gid, [])
        start = int(p["anchor"].removeprefix("t:")) if p.get("anchor") else 0
        count = int(p.get("count", "20"))
        page = topics[start : start + count]
        end = start + len(page)
        names = [{"uid": gid, "name": self.groups[gid]["name"]}]
        return {
            "media_topics": copy.deepcopy(page),
            "anchor": f"t:{end}",
            "has_more": end < len(topics),
            "entities": {"groups": names},
        }

    def get_comments(self, p: dict[str, str]) -> Any:
        topic = p.get("discussionId", "")
        if p.get("discussionType") != "GROUP_TOPIC":
            return ok_error(100, "PARAM : discussionType")
        comments = self.comments.get(topic)
        if comments is None:
            return ok_error(300, "NOT_FOUND : Discussion not found")
        start = int(p["anchor"].removeprefix("c:")) if p.get("anchor") else 0
        count = int(p.get("count", "20"))
        page = comments[start : start + count]
        end = start + len(page)
        return {"comments": copy.deepcopy(page), "anchor": f"c:{end}", "has_more": end < len(comments)}


def standard_world() -> OkWorld:
    """Return the Тестовск group with the fixture topics and comments."""
    world = OkWorld()
    info = load_fixture("group_getInfo.json")["groups"][0]
    world.groups[GROUP] = info
    world.short_names[info["shortname"]] = GROUP
    world.topics[GROUP] = load_fixture("topics.json")
    world.comments = load_fixture("comments.json")
    world.comments.setdefault("155000000000002", [])
    return world


class FakeOkServer:
    """The OK world behind a loopback HTTP server (a context manager)."""

    def __init__(self, world: OkWorld) -> None:
        self.world = world
        world_ref = world

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode("utf-8"), keep_blank_values=True)
                body = json.dumps(world_ref.handle({k: v[-1] for k, v in form.items()}), ensure_ascii=False)
                data = body.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/fb.do"

    def __enter__(self) -> FakeOkServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
