"""The ЦУР's page: order a справка (topic or sector, territory, source, period) or the weekly note, preview
its key numbers and download it as DOCX, Markdown or PDF (where LibreOffice is installed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from api.chart import HBarChart, hbar_chart
from api.report_files import ReportFile, render_report, soffice_path
from api.views.common import FormError, Period, parse_period
from api.views.labels import SOURCE_NAMES
from index.profile import Profile
from index.store import Store
from risk.indicators import Slice
from risk.reports import Report, build_report, last_week

#: Report kinds the form offers.
KINDS: Mapping[str, str] = {"reference": "справка по запросу", "weekly": "еженедельная записка"}
#: File formats: key → Russian label.
FORMATS: Mapping[str, str] = {"docx": "Word (DOCX)", "md": "Markdown", "pdf": "PDF"}
#: Longest free-text field (characters), as the /reports routes allow.
MAX_FIELD_CHARS = 200


@dataclass
class ReportRequest:
    """A checked order of a report."""

    kind: str = "reference"
    sector: str | None = None
    topic: str | None = None
    territory: str | None = None
    source: str | None = None
    fmt: str = "docx"
    since: datetime | None = None
    until: datetime | None = None
    first_day: str = ""
    last_day: str = ""

    def slice(self) -> Slice:
        """Return the slice of a справка."""
        return Slice(sector=self.sector, topic=self.topic, territory=self.territory, source=self.source)


def _field(params: Mapping[str, str], name: str, label: str) -> str | None:
    value = (params.get(name) or "").strip()
    if len(value) > MAX_FIELD_CHARS:
        raise FormError(f"поле «{label}» длиннее {MAX_FIELD_CHARS} символов")
    return value or None


def parse_request(params: Mapping[str, str], now: datetime, tz: tzinfo) -> ReportRequest:
    """Return the report order in `params`; raise FormError for a bad kind, format, field or period."""
    kind = params.get("kind") or "reference"
    if kind not in KINDS:
        raise FormError("неизвестный вид документа")
    fmt = params.get("format") or "docx"
    if fmt not in FORMATS:
        raise FormError("неизвестный формат файла")
    request = ReportRequest(
        kind=kind,
        sector=_field(params, "sector", "сектор"),
        topic=_field(params, "topic", "тема"),
        territory=_field(params, "territory", "территория"),
        source=_field(params, "source", "источник"),
        fmt=fmt,
    )
    if kind == "weekly" and not params.get("since") and not params.get("until"):
        request.since, request.until = last_week(now, tz)
    else:
        period: Period = parse_period(params, now, tz)
        request.since, request.until = period.since, period.until
    request.first_day = request.since.astimezone(tz).date().isoformat()
    request.last_day = (request.until - timedelta(microseconds=1)).astimezone(tz).date().isoformat()
    return request


def build(store: Store, profile: Profile, request: ReportRequest, now: datetime, reveal: bool) -> Report:
    """Return the ordered report's content."""
    if request.since is None or request.until is None:
        raise FormError("не указан период")
    if request.kind == "weekly":
        return build_report(
            store, profile, "weekly", request.since, request.until, now, reveal_personal=reveal
        )
    return build_report(
        store,
        profile,
        "reference",
        request.since,
        request.until,
        now,
        request.slice(),
        reveal_personal=reveal,
    )


def render(report: Report, fmt: str) -> ReportFile:
    """Return the report file in `fmt` (PdfUnavailable when PDF cannot be made here)."""
    if fmt == "md":
        return render_report(report, "md")
    if fmt == "pdf":
        return render_report(report, "pdf")
    return render_report(report, "docx")


@dataclass
class ReportsView:
    """The page: the form's options and values, and a preview of the ordered report."""

    request: ReportRequest
    kinds: Mapping[str, str]
    formats: list[tuple[str, str]]
    sectors: list[str]
    territories: list[tuple[str, str]]
    sources: list[tuple[str, str]]
    download_query: str = ""
    preview: Report | None = None
    topics_chart: HBarChart | None = None
    territories_chart: HBarChart | None = None
    notes: list[str] = field(default_factory=list)


def reports_view(
    store: Store,
    profile: Profile,
    params: Mapping[str, str],
    now: datetime,
    tz: tzinfo,
    reveal: bool,
    query: str,
) -> ReportsView:
    """Return the order form with the values of `params`, and the preview when asked (preview=1)."""
    request = parse_request(params, now, tz)
    since = request.since or now - timedelta(days=28)
    sectors = sorted(
        {r.sector for r in store.counts(since, request.until or now, by=("sector",)) if r.sector}
    )
    if request.sector and request.sector not in sectors:
        sectors.append(request.sector)
    pdf = soffice_path() is not None
    view = ReportsView(
        request=request,
        kinds=KINDS,
        formats=[(k, v) for k, v in FORMATS.items() if k != "pdf" or pdf],
        sectors=sectors,
        territories=[(t.id, t.name) for t in profile.walk()],
        sources=list(SOURCE_NAMES.items()),
        download_query=query,
    )
    if not pdf:
        view.notes.append("PDF недоступен: на сервере не установлен LibreOffice; скачайте DOCX.")
    if params.get("preview"):
        report = build(store, profile, request, now, reveal)
        view.preview = report
        view.topics_chart = hbar_chart(
            [(t.title, t.count) for t in report.topics[:10]], width=640, label_width=300
        )
        view.territories_chart = hbar_chart(
            [(t.name, t.count) for t in report.territories[:10]], width=640, label_width=300
        )
    return view
