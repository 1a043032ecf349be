"""The demo municipality as the generator sees it: territories with people, outlets, authors."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from crawlers.demo.phrases import FEMALE_NAMES, MALE_NAMES, NICKNAMES, SURNAMES
from index.profile import Profile

#: Residents per territory id (invented; drives per-territory volumes).
POPULATION: dict[str, int] = {
    "d-central": 34_000,
    "d-severny": 27_000,
    "d-zavodskoy": 19_000,
    "d-prirechny": 15_000,
    "d-yuzhny": 22_000,
    "s-berezovka": 3_100,
    "s-lesnoy": 4_800,
    "s-pokrovskoe": 2_200,
    "s-svetly": 1_500,
    "s-malinovka": 180,
}

#: How people say "in <territory>" (locative phrases) and name it in a tag.
AREA_PHRASES: dict[str, tuple[str, ...]] = {
    "d-central": ("в центре", "в Центральном районе", "в центре города"),
    "d-severny": ("на Северном", "в Северном", "в мкр Северный", "на Северке", "в Северном районе"),
    "d-zavodskoy": ("в Заводском", "в Заводском районе", "на Заводке"),
    "d-prirechny": ("в Приречном", "в Приречье", "в Приречном районе"),
    "d-yuzhny": ("в Южном", "на Южном", "в мкр Южный", "в Южном районе"),
    "s-berezovka": ("в Берёзовке", "в Березовке", "в с. Берёзовка"),
    "s-lesnoy": ("в Лесном", "в пос. Лесной", "в посёлке Лесной"),
    "s-pokrovskoe": ("в Покровском", "в с. Покровское", "в Покровке"),
    "s-svetly": ("в Светлом", "в пос. Светлый", "в посёлке Светлый"),
    "s-malinovka": ("в Малиновке", "в д. Малиновка"),
}

#: Nominative names for "Лесной, ул. Садовая 8" style mentions.
AREA_TAGS: dict[str, tuple[str, ...]] = {
    "d-central": ("центр",),
    "d-severny": ("мкр Северный", "Северный"),
    "d-zavodskoy": ("Заводской район", "Заводской"),
    "d-prirechny": ("Приречный", "Приречье"),
    "d-yuzhny": ("мкр Южный", "Южный"),
    "s-berezovka": ("Берёзовка", "Березовка"),
    "s-lesnoy": ("пос. Лесной", "Лесной"),
    "s-pokrovskoe": ("Покровское", "с. Покровское"),
    "s-svetly": ("пос. Светлый", "Светлый"),
    "s-malinovka": ("Малиновка", "д. Малиновка"),
}

#: Street names with a type word: (locative, abbreviated) forms.
TYPED_STREETS: dict[str, tuple[str, str]] = {
    "проспект Победы": ("проспекте Победы", "пр-т Победы"),
    "переулок Школьный": ("переулке Школьном", "пер. Школьный"),
    "переулок Кузнечный": ("переулке Кузнечном", "пер. Кузнечный"),
    "переулок Лодочный": ("переулке Лодочном", "пер. Лодочный"),
    "бульвар Энтузиастов": ("бульваре Энтузиастов", "б-р Энтузиастов"),
    "площадь Революции": ("площади Революции", "пл. Революции"),
}

#: Schools and kindergartens: (locative, genitive).
SCHOOLS: tuple[tuple[str, str], ...] = (
    ("школе №3", "школы №3"),
    ("школе №5", "школы №5"),
    ("школе №1", "школы №1"),
    ("гимназии", "гимназии"),
    ("школе №12", "школы №12"),
    ("садике №7", "садика №7"),
    ("садике «Солнышко»", "садика «Солнышко»"),
)

#: Town bus routes; 105 goes to Берёзовка.
ROUTES: tuple[str, ...] = ("1", "3", "5", "7", "9", "12", "14", "21", "105", "110")

#: Landmarks people put next to a street.
LANDMARKS: tuple[str, ...] = (
    "у школы",
    "возле поликлиники",
    "у остановки",
    "напротив Пятёрочки",
    "у Магнита",
    "около детского сада",
    "возле аптеки",
    "у рынка",
    "за гаражами",
    "у почты",
)


#: Local communities, channels and the news site: key, network, owner id, Telegram handle, name, followers,
#: root posts a day, mean comments per post, share of posts written by citizens, home territory.
# fmt: off
LOCAL_OUTLETS: tuple[tuple[str, str, str, str, str, int, float, float, float, str | None], ...] = (
    ("podslushano", "vk", "-218430101", "", "Подслушано Заречинск", 38_000, 34, 24, 0.88, None),
    ("typical", "vk", "-218430102", "", "Типичный Заречинск", 24_000, 17, 18, 0.7, None),
    ("online", "vk", "-218430103", "", "Заречинск Онлайн | Новости", 15_000, 9, 9, 0.15, None),
    ("berezovka", "vk", "-218430104", "", "Берёзовка — наше село", 900, 0.5, 4, 0.9, "s-berezovka"),
    ("tg-live", "tg", "-1001843000101", "zarechinsk_live", "Заречинск Live", 12_000, 11, 11, 0.25, None),
    ("tg-chp", "tg", "-1001843000102", "chp_zarechinsk", "ЧП Заречинск", 9_000, 6, 12, 0.3, None),
    ("ok-group", "ok", "70000001843120", "", "Заречинск — наш город", 7_500, 8, 9, 0.75, None),
    ("web", "web", "vesti-zarechinsk.example", "", "Вести Заречинска", 0, 8, 0, 0.0, None),
)
# fmt: on


@dataclass(frozen=True)
class Street:
    """A street of one territory with the word forms people use."""

    name: str  # as in the profile
    territory: str
    nominative: str  # "ул. Садовая" / "проспект Победы"
    bare: str  # "Садовая" / "пр-т Победы"
    locative: str  # "Садовой" / "Ленина" / "проспекте Победы" (after "на")
    typed: bool  # has its own type word (проспект, переулок...)
    shared: bool  # the same name exists in another territory


@dataclass(frozen=True)
class Outlet:
    """A page, community, channel or site that items are posted on."""

    key: str
    network: str  # vk | tg | ok | web
    owner: str  # the network's id of the outlet
    name: str
    url: str  # base URL for item links
    followers: int
    page_id: str | None  # profile page id for official pages
    roots_per_day: float
    comments_mean: float  # mean comments per root post
    citizen_share: float  # share of root posts written by citizens (the rest is news)
    territory: str | None = None  # a local outlet (a village group)


@dataclass
class Authors:
    """A pool of citizen accounts of one network with a heavy-tailed activity."""

    ids: list[int]
    names: list[str]
    cum_weights: list[float] = field(default_factory=list)

    def pick(self, rng: random.Random) -> tuple[int, str]:
        """Return one (raw id, display name), active users more often."""
        i = rng.choices(range(len(self.ids)), cum_weights=self.cum_weights)[0]
        return self.ids[i], self.names[i]

    def distinct(self, rng: random.Random, count: int) -> list[tuple[int, str]]:
        """Return `count` distinct accounts."""
        picks = rng.sample(range(len(self.ids)), count)
        return [(self.ids[i], self.names[i]) for i in picks]


def street_forms(name: str, territory: str, shared: bool) -> Street:
    """Return the word forms of a street name as written in the profile."""
    if name in TYPED_STREETS:
        loc, short = TYPED_STREETS[name]
        return Street(name, territory, name, short, loc, True, shared)
    if name.endswith("ая"):
        loc = name[:-2] + "ой"
    elif name.endswith("яя"):
        loc = name[:-2] + "ей"
    else:
        loc = name
    return Street(name, territory, f"ул. {name}", name, loc, False, shared)


def _person(rng: random.Random, network: str) -> str:
    """Return a plausible display name for a citizen account."""
    female = rng.random() < 0.56
    first = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
    last = rng.choice(SURNAMES)
    if female:
        last = last[:-1] + "ва" if last.endswith("в") else last + "а"
    if network == "tg" and rng.random() < 0.45:
        return rng.choice(NICKNAMES)
    if network == "ok" and female and rng.random() < 0.3:
        maiden = rng.choice(SURNAMES)
        maiden = maiden[:-1] + "ва" if maiden.endswith("в") else maiden + "а"
        return f"{first} {last} ({maiden})"
    return f"{first} {last}"


def make_authors(rng: random.Random, network: str, size: int) -> Authors:
    """Return a pool of `size` distinct accounts of `network` with Zipf-like activity."""
    spans = {
        "vk": (100_000, 890_000_000),
        "tg": (100_000_000, 7_400_000_000),
        "ok": (510_000_000_000, 599_999_999_999),
    }
    low, high = spans[network]
    ids: list[int] = []
    seen: set[int] = set()
    while len(ids) < size:
        value = rng.randint(low, high)
        if value not in seen:
            seen.add(value)
            ids.append(value)
    names = [_person(rng, network) for _ in ids]
    total = 0.0
    cum: list[float] = []
    for rank in range(1, size + 1):
        total += 1.0 / rank**0.85
        cum.append(total)
    return Authors(ids, names, cum)


@dataclass
class World:
    """Everything the generator draws from: territories, streets, outlets, authors."""

    profile: Profile
    streets: dict[str, list[Street]]  # territory id → streets
    outlets: dict[str, Outlet]
    authors: dict[str, Authors]

    def territory_name(self, territory: str) -> str:
        """Return the display name of a territory id."""
        node = self.profile.territory(territory)
        return node.name if node else territory


def _outlets(profile: Profile) -> dict[str, Outlet]:
    """Return the official pages (from the profile) and the local media with their activity."""
    pages = {p.id: p for p in profile.pages}

    def page(pid: str, rate: float, comments: float) -> Outlet:
        p = pages[pid]
        owner = p.owner_id or pid
        if p.network == "vk":
            base = f"https://vk.com/wall{owner}_"
        elif p.network == "tg":
            base = p.url.rstrip("/") + "/"
        else:
            base = p.url.rstrip("/") + "/topic/"
        return Outlet(pid, p.network, owner, p.name, base, p.followers or 1000, pid, rate, comments, 0.0)

    out = [
        page("vk-admin", 3.5, 12.0),
        page("tg-admin", 2.5, 5.0),
        page("ok-admin", 1.5, 6.0),
        page("vk-head", 0.8, 18.0),
        page("vk-zhkh", 1.0, 6.0),
        page("vk-edu", 0.7, 4.0),
        page("vk-severny", 0.0, 3.0),  # posts scheduled explicitly (a lagging визитка)
        page("ok-berezovka", 0.0, 2.0),  # silent for the whole stream
    ]
    for key, network, owner, handle, name, followers, rate, comments, citizens, territory in LOCAL_OUTLETS:
        base = {
            "vk": f"https://vk.com/wall{owner}_",
            "tg": f"https://t.me/{handle}/",
            "ok": f"https://ok.ru/group/{owner}/topic/",
            "web": f"https://{owner}/news/",
        }[network]
        out.append(
            Outlet(key, network, owner, name, base, followers, None, rate, comments, citizens, territory)
        )
    return {o.key: o for o in out}


def build_world(profile: Profile, rng: random.Random) -> World:
    """Return the world for `profile` (the demo profile); `rng` draws the author pools."""
    counts: dict[str, int] = {}
    for node in profile.walk():
        for name in node.streets:
            counts[name] = counts.get(name, 0) + 1
    streets = {
        node.id: [street_forms(name, node.id, counts[name] > 1) for name in node.streets]
        for node in profile.walk()
        if node.streets
    }
    authors = {
        "vk": make_authors(rng, "vk", 3200),
        "tg": make_authors(rng, "tg", 1100),
        "ok": make_authors(rng, "ok", 900),
    }
    return World(profile, streets, _outlets(profile), authors)
