"""Source modules stay light to import; a configured source loads its client library when it is built."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Run in a fresh interpreter: which heavy libraries the catalog and a worker's boot import.
SCRIPT = textwrap.dedent(
    """
    import sys
    from types import SimpleNamespace

    from pydantic import SecretStr

    from crawlers.catalog import load_sources, source_statuses
    from index.profile import Profile, SourceList
    from infopole.settings import Settings, TelegramSettings

    data_dir = sys.argv[1]
    heavy = ("scrapy", "twisted", "telethon")
    load_sources()
    print("registered", sorted(name for name in heavy if name in sys.modules))
    statuses = source_statuses(Settings(INFOPOLE_DATA_DIR=data_dir), Profile(name="Город"))
    print("unconfigured", statuses["tg"] is None, "telethon" in sys.modules)

    import worker.actors

    profile = Profile(name="Город", sources=SourceList(tg_channels=["@gorod_news"]))
    settings = Settings(
        INFOPOLE_DATA_DIR=data_dir,
        telegram=TelegramSettings(api_id="12345", api_hash=SecretStr("abc"), session=SecretStr("1xyz")),
    )
    worker.actors.get_runtime = lambda: SimpleNamespace(settings=settings, profile=profile)
    worker.actors._build_runtime()
    print("booted", "telethon" in sys.modules, "scrapy" in sys.modules)
    """
)


def test_sources_register_without_their_libraries_and_a_booting_worker_loads_configured_ones(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "REDIS__URL": "redis://127.0.0.1:1/0", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "registered []",  # scrapy runs only in the crawl subprocess; Telethon only where configured
        "unconfigured False False",
        "booted True False",
    ]
