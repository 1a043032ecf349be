"""A realistic store for the web UI tests: the first days of the demo stream through the real pipeline,
plus hostile messages (scripts, broken HTML) in a post, an incident and an alert."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from api.keys import add_key, keys_path
from crawlers.demo import DEMO_PROFILE_PATH
from crawlers.demo.generator import generate
from crawlers.replay import item_time
from index.models import Alert, AlertKind, IncidentStatus, Kind, Post, Tone, as_utc
from index.profile import Profile, load_profile
from index.sqlite import SqliteStore
from index.store import AlertQuery, IncidentQuery
from infopole.settings import Settings
from risk.understand import Understander
from worker.pipeline import detect, ingest_items, load_posts
from worker.runtime import Runtime

#: How much of the demo stream is replayed (from its start): the first spike, a conflict, incidents.
WINDOW = timedelta(days=2)
#: Items per ingest batch.
BATCH = 500
#: Roles that get a CLI-managed key in the test key file.
ROLES = ("admin", "head", "analyst", "info_lead", "cur")

SCRIPT_TEXT = "<script>alert('xss')</script> Жалоба: во дворе на Ленина нет света"
BROKEN_HTML = '<img src=x onerror="alert(2)"><b>незакрытый тег <a href="javascript:alert(3)">ссылка'


@dataclass
class DemoWorld:
    """What the tests need to know about the built store."""

    data_dir: Path
    store_path: Path
    profile: Profile
    now: datetime
    keys: dict[str, str] = field(default_factory=dict)  # role → key
    hostile_post_id: str = ""
    hostile_incident_id: str = ""
    hostile_alert_id: str = ""
    recipient: str = ""  # a recipient with open incidents in the "assigned" status


def hostile_post(now: datetime) -> Post:
    """Return a citizen's complaint whose text is a script and broken HTML."""
    return Post(
        id="demo:hostile:1",
        source="vk",
        source_id="hostile_1",
        url="javascript:alert(4)",
        author_name="<b>Тролль</b>",
        published_at=now - timedelta(hours=2),
        collected_at=now - timedelta(hours=2),
        text=f"{SCRIPT_TEXT}\n{BROKEN_HTML}",
        lemmas="жалоба двор ленин нет свет",
        sector="ЖКХ",
        topic="Отсутствие электроснабжения",
        kind=Kind.complaint,
        tone=Tone.negative,
        territory="d-central",
    )


def build_world(root: Path) -> DemoWorld:
    """Replay the first WINDOW of the demo stream into a SQLite store under `root`; return its facts."""
    items, truth = generate(seed=7)
    end = as_utc(truth.start) + WINDOW
    items = [i for i in items if (t := item_time(i)) is not None and t < end]
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(env="development", INFOPOLE_DATA_DIR=data_dir)
    store = SqliteStore(settings.sqlite_path)
    profile = load_profile(DEMO_PROFILE_PATH)
    runtime = Runtime(settings, store, profile, Understander(profile), lambda: end)
    try:
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            result = ingest_items(runtime, "demo", batch)
            batch_now = max(t for i in batch if (t := item_time(i)) is not None)
            detect(runtime, load_posts(runtime, result.post_ids), batch_now)
        store.save_pages(profile.pages)
        world = DemoWorld(data_dir=data_dir, store_path=settings.sqlite_path, profile=profile, now=end)
        _add_hostile(store, world, end)
        world.recipient = _busy_recipient(store)
    finally:
        store.close()
    for role in ROLES:
        _, key = add_key(keys_path(data_dir), role, end, name=f"тест {role}")
        world.keys[role] = key
    _, key = add_key(keys_path(data_dir), f"recipient:{world.recipient}", end, name="тест исполнитель")
    world.keys["recipient"] = key
    return world


def _add_hostile(store: SqliteStore, world: DemoWorld, now: datetime) -> None:
    """Store a hostile post, an incident titled with it and an alert carrying it."""
    from risk.incidents import open_incident

    post = hostile_post(now)
    store.upsert_posts([post])
    incident = open_incident(post, world.profile, now)
    incident = incident.model_copy(update={"title": f"{SCRIPT_TEXT} {BROKEN_HTML}", "place": BROKEN_HTML})
    store.save_incident(incident)
    alert = Alert(
        id="hostile-alert",
        kind=AlertKind.conflict,
        severity=9,
        title=SCRIPT_TEXT,
        text=BROKEN_HTML,
        created_at=now,
        event_at=now - timedelta(hours=1),
        thread_id=post.id,
        post_ids=[post.id],
        details={"comments": 3, "negative_share": 1.0, "note": BROKEN_HTML},
    )
    store.add_alert(alert)
    world.hostile_post_id = post.id
    world.hostile_incident_id = incident.id
    world.hostile_alert_id = alert.id


def _busy_recipient(store: SqliteStore) -> str:
    """Return the recipient with the most incidents waiting in the «assigned» status."""
    page = store.query_incidents(IncidentQuery(status=[IncidentStatus.assigned], limit=1000))
    counts: dict[str, int] = {}
    for incident in page.items:
        if incident.recipient:
            counts[incident.recipient] = counts.get(incident.recipient, 0) + 1
    if not counts:
        raise AssertionError("the demo window produced no assigned incidents")
    return max(counts, key=lambda r: (counts[r], r))


def open_alerts(store: SqliteStore) -> list[Alert]:
    """Return every alert not acknowledged yet."""
    return store.query_alerts(AlertQuery(acknowledged=False, limit=1000)).items
