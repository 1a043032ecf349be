"""Generate the deterministic demo stream of the sample municipality, with its ground truth.

The stream covers 14 days from 2026-10-26 00:00 Europe/Moscow (so it spans the 3–4 November holiday),
about 22,000 posts and comments on VK, Telegram, OK and a news site. Background volume follows a
diurnal and weekly rhythm and the territories' population; on top of it the generator injects volume
spikes, conflict threads under official posts and groups of street-level complaints (incidents), and
writes what it injected to truth.json. Labels of every item (sector, topic, kind, place, event) go to
labels.jsonl.gz for measuring the understanding step on the demo.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import io
import json
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from crawlers.demo import DEMO_PROFILE_PATH
from crawlers.demo import phrases as ph
from crawlers.demo.scripts import CONFLICTS, SPIKES, ConflictScript, SpikeScript
from crawlers.demo.templates import Writer, capitalise, plain_mentions, tidy
from crawlers.demo.texts import BY_SECTOR, SECTOR_TEXTS, Problem, SectorTexts
from crawlers.demo.truth import ConflictTruth, GroundTruth, IncidentTruth, SpikeTruth, dump_truth, load_truth
from crawlers.demo.world import POPULATION, Outlet, Street, World, build_world
from index.profile import Profile, load_profile

__all__ = ["DemoPaths", "GroundTruth", "Label", "generate", "generate_labelled", "load_truth", "write_demo"]

TZ = ZoneInfo("Europe/Moscow")
START_LOCAL = datetime(2026, 10, 26, tzinfo=TZ)
DAYS = 14
START = START_LOCAL.astimezone(UTC)
END = START + timedelta(days=DAYS)
HOURS = DAYS * 24

#: Relative activity of citizens by local hour: quiet at night, peaks at 8–10 and 19–22.
HOUR_WEIGHTS: tuple[float, ...] = (
    0.28,
    0.14,
    0.08,
    0.05,
    0.05,
    0.09,
    0.30,
    0.75,
    1.35,
    1.60,
    1.45,
    1.15,
    1.10,
    1.10,
    1.00,
    1.00,
    1.05,
    1.15,
    1.25,
    1.50,
    1.75,
    1.65,
    1.10,
    0.60,
)
#: Relative activity of official pages by local hour (working hours).
OFFICIAL_HOURS: tuple[float, ...] = (
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0.2,
    1.2,
    2.5,
    3.0,
    3.0,
    2.5,
    1.2,
    2.5,
    2.5,
    2.0,
    1.6,
    1.0,
    0.8,
    0.6,
    0.3,
    0,
    0,
)
#: Relative activity by weekday, Monday first.
DAY_WEIGHTS: tuple[float, ...] = (1.05, 1.0, 1.0, 1.0, 0.95, 0.8, 0.85)
#: Non-working public holidays inside the stream (День народного единства).
DAYS_OFF: frozenset[date] = frozenset({date(2026, 11, 4)})

#: Local times of incident groups pinned to exercise the working calendar and the live demo.
PINNED_INCIDENTS: tuple[str, ...] = (
    "2026-10-26 07:40",
    "2026-10-26 08:25",
    "2026-10-26 09:10",
    "2026-10-26 10:05",
    "2026-10-26 11:30",
    "2026-10-26 14:15",
    "2026-10-30 17:40",
    "2026-10-30 18:30",
    "2026-10-30 19:55",
    "2026-10-30 21:20",
    "2026-10-30 23:10",
    "2026-10-31 10:20",
    "2026-11-01 12:40",
    "2026-11-03 10:10",
    "2026-11-03 16:35",
    "2026-11-03 17:20",
    "2026-11-03 20:45",
    "2026-11-04 09:30",
    "2026-11-04 12:10",
    "2026-11-04 15:45",
    "2026-11-04 19:05",
    "2026-11-06 17:50",
    "2026-11-06 20:30",
)
#: Incident groups in total (pinned ones included).
INCIDENT_GROUPS = 170

#: Sectors of street-level incident groups and their weights.
INCIDENT_SECTORS: tuple[tuple[str, float], ...] = (
    ("ЖКХ", 30),
    ("Благоустройство", 22),
    ("Дороги", 18),
    ("Мусор/Свалки/ТКО", 14),
    ("Общественный транспорт", 5),
    ("Электроснабжение", 3),
    ("Безопасность", 2.5),
    ("Образование", 1.5),
    ("Роспотребнадзор", 1.5),
    ("Экология", 1),
    ("Торговля", 1),
    ("Связь и телевидение", 1),
    ("Газ и топливо", 1),
    ("Социальное обслуживание и защита", 1),
    ("Строительство и архитектура", 0.7),
    ("Физическая культура и спорт", 0.5),
    ("Памятники и объекты культурного наследия", 0.4),
    ("Государственная собственность", 0.3),
)

#: Generic media news without a sector: (title, body).
MEDIA_GENERIC: tuple[tuple[str, str], ...] = (
    ("Первый снег", "Синоптики обещают в выходные первый снег и гололёд. Водителей просят сменить резину."),
    (
        "ДТП на выезде из города",
        "Столкнулись легковой автомобиль и грузовик, водитель легковушки в больнице.",
    ),
    ("Пропал человек", "Ушёл из дома и не вернулся пожилой мужчина 78 лет. Просим помочь в поисках."),
    ("Ярмарка в выходные", "В субботу на площади пройдёт ярмарка: мёд, овощи, выпечка от местных фермеров."),
    ("Погода на неделю", "Днём до +6, ночью заморозки до −3. Возможны осадки в виде мокрого снега."),
    ("Кинопоказ под открытым небом", "В пятницу в 19:00 у Дома культуры покажут семейный фильм."),
    ("Найдена собака", "На остановке сидит рыжий пёс в ошейнике, ждёт хозяев. Кто узнал — пишите."),
)


@dataclass
class Label:
    """What the generator meant an item to be (for measuring the understanding step)."""

    sector: str | None = None
    topic: str | None = None
    kind: str | None = None  # index.models.Kind value, None for chatter
    territory: str | None = None  # the territory the text mentions, if any
    street: str | None = None  # the street the text mentions, if any
    event: str | None = None  # "spike:<key>", "conflict:<key>", "incident:<n>" or None


@dataclass
class Draft:
    """An item before ids are assigned (ids follow publication order per page, as networks do)."""

    k: int
    outlet: Outlet
    type: str  # post | comment
    at: datetime
    text: str
    author: tuple[int, str] | None  # None: the outlet itself
    official: bool
    label: Label
    parent: Draft | None = None
    root: Draft | None = None  # None for a root post
    repost_of: Draft | None = None
    views: int | None = None
    likes: int | None = None
    reposts: int | None = None
    replies: int = 0


@dataclass(frozen=True)
class DemoPaths:
    """Files written by write_demo."""

    stream: Path  # stream.jsonl.gz
    truth: Path  # truth.json
    labels: Path  # labels.jsonl.gz


@dataclass
class _Group:
    """One incident group while it is generated."""

    sector: str
    topic: str
    territory: str
    street: str
    drafts: list[Draft] = field(default_factory=list)


def local_hour(at: datetime) -> int:
    """Return the Moscow local hour of an aware datetime (UTC+3, no DST)."""
    return int((at.timestamp() + 3 * 3600) // 3600) % 24


def _local(text: str) -> datetime:
    """Parse "YYYY-MM-DD HH:MM" local time to aware UTC."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ).astimezone(UTC)


