"""The "web" source: runs one scrapy crawl in a subprocess and turns its JSON lines into Batches.

Scrapy's Twisted reactor can start only once per process and a crawl should not share memory with the
worker, so `poll()` starts `python -m crawlers.web.run` and streams its standard output: every
`batch_size` articles become a Batch whose cursor already lists their URL keys as seen, so a worker
killed midway re-crawls the feeds but does not fetch those pages again. A finished crawl moves
`since` to its start time minus SINCE_OVERLAP_HOURS; feed and sitemap entries dated before it are
not fetched next time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from crawlers.base import Batch, SourceNotConfigured, TransientSourceError, register_source
from crawlers.web.mapping import SOURCE_NAME
from crawlers.web.sites import MAX_ARTICLES_PER_SITE, site_base
from index.models import SourceState, as_utc, utcnow
from index.profile import Profile

log = logging.getLogger(__name__)

#: Articles per Batch handed to the ingest path.
BATCH_SIZE = 50
#: A crawl is killed after this long (s); scrapy's own CLOSESPIDER_TIMEOUT is 30 minutes.
CRAWL_TIMEOUT_S = 2400.0
#: Re-read feed entries this much older than the last crawl's start (h): feeds publish late.
SINCE_OVERLAP_HOURS = 1.0
#: The first crawl of a site reads this much history (days).
BACKFILL_DAYS = 3.0
#: URL keys remembered as already stored (most recent kept).
SEEN_LIMIT = 20_000
#: The repository root, so `-m crawlers.web.run` works without an installed package.
_ROOT = Path(__file__).resolve().parents[2]
#: Prefix of a crawl's temporary folder (job file and crawl log) in the system's temporary directory.
JOB_DIR_PREFIX = "infopole-web-"


class WebSource:
    """Crawls the profile's news sites and forums in a subprocess (see the module docstring)."""

    name: ClassVar[str] = SOURCE_NAME

    def __init__(
        self,
        sites: Sequence[str],
        *,
        feeds: Sequence[str] = (),
        batch_size: int = BATCH_SIZE,
        timeout_s: float = CRAWL_TIMEOUT_S,
        max_articles_per_site: int = MAX_ARTICLES_PER_SITE,
        scrapy_settings: dict[str, Any] | None = None,
        clock: Callable[[], datetime] = utcnow,
        python: str = sys.executable,
    ) -> None:
        self.sites = list(sites)
        self.feeds = list(feeds)
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.max_articles_per_site = max_articles_per_site
        self.scrapy_settings = dict(scrapy_settings or {})
        self._clock = clock
        self._python = python

    def job(self, cursor: dict[str, Any], started: datetime) -> dict[str, Any]:
        """Return the crawl job for a cursor (first crawl: the last BACKFILL_DAYS only)."""
        since = cursor.get("since")
        if not isinstance(since, str):
            since = (as_utc(started) - timedelta(days=BACKFILL_DAYS)).isoformat()
        return {
            "sites": self.sites,
            "feeds": self.feeds,
            "since": since,
            "seen": _seen(cursor),
            "max_articles_per_site": self.max_articles_per_site,
            "settings": self.scrapy_settings,
        }

    def poll(self, state: SourceState) -> Generator[Batch, None, None]:
        """Run one crawl and yield its articles in batches; raise TransientSourceError if it fails."""
        cursor = dict(state.cursor)
        seen = _seen(cursor)
        started = self._clock()
        items: list[dict[str, Any]] = []
        summary: dict[str, Any] | None = None
        sweep_job_dirs(Path(tempfile.gettempdir()), older_than_s=2 * self.timeout_s)
        with tempfile.TemporaryDirectory(prefix=JOB_DIR_PREFIX) as tmp:
            job_path = Path(tmp) / "job.json"
            job_path.write_text(json.dumps(self.job(cursor, started), ensure_ascii=False), encoding="utf-8")
            log_path = Path(tmp) / "crawl.log"
            with log_path.open("w", encoding="utf-8") as log_file:
                proc = subprocess.Popen(
                    [self._python, "-m", "crawlers.web.run", "--job", str(job_path)],
                    stdout=subprocess.PIPE,
                    stderr=log_file,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    encoding="utf-8",
                    env=_child_env(),
                    cwd=str(_ROOT),
                    start_new_session=True,
                )
                timer = threading.Timer(self.timeout_s, _kill, args=(proc,))
                timer.start()
                try:
                    assert proc.stdout is not None
                    for line in proc.stdout:
                        record = _parse_line(line)
                        if record is None:
                            continue
                        if "_summary" in record:
                            summary = record["_summary"]
                            continue
                        items.append(record)
                        if isinstance(record.get("url_key"), str):
                            seen.append(record["url_key"])
                        if len(items) >= self.batch_size:
                            cursor["seen"] = seen[-SEEN_LIMIT:]
                            yield Batch(SOURCE_NAME, items, dict(cursor))
                            items = []
                    returncode = proc.wait()
                finally:
                    timer.cancel()
                    if proc.poll() is None:
                        _kill(proc)
                        proc.wait()
            cursor["seen"] = seen[-SEEN_LIMIT:]
            if returncode != 0 or summary is None:
                tail = _tail(log_path)
                if items:
                    yield Batch(SOURCE_NAME, items, dict(cursor))
                timed_out = returncode in (-signal.SIGKILL, -signal.SIGTERM)
                reason = "превышено время обхода" if timed_out else f"код выхода {returncode}"
                log.error("web crawl failed (%s): %s", reason, tail)
                raise TransientSourceError(
                    f"обход сайтов не завершился ({reason}): {tail}", retry_after_s=600.0
                )
        cursor["since"] = (as_utc(started) - timedelta(hours=SINCE_OVERLAP_HOURS)).isoformat()
        errors = {str(k): int(v) for k, v in (summary.get("errors") or {}).items()}
        log.info("web crawl done: %s", summary.get("info"))
        yield Batch(SOURCE_NAME, items, cursor, errors)


