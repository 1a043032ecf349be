"""Run one crawl in this process: `python -m crawlers.web.run --job JOB.json [--out FILE|-]`.

The job file is JSON: {"sites": [...], "feeds": [...], "since": ISO | null, "seen": [url keys],
"max_articles_per_site": int, "settings": {scrapy overrides}}. Items are written as JSON lines to
--out (default: standard output); the last line is {"_summary": {...}} with counters and errors.
Logs go to standard error. The Twisted reactor starts once per process, which is why the worker
runs this as a subprocess (crawlers.web.source).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from crawlers.web.pipeline import OUTPUT_SETTING
from crawlers.web.settings import crawl_settings
from crawlers.web.sites import MAX_ARTICLES_PER_SITE
from crawlers.web.spider import NewsSpider

#: Scrapy stats that count skipped or failed requests, renamed to our error keys.
_STAT_ERRORS = {
    "robotstxt/forbidden": "web/robots_forbidden",
    "offsite/filtered": "web/offsite",
}
_INFO_STATS = ("downloader/request_count", "downloader/response_count", "item_scraped_count", "finish_reason")


def summarise(stats: dict[str, Any]) -> dict[str, Any]:
    """Return the crawl summary: error counters by kind and a few plain counters."""
    errors: dict[str, int] = {}
    for key, value in stats.items():
        if key.startswith("infopole/web/") and key != "infopole/web/articles":
            errors[key.removeprefix("infopole/")] = int(value)
        elif key in _STAT_ERRORS:
            errors[_STAT_ERRORS[key]] = int(value)
    info = {key.replace("/", "_"): stats.get(key) for key in _INFO_STATS}
    info["articles"] = int(stats.get("infopole/web/articles", 0))
    elapsed = stats.get("elapsed_time_seconds")
    info["elapsed_s"] = round(float(elapsed), 3) if elapsed is not None else None
    return {"errors": errors, "info": info}


def run_crawl(job: dict[str, Any], out: str = "-") -> dict[str, Any]:
    """Crawl the job's sites, writing items to `out`; return the summary."""
    from scrapy.crawler import CrawlerProcess

    settings = crawl_settings(job.get("settings") or {})
    settings[OUTPUT_SETTING] = out
    process = CrawlerProcess(settings, install_root_handler=True)
    crawler = process.create_crawler(NewsSpider)
    process.crawl(
        crawler,
        sites=job.get("sites") or [],
        feeds=job.get("feeds") or [],
        since=job.get("since"),
        seen=job.get("seen") or [],
        max_articles_per_site=int(job.get("max_articles_per_site") or MAX_ARTICLES_PER_SITE),
    )
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats is not None else {}
    return summarise(stats)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the crawl, print the summary line; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m crawlers.web.run", description="Обход новостных сайтов.")
    parser.add_argument("--job", required=True, type=Path, help="JSON-файл задания обхода")
    parser.add_argument("--out", default="-", help="куда писать JSON-строки (по умолчанию stdout)")
    args = parser.parse_args(argv)
    try:
        job = json.loads(args.job.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        sys.stderr.write(f"задание обхода не читается: {exc}\n")
        return 2
    if not isinstance(job, dict) or (not job.get("sites") and not job.get("feeds")):
        sys.stderr.write("в задании обхода нет сайтов (sites) и лент (feeds)\n")
        return 2
    summary = run_crawl(job, args.out)
    line = json.dumps({"_summary": summary}, ensure_ascii=False)
    if args.out == "-":
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    else:
        with Path(args.out).open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
