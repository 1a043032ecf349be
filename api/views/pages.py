"""The information lead's pages: the official pages' health with charts and the unanswered comments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from api.chart import HBarChart, hbar_chart
from api.views.common import Period, local_time, parse_period, pct, shown_author, shown_text
from api.views.labels import KIND_LABELS
from index.profile import Profile
from index.store import Store
from risk.pages import STATUS_NAMES, PageHealth, pages_health

#: Unanswered comments listed on the page.
UNANSWERED_ROWS = 100
#: Russian names of a page's overall state.
STATE_NAMES: Mapping[str, str] = {"ok": "в норме", "attention": "требует внимания", "problem": "проблема"}


@dataclass(frozen=True)
class Unanswered:
    """A citizen's comment the page has not answered."""

    post_id: str
    thread_id: str | None
    page: str
    at: str
    age: str
    kind: str
    author: str
    text: str
    url: str | None


@dataclass
class PagesView:
    """The pages' health page."""

    period: Period
    pages: list[PageHealth]
    states: Mapping[str, str]
    requirement_states: Mapping[str, str]
    posting: HBarChart | None = None
    answered: HBarChart | None = None
    unanswered: list[Unanswered] = field(default_factory=list)
    unanswered_total: int = 0


def _age(hours: float) -> str:
    """Return «3 ч» or «2 дн 5 ч»."""
    whole = int(hours)
    days, rest = divmod(whole, 24)
    return f"{days} дн {rest} ч" if days else f"{rest} ч"


def _posting_note(page: PageHealth) -> str:
    """Return «2,5 в неделю при норме 3»."""
    rate = f"{page.posts_per_week:.1f}".replace(".", ",")
    return f"{rate} в неделю при норме {page.norm_per_week}"


def pages_view(
    store: Store, profile: Profile, params: Mapping[str, str], now: datetime, tz: tzinfo, reveal: bool
) -> PagesView:
    """Return the health of every official page over the period in `params` (default 7 days).

    Raises FormError for a bad period.
    """
    period = parse_period(params, now, tz)
    report = pages_health(
        store, profile, period.since, min(period.until, now), now, unanswered_limit=UNANSWERED_ROWS
    )
    view = PagesView(
        period=period,
        pages=report.pages,
        states=STATE_NAMES,
        requirement_states=STATUS_NAMES,
        unanswered_total=report.unanswered_total,
    )
    if report.pages:
        view.posting = hbar_chart(
            [(p.name, p.posts) for p in report.pages],
            notes=[_posting_note(p) for p in report.pages],
            width=640,
            label_width=260,
        )
        answered = [p for p in report.pages if p.comments_needing_answer]
        if answered:
            view.answered = hbar_chart(
                [(p.name, p.answered) for p in answered],
                notes=[f"из {p.comments_needing_answer}, {pct(p.answered_share)}" for p in answered],
                width=640,
                label_width=260,
            )
    view.unanswered = [
        Unanswered(
            post_id=c.post_id,
            thread_id=c.thread_id,
            page=c.page_name,
            at=local_time(c.published_at, tz),
            age=_age(c.age_hours),
            kind=KIND_LABELS.get(c.kind, c.kind) if c.kind else "",
            author=shown_author(None, c.author, reveal),
            text=shown_text(c.text, reveal),
            url=c.url if c.url and c.url.startswith(("https://", "http://")) else None,
        )
        for c in report.unanswered
    ]
    return view