def sweep_job_dirs(root: Path, *, older_than_s: float, now: float | None = None) -> int:
    """Remove crawl folders under `root` untouched for `older_than_s` seconds; return how many.

    A worker killed during a crawl leaves its folder behind (the `with` block never ends). Every crawl
    ends within its timeout (the parent's kill timer; scrapy's CLOSESPIDER_TIMEOUT in an orphaned one),
    so a folder whose newest file is older than twice the timeout belongs to no running crawl.
    """
    now = time.time() if now is None else now
    removed = 0
    for folder in root.glob(f"{JOB_DIR_PREFIX}*"):
        try:
            newest = max([folder.stat().st_mtime] + [f.stat().st_mtime for f in folder.iterdir()])
        except OSError:  # gone meanwhile, or not a folder
            continue
        if now - newest >= older_than_s:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    if removed:
        log.info("web crawl: %d stale job folders removed from %s", removed, root)
    return removed


def _seen(cursor: dict[str, Any]) -> list[str]:
    value = cursor.get("seen")
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _parse_line(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line:
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        log.warning("web crawl: not a JSON line on stdout: %.200s", line)
        return None
    return record if isinstance(record, dict) else None


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _kill(proc: subprocess.Popen[str]) -> None:
    """Kill the crawl's whole process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def sites_from_profile(profile: Profile) -> list[str]:
    """Return the profile's web sites as base URLs; entries that are not addresses are logged and skipped."""
    sites: list[str] = []
    for value in profile.sources.web_sites:
        try:
            base = site_base(value)
        except ValueError as exc:
            log.warning("сайт пропущен: %s", exc)
            continue
        if base not in sites:
            sites.append(base)
    return sites


@register_source(SOURCE_NAME)
def build_web_source(settings: Any, profile: Profile) -> WebSource:
    """Build the web source; raise SourceNotConfigured (Russian) when the profile lists no sites."""
    sites = sites_from_profile(profile)
    if not sites:
        raise SourceNotConfigured("сайты отключены: в профиле нет sources.web_sites")
    return WebSource(sites)
