"""Item pipelines: drop pages already emitted in this crawl, then hand items on as JSON lines.

The crawl runs in its own process (crawlers.web.run); JsonLinesPipeline writes one JSON object per
line to the stream named by the INFOPOLE_WEB_OUTPUT setting ("-" = stdout), flushed per item, and the
parent process (crawlers.web.source) turns the lines into Batches for the ingest path.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any

from itemadapter import ItemAdapter
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

#: Setting naming where items go: a file path, or "-" for standard output.
OUTPUT_SETTING = "INFOPOLE_WEB_OUTPUT"


class DropDuplicatesPipeline:
    """Drop an article whose canonical URL was already emitted (reached by a feed and a sitemap)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        """Return the item, or raise DropItem when its canonical URL was emitted before."""
        key = str(ItemAdapter(item).get("url_key"))
        if key in self.seen:
            raise DropItem(f"duplicate canonical URL {ItemAdapter(item).get('canonical_url')}")
        self.seen.add(key)
        return item


class JsonLinesPipeline:
    """Write every item as one JSON line to the configured output, flushed at once."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.stream: IO[str] | None = None
        self.count = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JsonLinesPipeline:
        """Build the pipeline from the crawler settings."""
        return cls(crawler.settings.get(OUTPUT_SETTING, "-"))

    def open_spider(self, spider: Spider | None = None) -> None:
        """Open the output stream."""
        if self.target == "-":
            self.stream = sys.stdout
        else:
            Path(self.target).parent.mkdir(parents=True, exist_ok=True)
            self.stream = Path(self.target).open("a", encoding="utf-8")  # noqa: SIM115

    def close_spider(self, spider: Spider | None = None) -> None:
        """Flush and close the output stream (standard output stays open)."""
        if self.stream is not None:
            self.stream.flush()
            if self.stream is not sys.stdout:
                self.stream.close()

    def process_item(self, item: Any, spider: Spider | None = None) -> Any:
        """Write the item and return it."""
        assert self.stream is not None
        self.stream.write(json.dumps(ItemAdapter(item).asdict(), ensure_ascii=False) + "\n")
        self.stream.flush()
        self.count += 1
        return item
