"""Assemble citizens', media and official texts from the phrase lists, with places and realistic noise."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

from crawlers.demo import phrases as ph
from crawlers.demo.texts import Problem, SectorTexts
from crawlers.demo.world import AREA_PHRASES, AREA_TAGS, LANDMARKS, ROUTES, SCHOOLS, Street, World

_SLOT = re.compile(r"\{(\w+)\}")
_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_PUNCT = re.compile(r"\s+([,.!?:;)])")
_DOUBLE_COMMA = re.compile(r",\s*([,.!?])")
_LEAD_PUNCT = re.compile(r"^[\s,.:;]+")
_PUNCT_DOT = re.compile(r"([?!])\.")
_WORD = re.compile(r"[а-яё]{5,}")
_HAS_TIME = re.compile(r"\b(?:втор|трет|лет|год|месяц|недел|час|прошл)", re.IGNORECASE)
_VK_MARKUP = re.compile(r"\[(?:id|club|public)\d+\|([^\]]+)\]")

_MONTHS = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)

#: Small word swaps that make a copied complaint a near-duplicate.
_SWAPS: tuple[tuple[str, str], ...] = (
    ("опять", "снова"),
    ("уже неделю", "целую неделю"),
    ("третий день", "уже третий день"),
    ("когда сделают?", "когда уже сделают??"),
    ("огромная", "здоровенная"),
    ("не вывозят", "не забирают"),
    ("не работает", "не фурычит"),
    ("сколько можно", "доколе"),
    ("нет", "нету"),
)

_DUP_PREFIXES: tuple[str, ...] = (
    "Дублирую:",
    "Пишу ещё раз!",
    "Присоединяюсь.",
    "Соседи просят опубликовать:",
    "Тоже хочу пожаловаться.",
    "",
)
_DUP_TAILS: tuple[str, ...] = (
    "Поддержите, чтобы увидели!",
    "Присоединяюсь к жалобе",
    "Очень надо решить!",
    "Сделайте репост",
    "Соседи подтвердят",
    "",
)
_ME_TOO: tuple[str, ...] = ("И у нас", "У нас тоже", "Подтверждаю,", "Та же беда,", "Аналогично,", "Да,")
_REMINDERS: tuple[str, ...] = (
    "Прошло {n} дня, а {place} как было: {core}. Никто не пришёл",
    "Напоминаю: {place} {core}. Ответа нет",
    "Ну что, администрация? {place} до сих пор {core}",
    "{n} дня назад писали, {place} {core} до сих пор. Это нормально?",
)
_REPOST_PREFIXES: tuple[str, ...] = (
    "Пишет подписчица:",
    "Пишет подписчик:",
    "От подписчика:",
    "Жалоба жителей:",
)


def month_day(when: datetime) -> str:
    """Return a Russian date like "28 октября"."""
    return f"{when.day} {_MONTHS[when.month - 1]}"


def tidy(text: str) -> str:
    """Collapse spaces and fix spacing around punctuation left by empty slots."""
    text = _SPACES.sub(" ", text)
    text = _SPACE_PUNCT.sub(r"\1", text)
    text = _DOUBLE_COMMA.sub(r"\1", text)
    text = _LEAD_PUNCT.sub("", text)
    text = _PUNCT_DOT.sub(r"\1", text)
    return text.strip()


def plain_mentions(text: str) -> str:
    """Return `text` with VK mention markup ("[club1|Администрация]") replaced by the name."""
    return _VK_MARKUP.sub(r"\1", text)


def capitalise(text: str) -> str:
    """Return `text` with its first letter upper-cased."""
    return text[:1].upper() + text[1:] if text else text


class Writer:
    """Writes one message at a time; remembers the place the last message mentioned."""

    def __init__(self, rng: random.Random, world: World) -> None:
        self.rng = rng
        self.world = world
        self.territory: str | None = None  # territory the last message mentions
        self.street: str | None = None  # street (profile name) the last message mentions
        self._unique = {
            tid: [s for s in streets if not s.shared] or streets for tid, streets in world.streets.items()
        }
        self._all_unique = [s for streets in self._unique.values() for s in streets]

    # ---- places -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the place of the previous message."""
        self.territory = None
        self.street = None

    def house(self) -> str:
        """Return a house number as people write it ("15", "12а", "7к2")."""
        rng = self.rng
        number = min(int(rng.lognormvariate(2.2, 0.9)) + 1, 140)
        roll = rng.random()
        if roll < 0.08:
            return f"{number}а"
        if roll < 0.12:
            return f"{number}к{rng.randint(1, 3)}"
        if roll < 0.14:
            return f"{number}/{rng.randint(1, 4)}"
        return str(number)

    def area(self, territory: str) -> str:
        """Return "in <territory>" as people say it and remember the territory."""
        self.territory = territory
        return self.rng.choice(AREA_PHRASES[territory])

    def street_phrase(
        self, street: Street, house: str | None, *, landmark: bool = False, yard: bool = True
    ) -> str:
        """Return a street place phrase ("на Садовой 3", "ул. Ленина, д. 15"); yard allows "во дворе"."""
        rng = self.rng
        self.territory = street.territory
        self.street = street.name
        h = house or ""
        if street.typed:
            forms = [f"на {street.locative} {h}", f"{street.bare} {h}", f"на {street.bare}, {h}"]
            if not h:
                forms = [f"на {street.locative}", f"на {street.bare}"]
        elif h:
            forms = [
                f"на ул. {street.name} {h}",
                f"на ул. {street.name}, д. {h}",
                f"на {street.locative} {h}",
                f"на {street.locative}, {h}",
                f"ул. {street.name} {h}",
                f"у дома {h} на {street.locative}",
                f"на улице {street.locative} {h}",
            ]
            if yard:
                forms.append(f"во дворе дома {h} по {street.locative}")
        else:
            forms = [f"на {street.locative}", f"на ул. {street.name}", f"на улице {street.locative}"]
        phrase = tidy(rng.choice(forms)).rstrip(",")
        if landmark:
            phrase = f"{phrase} {rng.choice(LANDMARKS)}"
        if rng.random() < 0.15:
            phrase = phrase.lower()
        if street.shared:
            roll = rng.random()
            tag = rng.choice(AREA_TAGS[street.territory])
            if roll < 0.45:
                phrase = f"{rng.choice(AREA_PHRASES[street.territory])} {phrase}"
            elif roll < 0.75:
                phrase = f"{phrase} ({tag})"
            else:
                phrase = f"{phrase}, {tag}"
        return phrase

    def short_address(self, street: Street, house: str | None) -> str:
        """Return a bare address ("Садовая 3") for the end of a message."""
        self.territory = street.territory
        self.street = street.name
        text = f"{street.bare} {house or ''}".strip()
        if self.rng.random() < 0.4 and not street.typed:
            text = f"ул. {text}"
        if street.shared:
            text = f"{text}, {self.rng.choice(AREA_TAGS[street.territory])}"
        return text

    def pick_street(self, territory: str | None = None, *, unique: bool = True) -> Street:
        """Return a random street of `territory` (any territory when None), unique names first."""
        if territory is None:
            return self.rng.choice(self._all_unique)
        pool = self._unique[territory] if unique else self.world.streets[territory]
        return self.rng.choice(pool)

    # ---- slots ----------------------------------------------------------------------------------

    def fill(self, template: str, *, territory: str | None, when: datetime, area_p: float = 0.7) -> str:
        """Fill the slots of `template`; {area} is said with probability `area_p`."""
        rng = self.rng
        school = rng.choice(SCHOOLS)
        streets: list[Street] = []

        def value(match: re.Match[str]) -> str:
            slot = match.group(1)
            if slot == "area":
                return self.area(territory) if territory and rng.random() < area_p else ""
            if slot in ("street", "street2"):
                street = self.pick_street(territory if territory and territory in self._unique else None)
                while streets and street.name == streets[0].name and len(self._all_unique) > 1:
                    street = self.pick_street(None)
                streets.append(street)
                if self.territory is None:
                    self.territory = street.territory
                    self.street = street.name
                return street.nominative
            if slot == "street_loc":
                return self.street_phrase(self.pick_street(territory), None)
            if slot == "route":
                return "105" if territory == "s-berezovka" else rng.choice(ROUTES[:8])
            if slot == "school_loc":
                return school[0]
            if slot == "school_gen":
                return school[1]
            if slot == "date":
                return month_day(when + timedelta(days=rng.randint(1, 6)))
            if slot == "n":
                return str(rng.randint(2, 5))
            if slot == "town":
                return "Заречинск"
            return match.group(0)

        return _SLOT.sub(value, template)

    # ---- noise ----------------------------------------------------------------------------------

    def typo(self, text: str) -> str:
        """Return `text` with one typo in a random long lowercase word."""
        words = list(_WORD.finditer(text))
        if not words:
            return text
        m = self.rng.choice(words)
        w = m.group(0)
        i = self.rng.randrange(1, len(w) - 1)
        kind = self.rng.random()
        if kind < 0.4:
            w2 = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
        elif kind < 0.7:
            w2 = w[:i] + w[i + 1 :]
        else:
            w2 = w[:i] + w[i] + w[i:]
        return text[: m.start()] + w2 + text[m.end() :]

    def noise(self, text: str, *, anger: float = 0.5, emoji: tuple[str, ...] = ph.EMOJI_ANGRY) -> str:
        """Return `text` the way people type it: case, punctuation, ё, emoji, caps (anger in 0..1)."""
        rng = self.rng
        if rng.random() < 0.5:
            text = text.replace("ё", "е")
        roll = rng.random()
        if roll < 0.02 + 0.06 * anger and "[" not in text:
            text = text.upper()
        elif roll < 0.35:
            text = text[:1].lower() + text[1:]
        if rng.random() < 0.2:
            text = text.replace(", ", " ")
        if rng.random() < 0.25:
            text = text.rstrip(".!?")
        elif rng.random() < 0.2 + 0.3 * anger:
            text = text.replace("?", "???").replace("!", "!!!")
        if rng.random() < 0.15 + 0.25 * anger:
            text = f"{text} {rng.choice(emoji)}"
        return text

    # ---- messages -------------------------------------------------------------------------------

    def complaint(
        self,
        problem: Problem,
        *,
        territory: str | None,
        when: datetime,
        street: Street | None = None,
        house: str | None = None,
        area_p: float = 0.5,
        anger: float = 0.5,
        sector: str | None = None,
        insist: bool = False,
    ) -> str:
        """Return a citizen's complaint about `problem`, at `street` when given, else maybe an area.

        insist: the citizen always asks for something ("когда сделают?"), as most written complaints do.
        """
        rng = self.rng
        self.reset()
        core = self.fill(rng.choice(problem.cores), territory=territory, when=when)
        if rng.random() < 0.1:
            core = self.typo(core)
        dur = rng.choice(ph.DURATIONS) if problem.lasting and not _HAS_TIME.search(core) else ""
        demands = ph.DEMANDS + ph.DEMANDS_ZHKH if sector == "ЖКХ" else ph.DEMANDS
        demand = rng.choice([d for d in demands if d] if insist else demands)
        area_only = False
        if street is not None:
            place = self.street_phrase(
                street, house, landmark=house is None and rng.random() < 0.5, yard=problem.place == "house"
            )
        elif territory and rng.random() < (area_p if problem.place != "none" else area_p / 3):
            place = self.area(territory)
            area_only = True
        else:
            place = ""
        weights = (4, 3, 0, 1.5, 2, 0, 0.5, 0, 1) if insist else (4, 3, 2, 1.5, 2, 1, 0.5, 1.5, 1)
        frame = rng.choices(range(9), weights=weights)[0]
        if area_only and rng.random() < 0.6:
            lead = rng.choice(("У нас", "", "Вот"))
            text = f"{lead} {place} {dur} {core}. {capitalise(demand)}"
        elif frame == 2 and street is not None:
            text = f"{core} {dur}, {self.short_address(street, house)}"
        elif frame == 6 and street is not None and house and not street.typed:
            text = (
                f"Уважаемая администрация! Жители дома {house} по ул. {street.name} просят обратить"
                f" внимание: {core} {dur}. Просим принять меры."
            )
        elif frame == 1 and place:
            text = f"{capitalise(place)} {core} {dur}. {capitalise(demand)}"
        elif frame == 3:
            text = f"{rng.choice(ph.ADDRESSEES)}, {place} {core}! {capitalise(demand)}"
        elif frame == 4:
            text = f"{rng.choice(ph.OPENERS)} {capitalise(place)} {core} {dur}. {capitalise(demand)}"
        elif frame == 5:
            text = f"Опять {core} {place} {rng.choice(ph.EMOJI_ANGRY)}"
        elif frame == 7:
            text = f"{core.upper()}!!! {place}"
        elif frame == 8 and place:
            text = f"{capitalise(place)}: {core}. {dur} {demand}"
        else:
            text = f"{dur} {core} {place}, {demand}"
        return self.noise(capitalise(tidy(text)), anger=anger)

    def me_too(self, problem: Problem, *, street: Street, house: str | None, when: datetime) -> str:
        """Return a neighbour's confirmation of the same problem at the same street."""
        self.reset()
        core = self.fill(self.rng.choice(problem.cores), territory=street.territory, when=when)
        place = self.street_phrase(street, house)
        text = f"{self.rng.choice(_ME_TOO)} {place} {core}"
        if self.rng.random() < 0.6:
            text = f"{text}. {capitalise(self.rng.choice([d for d in ph.DEMANDS if d]))}"
        return self.noise(capitalise(tidy(text)), anger=0.4)

    def reminder(self, problem: Problem, *, street: Street, house: str | None, when: datetime) -> str:
        """Return the author's reminder that nothing was done."""
        self.reset()
        core = self.fill(self.rng.choice(problem.cores), territory=street.territory, when=when)
        place = self.street_phrase(street, house)
        template = self.rng.choice(_REMINDERS)
        text = template.format(n=self.rng.randint(2, 4), place=place, core=core)
        return self.noise(capitalise(tidy(text)), anger=0.8)

    def near_duplicate(self, text: str) -> str:
        """Return a copy of a complaint with small changes (prefix, tail, a word, punctuation)."""
        rng = self.rng
        for old, new in rng.sample(_SWAPS, 3):
            if old in text and rng.random() < 0.6:
                text = text.replace(old, new, 1)
        prefix = rng.choice(_DUP_PREFIXES)
        tail = rng.choice(_DUP_TAILS)
        text = tidy(f"{prefix} {capitalise(text) if rng.random() < 0.6 else text} {tail}")
        if rng.random() < 0.3:
            text = text.replace("!", "").replace("?", "")
        return text

    def repost(self, text: str) -> str:
        """Return a community's repost of a citizen's complaint."""
        return f"{self.rng.choice(_REPOST_PREFIXES)}\n{text}\n\n{self.rng.choice(ph.HASHTAGS)}"

    def question(self, sector: SectorTexts, *, territory: str | None, when: datetime) -> tuple[str, str]:
        """Return (topic, a citizen's question) of `sector`."""
        self.reset()
        topic, template = self.rng.choice(sector.questions)
        text = self.fill(template, territory=territory, when=when)
        if self.rng.random() < 0.2:
            text = (
                f"{self.rng.choice(('Подскажите,', 'Вопрос:', 'Люди, кто знает?', 'Здравствуйте!'))} {text}"
            )
        return topic, self.noise(tidy(text), anger=0.2, emoji=ph.EMOJI_SAD)

    def suggestion(self, sector: SectorTexts, *, territory: str | None, when: datetime) -> tuple[str, str]:
        """Return (topic, a citizen's suggestion) of `sector` (a question if it has none)."""
        if not sector.suggestions:
            return self.question(sector, territory=territory, when=when)
        self.reset()
        topic, template = self.rng.choice(sector.suggestions)
        text = self.fill(template, territory=territory, when=when)
        return topic, self.noise(tidy(text), anger=0.1, emoji=ph.EMOJI_HAPPY)

    def thanks(self, sector: SectorTexts, *, territory: str | None, when: datetime) -> tuple[str, str]:
        """Return (topic, a citizen's gratitude) of `sector` (a question if it has none)."""
        if not sector.thanks:
            return self.question(sector, territory=territory, when=when)
        self.reset()
        topic, template = self.rng.choice(sector.thanks)
        text = self.fill(template, territory=territory, when=when)
        if territory and self.rng.random() < 0.4:
            text = f"{text} {self.area(territory)}"
        return topic, self.noise(tidy(text), anger=0.0, emoji=ph.EMOJI_HAPPY)

    def status(self, sector: str) -> str | None:
        """Return a citizen's update on calling the sector's service, or None when it has no service."""
        services = ph.SERVICES.get(sector)
        if not services:
            return None
        self.reset()
        rng = self.rng
        who = rng.choice(("Звонила", "Звонил", "Позвонила", "Я звонил", "Соседка звонила"))
        promises = ph.PROMISES + ph.CREW_PROMISES if sector in ph.CREW_SECTORS else ph.PROMISES
        text = f"{who} {rng.choice(services)}, {rng.choice(promises)}"
        return self.noise(tidy(text), anger=0.2, emoji=ph.EMOJI_SAD)

    def chatter(self) -> str:
        """Return a comment without a sector."""
        self.reset()
        text = self.rng.choice(ph.CHATTER)
        return self.noise(text, anger=0.3, emoji=ph.EMOJI_HAPPY + ph.EMOJI_ANGRY)

    def news(
        self, sector: SectorTexts, *, territory: str | None, when: datetime, style: str
    ) -> tuple[str, str] | None:
        """Return (topic, a post) from `sector`'s news in `style` (official, media, web), or None."""
        if not sector.news:
            return None
        self.reset()
        topic, title, body = self.rng.choice(sector.news)
        title = self.fill(title, territory=territory, when=when)
        body = self.fill(body, territory=territory, when=when)
        return topic, self.format_post(title, body, style=style)

    def format_post(self, title: str, body: str, *, style: str) -> str:
        """Return a title and body laid out as an official page, a local channel or a news site does."""
        rng = self.rng
        if style == "web":
            body_html = body.replace("«", "&laquo;").replace("»", "&raquo;").replace(" — ", "&nbsp;&mdash; ")
            parts = [f"<h1>{title}</h1>", f"<p>{body_html}</p>"]
            if rng.random() < 0.5:
                parts.append("<p><em>Фото: пресс-служба администрации</em></p>")
            if rng.random() < 0.3:
                parts.append(
                    '<p>Читайте также: <a href="https://vesti-zarechinsk.example/news/">все новости</a></p>'
                )
            return "<br>".join(parts) if rng.random() < 0.3 else "\n".join(parts)
        if style == "official":
            mark = rng.choice(("❗️", "📢", "ℹ️", "", "", ""))
            text = f"{mark} {title}\n\n{body}".strip()
            if rng.random() < 0.3:
                text += "\n\n#АдминистрацияЗаречинска #Заречинск"
            return text
        mark = rng.choice(("⚡️", "🔥", "❗", "", ""))
        text = f"{mark} {title.upper() if rng.random() < 0.3 else title}\n\n{body}".strip()
        if rng.random() < 0.5:
            text += f"\n\n{rng.choice(ph.PROMO_TAILS)}"
        return text
