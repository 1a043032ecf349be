"""`infopole report`: build a справка or the weekly note from the configured store into a file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from index.models import as_utc, utcnow
from risk.indicators import Slice


def _moment(value: str | None, tz: ZoneInfo, name: str) -> datetime | None:
    """Parse an ISO date or datetime (local time of the profile when it has no offset)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{name}: ожидается дата ГГГГ-ММ-ДД или ГГГГ-ММ-ДДTЧЧ:ММ, получено «{value}»"
        ) from exc
    return as_utc(moment if moment.tzinfo else moment.replace(tzinfo=tz))


def write_report(
    kind: str,
    out: Path,
    fmt: str,
    since: str | None,
    until: str | None,
    sl: Slice,
    reveal_personal: bool,
) -> Path:
    """Build the report from the configured store and profile and write it to `out`; return the path."""
    from datetime import timedelta

    from api.app import default_profile, default_store
    from api.report_files import PdfUnavailable, render_report
    from infopole.settings import load_settings
    from risk.reports import build_report, last_week

    settings = load_settings()
    profile = default_profile(settings)
    tz = ZoneInfo(profile.timezone)
    now = utcnow()
    start, end = _moment(since, tz, "--since"), _moment(until, tz, "--until")
    if start is None and end is None and kind == "weekly":
        start, end = last_week(now, tz)
    end = end or now
    start = start or end - timedelta(days=7)
    if start >= end:
        raise typer.BadParameter("начало периода должно быть раньше конца")
    store = default_store(settings)
    try:
        report = build_report(
            store,
            profile,
            "weekly" if kind == "weekly" else "reference",
            start,
            end,
            now,
            sl,
            reveal_personal=reveal_personal,
        )
    finally:
        store.close()
    try:
        rendered = render_report(report, fmt)  # type: ignore[arg-type]
    except PdfUnavailable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=3) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(rendered.content)
    return out
