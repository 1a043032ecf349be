"""Health of the official pages (госпаблики): posting against the norm, reach, engagement, answers to
citizens' comments, tone of the comments, subscriber growth and the formal requirements.

Definitions (also in docs/indicators.md):
- a page's own post: `page_id` is the page, `is_official`, no `parent_id`; a citizen comment: `page_id`
  is the page, not official, with a `parent_id`; an answer: an official message whose `parent_id` is
  the comment;
- posts per week = own posts in the period × 7 / days in the period; the norm is `norm_per_week` of the
  page (or the profile's `posting_norms` of its category);
- ER by views = (likes + reposts + comments) / views of the own posts with known views; ER by
  subscribers = the same reactions per post / subscribers (for networks without views);
- comments that need an answer: citizens' complaints and questions (by kind); answered share and the
  median time to answer in working hours are over those;
- negative / aggressive share: over every citizen comment (risk.conflicts rules);
- subscriber growth: the last minus the first known count in the period (follower history of the page,
  then the counts the page's own posts carried);
- requirements: pass / fail / unknown («неизвестно» when nothing tells, never a pass by default).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from index.models import Kind, OfficialPage, Post, as_utc
from index.profile import Profile
from index.store import PostQuery, Store
from risk.alerts import plural
from risk.conflicts import is_aggressive, is_negative
from risk.deadlines import calendar_for
from risk.indicators import engagement_of, iter_posts, share

#: Kinds of citizen comments that expect an answer from the page.
NEEDS_ANSWER = frozenset({Kind.complaint, Kind.question})
#: Category names of pages.
CATEGORIES = ("флагманский", "активный", "визитка")

Status = Literal["pass", "fail", "unknown"]
STATUS_NAMES: dict[str, str] = {"pass": "выполнено", "fail": "не выполнено", "unknown": "неизвестно"}
NETWORK_NAMES: dict[str, str] = {"vk": "ВКонтакте", "ok": "Одноклассники", "tg": "Telegram"}


class Requirement(BaseModel):
    """One requirement to an official page and whether it is met."""

    key: str
    title: str
    status: Status
    detail: str = ""
    fix: str | None = Field(default=None, description="Что исправить, если не выполнено или неизвестно")


class PageHealth(BaseModel):
    """The state of one official page over a period."""

    page_id: str
    name: str
    network: str
    url: str
    category: str
    norm_per_week: int
    posts: int = Field(description="Собственные публикации за период")
    posts_per_week: float
    norm_met: bool
    views: int = Field(description="Просмотры собственных публикаций")
    views_per_post: float | None
    likes: int
    reposts: int
    comments_on_posts: int = Field(description="Комментарии под публикациями по данным сети")
    er_views: float | None = Field(description="Вовлечённость по просмотрам, %")
    er_followers: float | None = Field(description="Вовлечённость по подписчикам на публикацию, %")
    followers: int | None
    followers_growth: int | None = Field(description="Прирост подписчиков за период")
    citizen_comments: int
    comments_needing_answer: int
    answered: int
    answered_share: float | None
    answer_median_hours: float | None = Field(description="Медиана времени ответа, рабочие часы")
    unanswered: int
    negative_share: float | None
    aggressive_share: float | None
    requirements: list[Requirement]
    fixes: list[str] = Field(description="Что исправить, по важности")
    status: Literal["ok", "attention", "problem"]


class UnansweredComment(BaseModel):
    """A citizen's question or complaint on an official page that the page did not answer."""

    post_id: str
    page_id: str
    page_name: str
    published_at: datetime
    age_hours: float = Field(description="Сколько часов без ответа (календарных)")
    kind: str | None
    text: str
    author: str | None
    url: str | None
    thread_id: str | None


def page_norm(page: OfficialPage, profile: Profile) -> int:
    """Return a page's posts-per-week norm: its own, else its category's, else 3."""
    if "norm_per_week" in page.model_fields_set or page.category not in profile.posting_norms:
        return page.norm_per_week
    return profile.posting_norms[page.category]