def _cumulative(weights: list[float]) -> list[float]:
    out: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


class Builder:
    """Builds drafts for the whole stream from one seeded random generator."""

    def __init__(self, seed: int, profile: Profile) -> None:
        self.rng = random.Random(seed)
        self.world: World = build_world(profile, self.rng)
        self.writer = Writer(self.rng, self.world)
        self.drafts: list[Draft] = []
        self.roots: dict[str, list[Draft]] = {}
        self.hour_cum = _cumulative([self._hour_weight(h, HOUR_WEIGHTS, growth=True) for h in range(HOURS)])
        self.official_cum = _cumulative(
            [self._hour_weight(h, OFFICIAL_HOURS, growth=False) for h in range(HOURS)]
        )
        self.sectors = list(SECTOR_TEXTS)
        self.sector_cum = _cumulative([s.weight for s in self.sectors])
        self.news_sectors = [s for s in SECTOR_TEXTS if s.news]
        self.news_cum = _cumulative([s.weight + 1.5 for s in self.news_sectors])
        self.territories = list(POPULATION)
        # A floor keeps the tiny village audible: a handful of messages a week.
        self.territory_cum = _cumulative([float(max(POPULATION[t], 900)) for t in self.territories])
        self.spike_truth: list[tuple[SpikeScript, list[Draft]]] = []
        self.conflict_truth: list[tuple[ConflictScript, Draft, list[Draft], Draft | None, int]] = []
        self.groups: list[_Group] = []
        self.recipients = {r.id: r.name for r in profile.recipients}
        self.profile = profile

    # ---- sampling -------------------------------------------------------------------------------

    @staticmethod
    def _hour_weight(h: int, profile: tuple[float, ...], *, growth: bool) -> float:
        at_local = START_LOCAL + timedelta(hours=h)
        day = at_local.date()
        weekday = 6 if day in DAYS_OFF else at_local.weekday()
        weight = profile[at_local.hour] * DAY_WEIGHTS[weekday]
        if not growth and weekday >= 5:
            weight *= 0.3
        if growth:
            weight *= 1.0 + 0.12 * h / HOURS
        return weight

    def sample_time(self, cum: list[float], *, after: datetime | None = None) -> datetime:
        """Return a time drawn from an hourly intensity (optionally later than `after`)."""
        low = 0.0
        if after is not None:
            index = max(0, min(HOURS - 1, int((after - START).total_seconds() // 3600)))
            low = cum[index]
        u = low + self.rng.random() * (cum[-1] - low)
        hour = min(bisect.bisect_left(cum, u), HOURS - 1)
        at = START + timedelta(hours=hour, seconds=self.rng.random() * 3600)
        return max(at, after) if after is not None else at

    def comment_time(self, after: datetime, median_min: float = 45.0) -> datetime:
        """Return a reply time after `after`: log-normal delay thinned by the diurnal rhythm."""
        top = max(HOUR_WEIGHTS)
        at = after
        for _ in range(8):
            delay = max(0.5, self.rng.lognormvariate(math.log(median_min), 1.25))
            at = after + timedelta(minutes=delay)
            if self.rng.random() < HOUR_WEIGHTS[local_hour(at)] / top:
                return at
        return at

    def sector(self) -> SectorTexts:
        """Return a sector drawn by its share of citizens' messages."""
        return self.rng.choices(self.sectors, cum_weights=self.sector_cum)[0]

    def territory(self) -> str:
        """Return a territory drawn by population."""
        return self.rng.choices(self.territories, cum_weights=self.territory_cum)[0]

    def pick_problem(
        self, sector: SectorTexts, territory: str | None, *, placed: bool = False
    ) -> Problem | None:
        """Return a problem of `sector` that fits the territory (no lifts in a village), or None."""
        village = territory is not None and territory.startswith("s-")
        fits = [
            p for p in sector.problems if not (village and p.urban) and not (placed and p.place == "none")
        ]
        return self.rng.choice(fits) if fits else None

    def comment_count(self, mean: float) -> int:
        """Return a heavy-tailed number of comments with the given mean."""
        if mean <= 0 or self.rng.random() < 0.2:
            return 0
        sigma = 1.0
        mu = math.log(mean / 0.8) - sigma * sigma / 2
        return min(int(self.rng.lognormvariate(mu, sigma)), 160)

    def author(self, outlet: Outlet) -> tuple[int, str]:
        """Return a citizen account of the outlet's network."""
        network = "vk" if outlet.network == "web" else outlet.network
        return self.world.authors[network].pick(self.rng)

    # ---- drafts ---------------------------------------------------------------------------------

    def add(
        self,
        outlet: Outlet,
        at: datetime,
        text: str,
        label: Label,
        *,
        author: tuple[int, str] | None,
        official: bool = False,
        parent: Draft | None = None,
        repost_of: Draft | None = None,
    ) -> Draft:
        """Create a draft post (no parent) or comment and remember it."""
        root = None if parent is None else (parent.root or parent)
        at = at.replace(microsecond=0)  # networks report whole seconds
        if outlet.network != "vk":
            text = plain_mentions(text)  # mention markup exists only on VK
        draft = Draft(
            k=len(self.drafts),
            outlet=outlet,
            type="post" if parent is None else "comment",
            at=at,
            text=text,
            author=author,
            official=official,
            label=label,
            parent=parent,
            root=root,
            repost_of=repost_of,
        )
        self.drafts.append(draft)
        if parent is None:
            self.roots.setdefault(outlet.key, []).append(draft)
        else:
            assert root is not None
            root.replies += 1
        return draft

    def reply_prefix(self, draft: Draft, parent: Draft) -> str:
        """Return "[id1|Имя], " when a VK comment answers another citizen's comment."""
        if parent.type != "comment" or parent.author is None or self.rng.random() < 0.4:
            return ""
        name = parent.author[1].split(" ")[0]
        if draft.outlet.network == "vk":
            return f"[id{parent.author[0]}|{name}], "
        return f"{name}, " if self.rng.random() < 0.5 else ""

    def label_here(
        self, sector: str | None, topic: str | None, kind: str | None, event: str | None = None
    ) -> Label:
        """Return a label carrying the place the writer's last message mentioned."""
        return Label(sector, topic, kind, self.writer.territory, self.writer.street, event)

    # ---- background -----------------------------------------------------------------------------

    def citizen_message(
        self,
        sector: SectorTexts | None,
        territory: str,
        at: datetime,
        *,
        related: float = 0.5,
        asked: frozenset[tuple[str | None, str | None]] = frozenset(),
    ) -> tuple[str, Label]:
        """Return a comment in a thread about `sector`: on topic (`related`), other sector, thanks, chatter.

        `asked` holds the (sector, topic) questions already asked in the thread; they are not repeated.
        About a third of comments are chatter ("+", "жесть", off-topic); places are rarely named.
        """
        rng = self.rng
        w = self.writer
        roll = rng.random()
        if sector is not None and roll < related:
            sub = rng.random()
            problem = self.pick_problem(sector, territory)
            if sub < 0.3:
                topic, text = w.question(
                    sector, territory=territory if rng.random() < 0.15 else None, when=at
                )
                if (sector.sector, topic) not in asked:
                    return text, self.label_here(sector.sector, topic, "question")
            elif sub < 0.38 and sector.suggestions:
                topic, text = w.suggestion(sector, territory=None, when=at)
                if (sector.sector, topic) not in asked:
                    return text, self.label_here(sector.sector, topic, "suggestion")
            elif sub < 0.6 and (update := w.status(sector.sector)) is not None:
                return update, self.label_here(sector.sector, None, "information")
            if problem is not None:
                text = w.complaint(problem, territory=territory, when=at, area_p=0.1, sector=sector.sector)
                return text, self.label_here(sector.sector, problem.topic, "complaint")
            return w.chatter(), Label()
        other = self.sector()
        if roll < related + 0.15:
            problem = self.pick_problem(other, territory)
            if problem is not None:
                text = w.complaint(problem, territory=territory, when=at, area_p=0.1, sector=other.sector)
                return text, self.label_here(other.sector, problem.topic, "complaint")
        if roll < related + 0.2:
            target = sector or other
            topic, text = w.thanks(target, territory=None, when=at)
            if (target.sector, topic) not in asked:
                return text, self.label_here(
                    target.sector, topic, "gratitude" if target.thanks else "question"
                )
        return w.chatter(), Label()

    def comments(self, root: Draft, count: int, sector: SectorTexts | None, territory: str) -> None:
        """Add `count` comments under `root`, some answering each other, some answered officially."""
        rng = self.rng
        outlet = root.outlet
        times = sorted(self.comment_time(root.at) for _ in range(count))
        made: list[Draft] = []
        asked: set[tuple[str | None, str | None]] = set()
        for at in times:
            if at >= END:
                break
            parent = root if not made or rng.random() < 0.7 else rng.choice(made[-8:])
            # Long threads drift off topic; a question or a thank-you is not repeated in one thread.
            related = 0.5 if len(made) < 10 else 0.4
            text, label = self.citizen_message(sector, territory, at, related=related, asked=frozenset(asked))
            if label.kind in ("question", "suggestion", "gratitude"):
                asked.add((label.sector, label.topic))
            draft = self.add(outlet, at, text, label, author=self.author(outlet), parent=parent)
            draft.text = self.reply_prefix(draft, parent) + draft.text
            made.append(draft)
            if outlet.page_id and label.kind == "complaint" and rng.random() < 0.3:
                self.official_reply(draft, label.sector)

    def official_reply(self, to: Draft, sector: str | None) -> Draft | None:
        """Add the page's answer to a citizen's comment within working time."""
        rng = self.rng
        at = to.at + timedelta(hours=rng.uniform(0.3, 5.0))
        local = at.astimezone(TZ)
        if local.hour >= 18 or local.hour < 8 or local.date() in DAYS_OFF or local.weekday() >= 5:
            nxt = local + timedelta(days=1)
            while nxt.weekday() >= 5 or nxt.date() in DAYS_OFF:
                nxt += timedelta(days=1)
            at = nxt.replace(hour=9, minute=rng.randint(0, 59)).astimezone(UTC)
        if at >= END:
            return None
        recipient = self.recipients.get(self._route(sector), "профильное управление")
        text = rng.choice(ph.OFFICIAL_REPLIES).format(recipient=recipient)
        name = (to.author[1].split(" ")[0] + ", ") if to.author and rng.random() < 0.6 else ""
        outlet = to.outlet
        return self.add(
            outlet, at, name + text, Label(kind="information"), author=None, official=True, parent=to
        )

    def _route(self, sector: str | None) -> str:
        for rule in self.profile.routing:
            if rule.sector == sector and not rule.keywords and rule.territory is None:
                return rule.recipient
        return self.profile.default_recipient or "admin"

    def official_posts(self) -> None:
        """Add the official pages' own posts and the citizens' comments under them."""
        rng = self.rng
        w = self.writer
        vk_admin_posts: list[Draft] = []
        for outlet in self.world.outlets.values():
            if outlet.page_id is None or outlet.roots_per_day <= 0:
                continue
            count = round(outlet.roots_per_day * DAYS * rng.uniform(0.9, 1.1))
            for _ in range(count):
                at = self.sample_time(self.official_cum)
                territory = self.territory()
                if outlet.key == "ok-admin" and vk_admin_posts and rng.random() < 0.5:
                    source = rng.choice(vk_admin_posts)
                    at = source.at + timedelta(minutes=rng.uniform(2, 90))
                    label = Label(**vars(source.label))
                    root = self.add(outlet, at, source.text, label, author=None, official=True)
                    self.comments(
                        root,
                        self.comment_count(outlet.comments_mean),
                        BY_SECTOR.get(label.sector or ""),
                        territory,
                    )
                    continue
                sector: SectorTexts | None = self._page_sector(outlet)
                made = w.news(sector, territory=territory, when=at, style="official") if sector else None
                if sector is None or made is None or rng.random() < 0.12:
                    title, body = rng.choice(ph.OFFICIAL_GENERIC)
                    w.reset()
                    body = w.fill(body, territory=None, when=at)
                    text = w.format_post(title, body, style="official")
                    label = self.label_here(None, None, "information")
                    sector = None
                else:
                    topic, text = made
                    label = self.label_here(sector.sector, topic, "information")
                root = self.add(outlet, at, text, label, author=None, official=True)
                if outlet.key == "vk-admin":
                    vk_admin_posts.append(root)
                self.comments(root, self.comment_count(outlet.comments_mean), sector, territory)
        # A district page that posted once in the first week and never since (a lagging визитка).
        severny = self.world.outlets["vk-severny"]
        at = _local("2026-10-27 11:20")
        made = w.news(BY_SECTOR["Благоустройство"], territory="d-severny", when=at, style="official")
        assert made is not None
        root = self.add(
            severny,
            at,
            made[1],
            self.label_here("Благоустройство", made[0], "information"),
            author=None,
            official=True,
        )
        self.comments(root, 3, BY_SECTOR["Благоустройство"], "d-severny")

    def _page_sector(self, outlet: Outlet) -> SectorTexts | None:
        if outlet.key == "vk-zhkh":
            return BY_SECTOR["ЖКХ"] if self.rng.random() < 0.8 else BY_SECTOR["Электроснабжение"]
        if outlet.key == "vk-edu":
            return BY_SECTOR["Образование"]
        return self.rng.choices(self.news_sectors, cum_weights=self.news_cum)[0]

    def community_posts(self) -> None:
        """Add local communities' and channels' posts (citizens' and news) with their comments."""
        rng = self.rng
        for outlet in self.world.outlets.values():
            if outlet.page_id is not None or outlet.network == "web":
                continue
            count = round(outlet.roots_per_day * DAYS * rng.uniform(0.95, 1.05))
            for _ in range(count):
                at = self.sample_time(self.hour_cum)
                territory = outlet.territory or self.territory()
                if outlet.key == "typical" and rng.random() < 0.08 and self._repost_recent(outlet, at):
                    continue
                sector: SectorTexts | None
                if rng.random() < outlet.citizen_share:
                    sector, text, label, author = self._citizen_post(outlet, territory, at)
                else:
                    sector, text, label = self._media_post(territory, at, style="media")
                    author = None
                root = self.add(outlet, at, text, label, author=author)
                self.comments(root, self.comment_count(outlet.comments_mean), sector, territory)

    def _repost_recent(self, outlet: Outlet, at: datetime) -> bool:
        """Repost a root post of «Подслушано» from the last day into `outlet`; False if there is none."""
        source = self._recent_root(("podslushano",), at, within=timedelta(days=1))
        if source is None:
            return False
        label = Label(**vars(source.label))
        self.add(outlet, at, self.writer.repost(source.text), label, author=None, repost_of=source)
        return True

    def _citizen_post(
        self, outlet: Outlet, territory: str, at: datetime
    ) -> tuple[SectorTexts | None, str, Label, tuple[int, str] | None]:
        rng = self.rng
        w = self.writer
        picked = self.sector()
        sector: SectorTexts | None = picked
        roll = rng.random()
        problem = self.pick_problem(picked, territory)
        if roll < 0.40 and problem is not None:
            text = w.complaint(problem, territory=territory, when=at, area_p=0.6, sector=picked.sector)
            label = self.label_here(picked.sector, problem.topic, "complaint")
        elif roll < 0.70:
            topic, text = w.question(picked, territory=territory, when=at)
            label = self.label_here(picked.sector, topic, "question")
        elif roll < 0.78:
            topic, text = w.suggestion(picked, territory=territory, when=at)
            label = self.label_here(picked.sector, topic, "suggestion" if picked.suggestions else "question")
        elif roll < 0.88:
            topic, text = w.thanks(picked, territory=territory, when=at)
            label = self.label_here(picked.sector, topic, "gratitude" if picked.thanks else "question")
        else:
            text, label, sector = w.chatter(), Label(), None
        if outlet.network == "vk" and rng.random() < 0.15:
            text = f"{text}\n{rng.choice(ph.HASHTAGS)}"
        if outlet.network == "tg":  # a channel posts its subscribers' messages itself
            return sector, w.repost(text) if rng.random() < 0.5 else text, label, None
        anonymous = outlet.network == "vk" and rng.random() < 0.5
        return sector, text, label, None if anonymous else self.author(outlet)

    def _media_post(
        self, territory: str, at: datetime, *, style: str
    ) -> tuple[SectorTexts | None, str, Label]:
        rng = self.rng
        w = self.writer
        if rng.random() < 0.15:
            title, body = rng.choice(MEDIA_GENERIC)
            w.reset()
            return None, w.format_post(title, body, style=style), Label(kind="information")
        sector = rng.choices(self.news_sectors, cum_weights=self.news_cum)[0]
        made = w.news(sector, territory=territory, when=at, style=style)
        assert made is not None
        return sector, made[1], self.label_here(sector.sector, made[0], "information")

    def village_posts(self, territory: str = "s-malinovka", per_week: int = 4) -> None:
        """Add the tiny village's own handful of posts a week (too few to come from population draws)."""
        rng = self.rng
        w = self.writer
        outlets = [self.world.outlets[k] for k in ("ok-group", "berezovka", "podslushano")]
        for _ in range(per_week * DAYS // 7):
            at = self.sample_time(self.hour_cum)
            outlet = rng.choice(outlets)
            sector = self.sector()
            problem = self.pick_problem(sector, territory, placed=True)
            if problem is not None and rng.random() < 0.6:
                text = w.complaint(problem, territory=territory, when=at, area_p=1.0, sector=sector.sector)
                topic, kind = problem.topic, "complaint"
            else:
                topic, text = w.question(sector, territory=territory, when=at)
                kind = "question"
            if w.territory != territory:
                w.reset()
                text = f"{capitalise(w.area(territory))}: {text}"
            root = self.add(
                outlet, at, text, self.label_here(sector.sector, topic, kind), author=self.author(outlet)
            )
            self.comments(root, rng.randint(0, 4), sector, territory)

    def web_articles(self) -> None:
        """Add the local news site's articles and their copies in the VK news community."""
        rng = self.rng
        site = self.world.outlets["web"]
        online = self.world.outlets["online"]
        count = round(site.roots_per_day * DAYS)
        for _ in range(count):
            at = self.sample_time(self.official_cum)
            territory = self.territory()
            sector, text, label = self._media_post(territory, at, style="web")
            article = self.add(site, at, text, label, author=None)
            if rng.random() < 0.3:
                plain = tidy(
                    text.replace("<br>", "\n")
                    .replace("<h1>", "")
                    .replace("</h1>", "\n")
                    .replace("<p>", "")
                    .replace("</p>", "\n")
                )
                copy_at = at + timedelta(minutes=rng.uniform(5, 120))
                copy = self.add(
                    online,
                    copy_at,
                    f"{plain}\n\nИсточник: Вести Заречинска",
                    Label(**vars(label)),
                    author=None,
                )
                self.comments(copy, self.comment_count(online.comments_mean), sector, territory)
            del article  # the site's own articles get no comments

    def holiday_thread(self) -> None:
        """Add a busy but friendly thread: the holiday greeting with many thankful comments."""
        rng = self.rng
        outlet = self.world.outlets["vk-admin"]
        title, body = ph.OFFICIAL_GENERIC[0]
        root = self.add(
            outlet,
            _local("2026-11-04 09:05"),
            self.writer.format_post(title, body, style="official"),
            Label(kind="information"),
            author=None,
            official=True,
        )
        people = self.world.authors["vk"].distinct(rng, 26)
        for i in range(42):
            at = root.at + timedelta(minutes=2 + 600 * rng.betavariate(1.2, 3.0))
            text = self.writer.noise(rng.choice(ph.HOLIDAY_REPLIES), anger=0.0, emoji=ph.EMOJI_HAPPY)
            self.add(outlet, at, text, Label(kind="gratitude"), author=people[i % len(people)], parent=root)

    # ---- injected events ------------------------------------------------------------------------

    def spikes(self) -> None:
        """Inject the volume spikes of SPIKES."""
        for script in SPIKES:
            self.spike_truth.append((script, self._spike(script)))

    def _spike(self, script: SpikeScript) -> list[Draft]:
        rng = self.rng
        w = self.writer
        start = _local(script.start_local)
        end = start + timedelta(hours=script.duration_hours)
        event = f"spike:{script.key}"
        made: list[Draft] = []
        territory = script.territory
        community = self.world.outlets["berezovka" if territory == "s-berezovka" else "podslushano"]
        channel = self.world.outlets["tg-chp"]
        admin = self.world.outlets["vk-admin"]
        # The first citizen's post, the local channel's news and, later, the administration's post.
        w.reset()
        first_text = capitalise(
            f"{w.area(territory)} {rng.choice(script.questions)} {rng.choice(script.cores)}"
        )
        first = self.add(
            community,
            start + timedelta(minutes=rng.uniform(1, 6)),
            w.noise(first_text),
            self.label_here(script.sector, script.topic, "question", event),
            author=self.author(community),
        )
        made.append(first)
        w.reset()
        news_text = w.format_post(script.news_title, script.news_body, style="media")
        w.area(territory)
        news = self.add(
            channel,
            start + timedelta(minutes=rng.uniform(12, 25)),
            news_text,
            self.label_here(script.sector, script.topic, "information", event),
            author=None,
        )
        made.append(news)
        w.reset()
        w.area(territory)
        official_at = start + timedelta(hours=script.duration_hours * 0.35)
        official = self.add(
            admin,
            official_at,
            w.format_post("Информация для жителей", script.official_body, style="official"),
            self.label_here(script.sector, script.topic, "information", event),
            author=None,
            official=True,
        )
        made.append(official)
        extra_roots = [self.world.outlets[key] for key in ("typical", "ok-group", "tg-live")]
        for _ in range(script.messages - 3):
            at = start + timedelta(hours=script.duration_hours * rng.betavariate(1.5, 2.2))
            text, kind = self._spike_text(script, at)
            label = self.label_here(script.sector, script.topic, kind, event)
            roll = rng.random()
            parent: Draft | None
            if roll < 0.45:
                parent = first
            elif roll < 0.65:
                parent = news
            elif roll < 0.82 and at > official_at:
                parent = official
            else:
                parent = None
            if parent is None:
                outlet = rng.choice(extra_roots)
                draft = self.add(outlet, at, text, label, author=self.author(outlet))
            else:
                if at <= parent.at:
                    at = parent.at + timedelta(minutes=rng.uniform(1, 10))
                draft = self.add(
                    parent.outlet, at, text, label, author=self.author(parent.outlet), parent=parent
                )
                draft.text = self.reply_prefix(draft, parent) + draft.text
            made.append(draft)
        assert all(start <= d.at < end + timedelta(minutes=30) for d in made)
        return made

    def _spike_text(self, script: SpikeScript, at: datetime) -> tuple[str, str]:
        rng = self.rng
        w = self.writer
        w.reset()
        if rng.random() < 0.55:
            street = w.pick_street(script.territory, unique=False)
            place = w.street_phrase(street, w.house() if rng.random() < 0.7 else None)
        else:
            place = w.area(script.territory)
        if rng.random() < 0.25:
            text = f"{place} {rng.choice(script.questions)}"
            kind = "question"
        else:
            core = rng.choice(script.cores)
            frame = rng.randrange(4)
            if frame == 0:
                text = f"{place} {core}"
            elif frame == 1:
                text = f"{core} {place}"
            elif frame == 2:
                text = f"у нас {place} {core}"
            else:
                text = f"{core}. {place}. {rng.choice(ph.DEMANDS)}"
            kind = "complaint"
        return w.noise(capitalise(tidy(text)), anger=0.6), kind

    def conflicts(self) -> None:
        """Inject the conflict threads of CONFLICTS."""
        for script in CONFLICTS:
            self._conflict(script)

    def _conflict(self, script: ConflictScript) -> None:
        rng = self.rng
        w = self.writer
        outlet = self.world.outlets[script.page_id]
        start = _local(script.start_local)
        event = f"conflict:{script.key}"
        root = self.add(
            outlet,
            start,
            w.format_post("", script.root, style="official").strip(),
            Label(script.sector, script.topic, "information", event=event),
            author=None,
            official=True,
        )
        people = self.world.authors[outlet.network].distinct(rng, script.authors)
        speakers = people + [
            people[min(int(rng.paretovariate(1.3)) - 1, len(people) - 1)]
            for _ in range(script.comments - len(people))
        ]
        rng.shuffle(speakers)
        offsets = sorted(rng.betavariate(1.6, 1.5) for _ in range(script.comments))
        comments: list[Draft] = []
        officials: list[Draft] = []
        answered = {int(script.comments * 0.3), int(script.comments * 0.6)}
        escalated: Draft | None = None
        pools = (script.mild, script.angry, script.furious)
        decks: tuple[list[str], list[str], list[str]] = ([], [], [])
        for i, (offset, person) in enumerate(zip(offsets, speakers, strict=True)):
            at = start + timedelta(minutes=3) + timedelta(hours=script.duration_hours * offset)
            phase = 3 * i // script.comments
            if officials and rng.random() < (0.3 if phase < 2 else 0.12):
                parent: Draft = rng.choice(officials)
                text = rng.choice(script.rebuttals)
                label = Label(script.sector, script.topic, "complaint", event=event)
            else:
                deck = decks[phase]
                if not deck:
                    deck.extend(rng.sample(pools[phase], len(pools[phase])))
                text = rng.choice(ph.AGREE_LEADS) + deck.pop()
                parent = root if not comments or rng.random() < 0.6 else rng.choice(comments[-6:])
                sector = script.sector if phase < 2 else None
                label = Label(
                    sector, script.topic if sector else None, "complaint" if phase < 2 else None, event=event
                )
            if at <= parent.at:
                at = parent.at + timedelta(minutes=rng.uniform(1, 8))
            text = w.noise(text, anger=0.3 + 0.35 * phase)
            draft = self.add(outlet, at, text, label, author=person, parent=parent)
            draft.text = self.reply_prefix(draft, parent) + draft.text
            comments.append(draft)
            if phase == 2 and escalated is None:
                escalated = draft
            if i in answered:
                reply_to = rng.choice(comments[-5:])
                answer = script.official[len(officials) % len(script.official)]
                officials.append(
                    self.add(
                        outlet,
                        at + timedelta(minutes=rng.uniform(10, 40)),
                        answer,
                        Label(script.sector, script.topic, "information", event=event),
                        author=None,
                        official=True,
                        parent=reply_to,
                    )
                )
        self.conflict_truth.append((script, root, comments, escalated, len({p[0] for p in speakers})))

    def incidents(self) -> None:
        """Inject street-level complaint groups (each one incident) across the stream."""
        rng = self.rng
        used: set[tuple[str, str, str]] = set()
        spike_pairs = {(s.sector, s.territory) for s in SPIKES}
        names, weights = zip(*INCIDENT_SECTORS, strict=True)
        cum = _cumulative(list(weights))
        pinned = [_local(t) for t in PINNED_INCIDENTS]
        last = END - timedelta(hours=14)
        for n in range(INCIDENT_GROUPS):
            if n < len(pinned):
                at = pinned[n]
            else:
                at = self.sample_time(self.hour_cum, after=START + timedelta(hours=5))
                while at >= last:
                    at = self.sample_time(self.hour_cum, after=START + timedelta(hours=5))
            for _ in range(50):
                sector = BY_SECTOR[rng.choices(names, cum_weights=cum)[0]]
                territory = self.territory()
                problem = self.pick_problem(sector, territory, placed=True)
                unique = rng.random() < 0.85
                street = self.writer.pick_street(territory, unique=unique)
                key = (sector.sector, territory, street.name)
                if problem is not None and key not in used and (sector.sector, territory) not in spike_pairs:
                    break
            else:
                continue
            used.add(key)
            self._incident(n, sector, problem, street, at)

    def _incident(self, n: int, sector: SectorTexts, problem: Problem, street: Street, at: datetime) -> None:
        rng = self.rng
        w = self.writer
        event = f"incident:{n}"
        house = w.house() if problem.place == "house" or rng.random() < 0.25 else None
        group = _Group(sector.sector, problem.topic, street.territory, street.name)
        label_args = (sector.sector, problem.topic, "complaint", event)

        def label() -> Label:
            assert w.territory == street.territory and w.street == street.name, (
                w.territory,
                w.street,
                street,
            )
            return self.label_here(*label_args)

        text = w.complaint(
            problem,
            territory=street.territory,
            when=at,
            street=street,
            house=house,
            sector=sector.sector,
            insist=rng.random() < 0.9,
        )
        first_label = label()
        roll = rng.random()
        host = None
        if roll < 0.3:
            host = self._recent_root(("vk-admin", "ok-admin", "vk-zhkh", "vk-head"), at)
        elif roll < 0.42:
            host = self._recent_root(("tg-live", "tg-chp"), at)
        if host is not None:
            author = self.author(host.outlet)
            first = self.add(host.outlet, at, text, first_label, author=author, parent=host)
        else:
            outlet = self.world.outlets[rng.choice(("podslushano", "podslushano", "typical", "ok-group"))]
            if street.territory == "s-berezovka" and rng.random() < 0.5:
                outlet = self.world.outlets["berezovka"]
            author = self.author(outlet)
            first = self.add(outlet, at, text, first_label, author=author)
        group.drafts.append(first)
        size_roll = rng.random()
        extra = (
            0
            if size_roll < 0.45
            else 1
            if size_roll < 0.7
            else rng.randint(2, 3)
            if size_roll < 0.9
            else rng.randint(4, 7)
        )
        when = at
        for _ in range(extra):
            when = when + timedelta(minutes=rng.lognormvariate(math.log(180), 1.0))
            if when >= END - timedelta(hours=1):
                break
            kind = rng.random()
            if kind < 0.3:
                outlet = self.world.outlets[rng.choice(("podslushano", "typical", "ok-group", "tg-live"))]
                copied = w.near_duplicate(text)
                if outlet.network == "tg":
                    draft = self.add(outlet, when, w.repost(copied), Label(**vars(first_label)), author=None)
                else:
                    draft = self.add(
                        outlet, when, copied, Label(**vars(first_label)), author=self.author(outlet)
                    )
            elif kind < 0.45 and first.type == "post" and first.outlet.network == "vk":
                typical = self.world.outlets["typical" if first.outlet.key != "typical" else "podslushano"]
                draft = self.add(
                    typical,
                    when,
                    w.repost(first.text),
                    Label(**vars(first_label)),
                    author=None,
                    repost_of=first,
                )
            elif kind < 0.8 or not problem.lasting:
                text2 = w.me_too(problem, street=street, house=w.house() if house else None, when=when)
                parent = first if first.type == "post" else (first.parent or first)
                draft = self.add(
                    parent.outlet, when, text2, label(), author=self.author(parent.outlet), parent=parent
                )
            else:
                when = max(when, at + timedelta(days=rng.uniform(1.5, 3.5)))
                if when >= END - timedelta(hours=1):
                    break
                text2 = w.reminder(problem, street=street, house=house, when=when)
                draft = self.add(first.outlet, when, text2, label(), author=author, parent=first.parent)
            group.drafts.append(draft)
        if first.outlet.page_id and rng.random() < 0.8:
            self.official_reply(first, sector.sector)
        self.groups.append(group)

    def _recent_root(
        self, keys: tuple[str, ...], at: datetime, within: timedelta = timedelta(days=3)
    ) -> Draft | None:
        """Return a root post of one of `keys` published within `within` before `at`, or None."""
        candidates = [
            d
            for key in keys
            for d in self.roots.get(key, ())
            if d.at < at <= d.at + within and d.label.event is None
        ]
        return self.rng.choice(candidates) if candidates else None


# ---- assembly -------------------------------------------------------------------------------------


def _item_ids(drafts: list[Draft], rng: random.Random) -> dict[int, tuple[str, str]]:
    """Assign (item_id, url) to drafts in publication order per page (comment ids share the counter)."""
    counters: dict[str, int] = {}
    out: dict[int, tuple[str, str]] = {}
    for d in drafts:
        o = d.outlet
        space = o.owner
        if o.network == "tg" and d.type == "comment":
            space = str(int(o.owner) - 500_000)  # the channel's discussion chat
        if space not in counters:
            counters[space] = rng.randint(1_000, 60_000)
        counters[space] += 1 if rng.random() < 0.8 else rng.randint(2, 4)
        n = counters[space]
        item_id = f"news-{n}" if o.network == "web" else f"{space}_{n}"
        root = d.root
        if root is None:
            url = f"{o.url}{n}"
        else:
            root_n = out[root.k][0].rsplit("_", 1)[-1]
            if o.network == "vk":
                url = f"{o.url}{root_n}?reply={n}"
            elif o.network == "tg":
                url = f"{o.url}{root_n}?comment={n}"
            else:
                url = f"{o.url}{root_n}"
        out[d.k] = (item_id, url)
    return out


def _raw(d: Draft, ids: dict[int, tuple[str, str]], rng: random.Random) -> dict[str, Any]:
    o = d.outlet
    item_id, url = ids[d.k]
    if d.author is None:
        from_id: int | None = int(o.owner) if o.owner.lstrip("-").isdigit() else None
        author_name = o.name
    else:
        from_id, author_name = d.author
    post = d.type == "post"
    views = likes = reposts = None
    if post and o.network != "ok":
        base = o.followers if o.followers else 4000
        views = int(base * rng.uniform(0.05, 0.45) * (1 + d.replies / 25))
    if post:
        likes = int((views or o.followers) * rng.uniform(0.003, 0.03))
        reposts = int((views or o.followers) * rng.uniform(0.0, 0.003))
    else:
        likes = min(int(rng.paretovariate(1.6)) - 1, 60)
    return {
        "item_id": item_id,
        "network": o.network,
        "type": d.type,
        "date": int(d.at.timestamp()),
        "text": d.text,
        "from_id": from_id,
        "author_name": author_name,
        "owner": o.owner,
        "page_id": o.page_id,
        "official": d.official,
        "parent_item_id": ids[d.parent.k][0] if d.parent else None,
        "thread_item_id": ids[d.root.k][0] if d.root else item_id,
        "views": views,
        "likes": likes,
        "reposts": reposts,
        "comments": d.replies if post else None,
        "followers": (o.followers or None) if post else None,
        "url": url,
        "repost_of": ids[d.repost_of.k][0] if d.repost_of else None,
    }


def post_id(raw: dict[str, Any]) -> str:
    """Return the Post id of a raw demo item ("demo:{network}:{item_id}")."""
    return f"demo:{raw['network']}:{raw['item_id']}"


def generate_labelled(seed: int = 7) -> tuple[list[dict[str, Any]], GroundTruth, dict[str, Label]]:
    """Return the stream (raw items sorted by date), its ground truth and every item's label by Post id."""
    profile = load_profile(DEMO_PROFILE_PATH)
    b = Builder(seed, profile)
    b.official_posts()
    b.community_posts()
    b.web_articles()
    b.village_posts()
    b.holiday_thread()
    b.spikes()
    b.conflicts()
    b.incidents()
    kept = sorted((d for d in b.drafts if START <= d.at < END), key=lambda d: (d.at, d.k))
    kept_keys = {d.k for d in kept}
    kept = [
        d
        for d in kept
        if (d.root is None or d.root.k in kept_keys) and (d.parent is None or d.parent.k in kept_keys)
    ]
    ids = _item_ids(kept, b.rng)
    items = [_raw(d, ids, b.rng) for d in kept]
    pid = {d.k: post_id(item) for d, item in zip(kept, items, strict=True)}
    labels = {pid[d.k]: d.label for d in kept}

    def ids_of(drafts: list[Draft]) -> list[str]:
        return [pid[d.k] for d in sorted(drafts, key=lambda d: (d.at, d.k)) if d.k in pid]

    spikes = [
        SpikeTruth(
            key=s.key,
            sector=s.sector,
            topic=s.topic,
            territory=s.territory,
            start=_local(s.start_local),
            end=_local(s.start_local) + timedelta(hours=s.duration_hours),
            post_ids=ids_of(drafts),
        )
        for s, drafts in b.spike_truth
    ]
    conflicts = [
        ConflictTruth(
            key=s.key,
            thread_id=pid[root.k],
            page_id=s.page_id,
            sector=s.sector,
            start=root.at,
            escalated_at=esc.at if esc else None,
            authors=authors,
            post_ids=ids_of(comments),
        )
        for s, root, comments, esc, authors in b.conflict_truth
    ]
    incidents = []
    for g in b.groups:
        members = ids_of(g.drafts)
        if not members:
            continue
        first = min((d for d in g.drafts if d.k in pid), key=lambda d: (d.at, d.k))
        incidents.append(
            IncidentTruth(
                sector=g.sector,
                topic=g.topic,
                territory=g.territory,
                street=g.street,
                post_ids=members,
                first_published_at=first.at,
            )
        )
    incidents.sort(key=lambda i: i.first_published_at)
    truth = GroundTruth(
        start=START,
        end=END,
        count=len(items),
        seed=seed,
        spikes=spikes,
        conflicts=conflicts,
        incidents=incidents,
    )
    return items, truth, labels


def generate(seed: int = 7) -> tuple[list[dict[str, Any]], GroundTruth]:
    """Return the demo stream (raw items sorted by date) and its ground truth."""
    items, truth, _ = generate_labelled(seed)
    return items, truth


def stream_digest(items: list[dict[str, Any]]) -> str:
    """Return a SHA-256 of the stream's canonical JSON (to check determinism)."""
    h = hashlib.sha256()
    for item in items:
        h.update(json.dumps(item, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def _write_gz_lines(path: Path, lines: list[str]) -> None:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write("".join(lines).encode("utf-8"))
    path.write_bytes(buffer.getvalue())


def write_demo(out_dir: Path, seed: int = 7) -> DemoPaths:
    """Generate the demo and write stream.jsonl.gz, truth.json and labels.jsonl.gz into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    items, truth, labels = generate_labelled(seed)
    paths = DemoPaths(out_dir / "stream.jsonl.gz", out_dir / "truth.json", out_dir / "labels.jsonl.gz")
    _write_gz_lines(paths.stream, [json.dumps(i, ensure_ascii=False) + "\n" for i in items])
    paths.truth.write_text(dump_truth(truth), encoding="utf-8")
    _write_gz_lines(
        paths.labels,
        [json.dumps({"id": k, **vars(v)}, ensure_ascii=False) + "\n" for k, v in labels.items()],
    )
    return paths
