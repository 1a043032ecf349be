"""The sample municipality profile: loads, is consistent, routes every ЦУР sector."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from crawlers.demo import DEMO_PROFILE_PATH
from crawlers.demo.texts import SECTOR_TEXTS, SECTORS
from crawlers.demo.world import AREA_PHRASES, POPULATION, street_forms
from index.profile import Profile, RoutingRule, load_profile
from tests.conftest import require_shared_data


@pytest.fixture(scope="module")
def profile() -> Profile:
    return load_profile(DEMO_PROFILE_PATH)


def _first_rule(profile: Profile, sector: str) -> RoutingRule | None:
    """The first rule that matches a post with only a sector known (no territory, no keywords)."""
    for rule in profile.routing:
        if (
            rule.sector in (None, sector)
            and rule.territory is None
            and not rule.keywords
            and rule.topic is None
        ):
            return rule
    return None


def test_profile_loads_with_a_fictional_municipality(profile: Profile) -> None:
    assert profile.name == "городской округ Заречинск"
    assert profile.timezone == "Europe/Moscow"
    assert "Заречинск" in profile.keywords


def test_territory_tree_has_districts_and_settlements_with_streets(profile: Profile) -> None:
    nodes = list(profile.walk())
    districts = [t for t in nodes if t.level == "district"]
    settlements = [t for t in nodes if t.level == "settlement"]
    assert 4 <= len(districts) <= 6
    assert 4 <= len(settlements) <= 6
    for node in districts + settlements:
        assert node.aliases, node.id
        assert 10 <= len(node.streets) <= 25, node.id
        assert len(set(node.streets)) == len(node.streets), node.id
    # The same street name exists in two territories (a district and a village).
    counts = Counter(s for t in nodes for s in t.streets)
    assert counts["Ленина"] == 2
    assert set(POPULATION) == {t.id for t in districts + settlements}
    assert set(AREA_PHRASES) == set(POPULATION)
    assert min(POPULATION.values()) < 500  # one tiny village


def test_street_forms_follow_russian_grammar() -> None:
    assert street_forms("Садовая", "x", False).locative == "Садовой"
    assert street_forms("Весенняя", "x", False).locative == "Весенней"
    assert street_forms("Ленина", "x", False).locative == "Ленина"
    typed = street_forms("проспект Победы", "x", True)
    assert (typed.locative, typed.bare, typed.typed, typed.shared) == (
        "проспекте Победы",
        "пр-т Победы",
        True,
        True,
    )


def test_pages_cover_three_networks_and_categories(profile: Profile) -> None:
    networks = {p.network for p in profile.pages}
    assert networks == {"vk", "ok", "tg"}
    categories = {p.category for p in profile.pages}
    assert {"флагманский", "активный", "визитка"} <= categories
    owners = [p.owner_id for p in profile.pages]
    assert all(owners) and len(set(owners)) == len(owners)
    ids = {p.id for p in profile.pages}
    assert {"vk-admin", "ok-admin", "tg-admin", "vk-head", "vk-zhkh", "vk-edu"} <= ids
    assert profile.sources.vk_communities and profile.sources.tg_channels
    assert profile.sources.ok_groups and profile.sources.web_sites


def test_routing_references_existing_recipients(profile: Profile) -> None:
    recipients = {r.id for r in profile.recipients}
    assert all(r.head and r.email for r in profile.recipients)
    assert {rule.recipient for rule in profile.routing} <= recipients
    assert profile.default_recipient in recipients
    territories = {t.id for t in profile.walk()}
    assert {rule.territory for rule in profile.routing if rule.territory} <= territories
    assert {rule.sector for rule in profile.routing if rule.sector} <= set(SECTORS)


def test_every_sector_is_routed(profile: Profile) -> None:
    routed = {s: _first_rule(profile, s) for s in SECTORS}
    explicit = [s for s, rule in routed.items() if rule is not None]
    assert len(SECTORS) == 26
    assert len(explicit) >= 24  # only rare catch-alls fall to the default
    for sector, rule in routed.items():
        recipient = rule.recipient if rule else profile.default_recipient
        assert profile.recipient(recipient or "") is not None, sector
    assert routed["ЖКХ"] is not None and routed["ЖКХ"].recipient == "zhkh"
    assert routed["Мусор/Свалки/ТКО"] is not None and routed["Мусор/Свалки/ТКО"].recipient == "tko"


def test_sla_norms_and_officials(profile: Profile) -> None:
    assert profile.sla.first_answer_hours == {"normal": 8.0, "high": 4.0, "critical": 1.0}
    assert profile.sla.final_answer_days == 7
    assert profile.sla.warn_before_hours == 2.0
    assert profile.posting_norms == {"флагманский": 5, "активный": 3, "визитка": 1}
    assert {"глава округа Петров", "мэр", "замглавы по ЖКХ"} <= set(profile.officials)


def test_template_sectors_and_topics_match_the_rubricator() -> None:
    path = require_shared_data("cur-topics", "topic2big_topic.json")
    topic2group: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    assert set(SECTORS) == set(topic2group.values())
    for sector in SECTOR_TEXTS:
        topics = [p.topic for p in sector.problems]
        topics += [t for t, _ in sector.questions + sector.suggestions + sector.thanks]
        topics += [t for t, _, _ in sector.news]
        for topic in topics:
            assert topic2group.get(topic) == sector.sector, (sector.sector, topic)