#: Fields the profile owns (how the centre classifies a page); the collectors refresh the others.
PROFILE_FIELDS = frozenset({"id", "network", "name", "url", "category", "norm_per_week"})


def official_pages(profile: Profile, stored: Sequence[OfficialPage]) -> list[OfficialPage]:
    """Return the profile's pages refreshed by their stored copies (collectors), then the other stored ones.

    The profile's classification (category, norm, name, url) wins; what a collector saw (subscribers,
    marks, description, contacts, requirements) wins when it is known.
    """
    by_id = {p.id: p for p in stored}
    out = []
    for page in profile.pages:
        fresh = by_id.pop(page.id, None)
        if fresh is None:
            out.append(page)
            continue
        update = {
            name: getattr(fresh, name)
            for name in type(page).model_fields
            if name not in PROFILE_FIELDS and getattr(fresh, name) not in (None, [])
        }
        out.append(page.model_copy(update=update))
    return out + sorted(by_id.values(), key=lambda p: p.id)


def _check(
    value: bool | None, detail_pass: str, detail_fail: str, fix: str
) -> tuple[Status, str, str | None]:
    """Return (status, detail, fix) of a boolean requirement."""
    if value is None:
        return "unknown", "нет данных", f"проверьте вручную: {fix}"
    return ("pass", detail_pass, None) if value else ("fail", detail_fail, fix)


def requirements(page: OfficialPage, citizen_comments: int) -> list[Requirement]:
    """Return the formal requirements to a page with pass / fail / unknown and what to fix."""
    out: list[Requirement] = []
    mark = page.has_gosmetka if page.has_gosmetka is not None else page.verified
    source = "" if page.has_gosmetka is not None or page.verified is None else " (по отметке сети)"
    status, detail, fix = _check(
        mark, f"есть{source}", f"нет{source}", "получите госметку «Госорганизация» через Госуслуги"
    )
    out.append(Requirement(key="gosmetka", title="Госметка", status=status, detail=detail, fix=fix))
    if page.description is None:
        out.append(
            Requirement(
                key="description",
                title="Описание",
                status="unknown",
                detail="нет данных",
                fix="проверьте описание: чем занимается орган, адрес, часы работы",
            )
        )
    else:
        ok = len(page.description.strip()) >= 20
        out.append(
            Requirement(
                key="description",
                title="Описание",
                status="pass" if ok else "fail",
                detail="заполнено" if ok else "слишком короткое",
                fix=None if ok else "заполните описание: чем занимается орган, адрес, часы работы",
            )
        )
    if page.contacts is None:
        out.append(
            Requirement(
                key="contacts",
                title="Контакты",
                status="unknown",
                detail="нет данных",
                fix="проверьте, что указаны телефон и электронная почта",
            )
        )
    else:
        has_phone = (
            any(ch.isdigit() for ch in page.contacts) and sum(ch.isdigit() for ch in page.contacts) >= 6
        )
        has_mail = "@" in page.contacts
        ok = has_phone and has_mail
        missing = [n for n, present in (("телефон", has_phone), ("e-mail", has_mail)) if not present]
        out.append(
            Requirement(
                key="contacts",
                title="Контакты",
                status="pass" if ok else "fail",
                detail="телефон и e-mail указаны" if ok else "не хватает: " + ", ".join(missing),
                fix=None if ok else "добавьте в контакты " + " и ".join(missing),
            )
        )
    for key, title, value, fix in (
        ("avatar", "Аватар", page.has_avatar, "загрузите аватар с гербом или логотипом органа"),
        ("cover", "Обложка", page.has_cover, "загрузите обложку"),
        (
            "pos_widget",
            "Виджеты ПОС",
            page.has_pos_widget,
            "подключите виджеты ПОС «Сообщить о проблеме» и «Высказать мнение»",
        ),
    ):
        status, detail, fix_text = _check(value, "есть", "нет", fix)
        out.append(Requirement(key=key, title=title, status=status, detail=detail, fix=fix_text))
    if page.comments_open is not None:
        status, detail, fix_text = _check(page.comments_open, "открыты", "закрыты", "откройте комментарии")
    elif citizen_comments:
        status, detail, fix_text = "pass", f"открыты: {citizen_comments} комментариев жителей за период", None
    else:
        status, detail, fix_text = "unknown", "нет данных", "проверьте, что комментарии открыты"
    out.append(
        Requirement(key="comments_open", title="Комментарии", status=status, detail=detail, fix=fix_text)
    )
    return out


