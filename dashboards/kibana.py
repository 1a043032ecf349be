"""Import the shipped saved objects into Kibana (`infopole kibana load`) through the import API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from dashboards.build import NDJSON_PATH

#: How long to wait for Kibana to become available, seconds.
WAIT_S = 300.0


class KibanaError(RuntimeError):
    """Kibana is unreachable or refused the import (the message is Russian)."""


@dataclass
class ImportResult:
    """What Kibana reported: objects imported and per-object errors."""

    success_count: int = 0
    errors: list[str] = field(default_factory=list)


def retarget(ndjson: str, prefix: str) -> str:
    """Return the saved objects with the data views pointed at indices of `prefix` instead of 'infopole'."""
    if prefix == "infopole":
        return ndjson
    lines = []
    for line in ndjson.splitlines():
        obj = json.loads(line)
        if obj.get("type") == "index-pattern":
            title = obj["attributes"]["title"]
            obj["attributes"]["title"] = prefix + title.removeprefix("infopole")
        lines.append(json.dumps(obj, ensure_ascii=False, sort_keys=True))
    return "\n".join(lines) + "\n"


def _base(url: str, space: str) -> str:
    """Return the API base URL of a Kibana space."""
    url = url.rstrip("/")
    return f"{url}/s/{space}" if space else url


def wait_until_available(
    client: httpx.Client, url: str, timeout_s: float = WAIT_S, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Wait until Kibana's status API reports the overall level 'available'."""
    deadline = time.monotonic() + timeout_s
    last = "нет ответа"
    while True:
        try:
            response = client.get(f"{url.rstrip('/')}/api/status")
            if response.status_code == 200:
                level = response.json().get("status", {}).get("overall", {}).get("level")
                if level == "available":
                    return
                last = f"статус {level}"
            else:
                last = f"HTTP {response.status_code}"
        except (httpx.HTTPError, ValueError) as exc:
            last = str(exc)
        if time.monotonic() >= deadline:
            raise KibanaError(f"Kibana {url} не готова за {timeout_s:g} с: {last}")
        sleep(3.0)


def import_saved_objects(client: httpx.Client, url: str, ndjson: str, space: str = "") -> ImportResult:
    """POST the ndjson to the saved-objects import API with overwrite; raise KibanaError unless success."""
    response = client.post(
        f"{_base(url, space)}/api/saved_objects/_import",
        params={"overwrite": "true"},
        headers={"kbn-xsrf": "true"},
        files={"file": ("infopole.ndjson", ndjson.encode("utf-8"), "application/ndjson")},
    )
    if response.status_code != 200:
        raise KibanaError(f"Kibana отклонила импорт: HTTP {response.status_code}: {response.text[:500]}")
    body: dict[str, Any] = response.json()
    errors = [
        f"{item.get('type')} {item.get('id')}: {item.get('error', {}).get('type', 'ошибка')}"
        for item in body.get("errors", [])
    ]
    result = ImportResult(success_count=int(body.get("successCount", 0)), errors=errors)
    if not body.get("success", False):
        raise KibanaError("импорт в Kibana не удался: " + "; ".join(errors[:10]))
    return result


def load_dashboards(
    url: str,
    user: str = "",
    password: str = "",
    *,
    path: Path = NDJSON_PATH,
    prefix: str = "infopole",
    space: str = "",
    wait_s: float = WAIT_S,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ImportResult:
    """Wait for Kibana, then import the dashboards (overwrite); return what Kibana reported."""
    ndjson = retarget(path.read_text(encoding="utf-8"), prefix)
    auth = (user, password) if password else None
    with httpx.Client(auth=auth, timeout=60.0, transport=transport) as client:
        if wait_s > 0:
            wait_until_available(client, url, wait_s, sleep)
        return import_saved_objects(client, url, ndjson, space)
