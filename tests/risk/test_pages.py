"""Official pages' health against hand-computed values: norm, ER, answers, tone, growth, requirements."""

from __future__ import annotations

from datetime import UTC, datetime

from index.models import FollowerCount, Kind, Metrics, OfficialPage, Tone
from index.profile import Profile
from index.sqlite import SqliteStore
from risk.pages import official_pages, page_norm, pages_health, requirements
from tests.factories import make_post

SINCE = datetime(2024, 3, 4, tzinfo=UTC)  # Monday
UNTIL = datetime(2024, 3, 11, tzinfo=UTC)
NOW = datetime(2024, 3, 12, 9, tzinfo=UTC)


def at(day: int, hour: int) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=UTC)


def _profile() -> Profile:
    page = OfficialPage(
        id="vk-admin",
        network="vk",
        name="Администрация",
        url="https://vk.com/adm",
        category="флагманский",
        contacts="приёмная +7 800 000-00-01, adm@adm.example",
        followers_history=[
            FollowerCount(at=at(4, 8), followers=1000),
            FollowerCount(at=at(10, 8), followers=1100),
        ],
    )
    quiet = OfficialPage(id="ok-quiet", network="ok", name="Тихая", url="https://ok.ru/q", norm_per_week=1)
    return Profile(name="Тестовск", pages=[page, quiet])


def _fill(store: SqliteStore) -> dict[str, str]:
    own1 = make_post(
        id="vk:1",
        page_id="vk-admin",
        is_official=True,
        published_at=at(4, 9),
        thread_id="vk:1",
        metrics=Metrics(views=1000, likes=10, reposts=5, comments=3),
    )
    own2 = make_post(
        id="vk:2",
        page_id="vk-admin",
        is_official=True,
        published_at=at(6, 9),
        thread_id="vk:2",
        metrics=Metrics(views=3000, likes=20, reposts=5, comments=2),
    )
    # Tuesday 05.03 10:00 Moscow complaint, answered at 12:00 Moscow: 2 working hours.
    c1 = make_post(
        id="vk:1:c1",
        page_id="vk-admin",
        parent_id="vk:1",
        thread_id="vk:1",
        kind=Kind.complaint,
        tone=Tone.negative,
        published_at=at(5, 7),
        author_name="Пётр Сидоров",
    )
    answer = make_post(
        id="vk:1:a1",
        page_id="vk-admin",
        parent_id="vk:1:c1",
        thread_id="vk:1",
        is_official=True,
        kind=Kind.information,
        tone=Tone.neutral,
        published_at=at(5, 9),
    )
    c2 = make_post(
        id="vk:1:c2",
        page_id="vk-admin",
        parent_id="vk:1",
        thread_id="vk:1",
        kind=Kind.question,
        tone=Tone.neutral,
        published_at=at(4, 12),
    )
    c3 = make_post(
        id="vk:2:c3",
        page_id="vk-admin",
        parent_id="vk:2",
        thread_id="vk:2",
        kind=Kind.information,
        tone=Tone.negative,
        aggression=0.7,
        published_at=at(6, 12),
    )
    late = make_post(
        id="vk:2:c4",
        page_id="vk-admin",
        parent_id="vk:2",
        thread_id="vk:2",
        kind=Kind.question,
        tone=Tone.neutral,
        published_at=at(11, 12),
    )  # after the period: not counted
    store.upsert_posts([own1, own2, c1, answer, c2, c3, late])
    return {"c2": c2.id}


def test_page_health_hand_computed(sqlite_store: SqliteStore) -> None:
    ids = _fill(sqlite_store)
    report = pages_health(sqlite_store, _profile(), SINCE, UNTIL, NOW)
    health = {p.page_id: p for p in report.pages}
    admin = health["vk-admin"]
    assert admin.norm_per_week == 5  # the profile's norm of «флагманский»
    assert (admin.posts, admin.posts_per_week, admin.norm_met) == (2, 2.0, False)
    assert admin.views == 4000 and admin.views_per_post == 2000.0
    assert admin.er_views == round(100 * 45 / 4000, 3)  # (10+5+3 + 20+5+2) / 4000 views
    assert admin.er_followers == round(100 * 22.5 / 1100, 3)  # reactions per post / newest subscribers
    assert admin.followers_growth == 100
    assert (admin.citizen_comments, admin.comments_needing_answer, admin.answered) == (3, 2, 1)
    assert admin.answered_share == 0.5 and admin.answer_median_hours == 2.0
    assert admin.negative_share == round(2 / 3, 4) and admin.aggressive_share == round(1 / 3, 4)
    assert admin.status == "problem"
    assert any("не реже 5 раз" in fix for fix in admin.fixes)
    assert [c.post_id for c in report.unanswered] == [ids["c2"]]
    assert report.unanswered_total == 1
    quiet = health["ok-quiet"]
    assert (quiet.posts, quiet.norm_per_week, quiet.norm_met, quiet.answered_share) == (0, 1, False, None)
    assert "не реже 1 раза" in quiet.fixes[0]


def test_requirements_pass_fail_and_unknown_never_a_fake_pass() -> None:
    page = OfficialPage(
        id="p",
        network="vk",
        name="П",
        url="u",
        contacts="только сайт",
        has_avatar=True,
        has_cover=False,
        verified=True,
    )
    checks = {r.key: r for r in requirements(page, citizen_comments=0)}
    assert checks["gosmetka"].status == "pass" and "по отметке сети" in checks["gosmetka"].detail
    assert checks["contacts"].status == "fail" and "телефон" in (checks["contacts"].fix or "")
    assert checks["avatar"].status == "pass"
    assert checks["cover"].status == "fail" and checks["cover"].fix
    assert checks["pos_widget"].status == "unknown" and checks["description"].status == "unknown"
    assert checks["comments_open"].status == "unknown"
    assert {r.key: r.status for r in requirements(page, citizen_comments=4)}["comments_open"] == "pass"
    closed = page.model_copy(update={"comments_open": False, "has_gosmetka": False})
    checks = {r.key: r for r in requirements(closed, citizen_comments=4)}
    assert checks["comments_open"].status == "fail" and checks["gosmetka"].status == "fail"


def test_stored_page_refreshes_the_profile_page(sqlite_store: SqliteStore) -> None:
    profile = _profile()
    fresh = OfficialPage(
        id="vk-admin",
        network="vk",
        name="Администрация",
        url="https://vk.com/adm",
        followers=1500,
        has_pos_widget=True,
    )
    sqlite_store.save_pages([fresh])
    pages = {p.id: p for p in official_pages(profile, sqlite_store.list_pages())}
    assert pages["vk-admin"].followers == 1500 and pages["vk-admin"].has_pos_widget is True
    assert pages["vk-admin"].contacts == profile.pages[0].contacts  # kept from the profile
    assert page_norm(pages["vk-admin"], profile) == 5 and page_norm(pages["ok-quiet"], profile) == 1