def _followers_growth(
    page: OfficialPage, own: Sequence[Post], since: datetime, until: datetime
) -> int | None:
    """Return the last minus the first known subscriber count within [since, until), or None."""
    points = [(h.at, h.followers) for h in page.followers_history if since <= h.at < until]
    points += [(p.published_at, p.metrics.followers) for p in own if p.metrics.followers is not None]
    if len(points) < 2:
        return None
    points.sort(key=lambda t: t[0])
    return int(points[-1][1]) - int(points[0][1])


def _current_followers(page: OfficialPage, own: Sequence[Post]) -> int | None:
    """Return the newest known subscriber count of a page."""
    candidates: list[tuple[datetime, int]] = [(h.at, h.followers) for h in page.followers_history]
    candidates += [(p.published_at, p.metrics.followers) for p in own if p.metrics.followers is not None]
    if candidates:
        return max(candidates, key=lambda t: t[0])[1]
    return page.followers


def _answers(posts: Iterable[Post]) -> dict[str, datetime]:
    """Return the first official answer time of each message id the page answered."""
    out: dict[str, datetime] = {}
    for post in posts:
        if post.is_official and post.parent_id:
            prior = out.get(post.parent_id)
            if prior is None or post.published_at < prior:
                out[post.parent_id] = post.published_at
    return out


def _needs_answer(post: Post) -> bool:
    return post.kind in NEEDS_ANSWER


def page_posts(store: Store, page: OfficialPage, since: datetime, until: datetime) -> list[Post]:
    """Return every message on the page published in [since, until), oldest first."""
    return list(iter_posts(store, PostQuery(page_id=page.id, since=since, until=until, newest_first=False)))


def assess_page(
    page: OfficialPage,
    posts: Sequence[Post],
    profile: Profile,
    since: datetime,
    until: datetime,
    now: datetime,
) -> tuple[PageHealth, list[Post]]:
    """Return a page's health over [since, until) and its unanswered comments (oldest first).

    `posts` are the page's messages from `since` on (answers may come after `until`).
    """
    norms = profile.indicators
    own = [p for p in posts if p.is_official and p.parent_id is None and p.published_at < until]
    comments = [p for p in posts if not p.is_official and p.parent_id is not None and p.published_at < until]
    answers = _answers(p for p in posts if p.published_at <= now)
    needing = [c for c in comments if _needs_answer(c)]
    answered = [c for c in needing if c.id in answers]
    unanswered = [c for c in needing if c.id not in answers]
    calendar = calendar_for(profile, None)
    hours = [max(0.0, calendar.working_hours_between(c.published_at, answers[c.id])) for c in answered]
    days = max((until - since).total_seconds() / 86400.0, 1e-9)
    per_week = round(len(own) * 7.0 / days, 2)
    norm = page_norm(page, profile)
    with_views = [p for p in own if p.metrics.views]
    views = sum(int(p.metrics.views or 0) for p in own)
    reactions_viewed = sum(engagement_of(p) for p in with_views)
    views_known = sum(int(p.metrics.views or 0) for p in with_views)
    followers = _current_followers(page, own)
    er_followers = (
        round(100.0 * sum(engagement_of(p) for p in own) / len(own) / followers, 3)
        if own and followers
        else None
    )
    answered_share = share(len(answered), len(needing))
    negative_share = share(sum(is_negative(c) for c in comments), len(comments))
    reqs = requirements(page, len(comments))
    fixes: list[str] = []
    if per_week < norm:
        times = plural(norm, "раза", "раз", "раз")
        fixes.append(f"публиковать не реже {norm} {times} в неделю (сейчас {per_week:g})")
    if unanswered:
        fixes.append(f"ответить жителям: вопросов и жалоб без ответа — {len(unanswered)}")
    if answered_share is not None and answered_share < norms.page_min_answered_share:
        fixes.append(
            f"поднять долю ответов на вопросы и жалобы до {round(norms.page_min_answered_share * 100)} %"
        )
    median_hours = round(statistics.median(hours), 2) if hours else None
    if median_hours is not None and median_hours > norms.page_answer_hours:
        fixes.append(
            f"отвечать быстрее: медиана {median_hours:g} рабочих ч при норме {norms.page_answer_hours:g}"
        )
    if negative_share is not None and negative_share > norms.page_max_negative_share:
        fixes.append("разобрать причины негатива в комментариях")
    fixes += [r.fix for r in reqs if r.status == "fail" and r.fix]
    failed = sum(r.status == "fail" for r in reqs)
    status: Literal["ok", "attention", "problem"]
    if (
        per_week < norm
        or failed >= 2
        or (answered_share is not None and answered_share < norms.page_min_answered_share / 2)
    ):
        status = "problem"
    elif fixes:
        status = "attention"
    else:
        status = "ok"
    health = PageHealth(
        page_id=page.id,
        name=page.name,
        network=page.network,
        url=page.url,
        category=page.category,
        norm_per_week=norm,
        posts=len(own),
        posts_per_week=per_week,
        norm_met=per_week >= norm,
        views=views,
        views_per_post=round(views_known / len(with_views), 1) if with_views else None,
        likes=sum(int(p.metrics.likes or 0) for p in own),
        reposts=sum(int(p.metrics.reposts or 0) for p in own),
        comments_on_posts=sum(int(p.metrics.comments or 0) for p in own),
        er_views=round(100.0 * reactions_viewed / views_known, 3) if views_known else None,
        er_followers=er_followers,
        followers=followers,
        followers_growth=_followers_growth(page, own, since, until),
        citizen_comments=len(comments),
        comments_needing_answer=len(needing),
        answered=len(answered),
        answered_share=answered_share,
        answer_median_hours=median_hours,
        unanswered=len(unanswered),
        negative_share=negative_share,
        aggressive_share=share(sum(is_aggressive(c) for c in comments), len(comments)),
        requirements=reqs,
        fixes=fixes,
        status=status,
    )
    return health, unanswered


def _unanswered_view(post: Post, page: OfficialPage, now: datetime) -> UnansweredComment:
    return UnansweredComment(
        post_id=post.id,
        page_id=page.id,
        page_name=page.name,
        published_at=post.published_at,
        age_hours=round(max(0.0, (now - post.published_at).total_seconds() / 3600.0), 1),
        kind=post.kind.value if post.kind else None,
        text=post.text,
        author=post.author_name,
        url=post.url,
        thread_id=post.thread_id,
    )


class PagesReport(BaseModel):
    """Every official page's health over a period and the unanswered citizen comments, oldest first."""

    since: datetime
    until: datetime
    now: datetime
    pages: list[PageHealth]
    unanswered: list[UnansweredComment]
    unanswered_total: int


def pages_health(
    store: Store,
    profile: Profile,
    since: datetime,
    until: datetime,
    now: datetime,
    *,
    page_id: str | None = None,
    unanswered_limit: int = 100,
) -> PagesReport:
    """Return the health of every official page (or one) over [since, until) as seen at `now`."""
    since, until, now = as_utc(since), as_utc(until), as_utc(now)
    pages = official_pages(profile, store.list_pages())
    if page_id is not None:
        pages = [p for p in pages if p.id == page_id]
    healths: list[PageHealth] = []
    waiting: list[UnansweredComment] = []
    for page in pages:
        posts = page_posts(store, page, since, max(until, now + timedelta(seconds=1)))
        health, unanswered = assess_page(page, posts, profile, since, until, now)
        healths.append(health)
        waiting += [_unanswered_view(p, page, now) for p in unanswered]
    waiting.sort(key=lambda c: (c.published_at, c.post_id))
    return PagesReport(
        since=since,
        until=until,
        now=now,
        pages=healths,
        unanswered=waiting[:unanswered_limit],
        unanswered_total=len(waiting),
    )
