"""`infopole crawl SOURCE [--once]`: collect one source in this process, without a broker.

Items are ingested and detection runs right here (the same steps the workers run); the cursor and
the source's health are saved in the store of INFOPOLE_DATA_DIR, so a later run (or the workers)
goes on from where this one stopped.
"""

from __future__ import annotations

import time

import dramatiq
import typer

from crawlers.catalog import UnknownSource, poll_interval_s
from infopole.settings import load_settings
from worker.collecting import CollectReport, collect_once, inline_sink
from worker.runtime import build_runtime

#: Exit code of a run that did not finish (switched off, paused, rejected credentials, failed, retry).
EXIT_NOT_DONE = 1


def _describe(report: CollectReport) -> str:
    """Return one Russian summary line of a run."""
    line = report.message or f"{report.source}: {report.status}"
    if report.pages:
        line += f"; официальных страниц обновлено: {report.pages}"
    if report.alerts:
        line += f"; новых уведомлений: {len(report.alerts)}"
    return line


def crawl(source: str, once: bool) -> None:
    """Run collection of `source` once (or every poll interval until interrupted) and print summaries."""
    try:
        settings = load_settings()
        rt = build_runtime(settings)
    except ValueError as exc:
        typer.echo(f"ошибка: {exc}", err=True)
        raise typer.Exit(code=2) from None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sink = inline_sink(rt)
    try:
        while True:
            try:
                report = collect_once(rt, source, sink=sink)
            except UnknownSource as exc:
                typer.echo(f"ошибка: {exc}", err=True)
                raise typer.Exit(code=2) from None
            except dramatiq.Retry as exc:
                typer.echo(f"{source}: временная ошибка, повторите позже ({exc})", err=True)
                if once:
                    raise typer.Exit(code=EXIT_NOT_DONE) from None
                time.sleep(max(1.0, (exc.delay or 30_000) / 1000))
                continue
            typer.echo(_describe(report), err=report.status != "ok")
            if report.status == "disabled" or (once and report.status != "ok"):
                raise typer.Exit(code=EXIT_NOT_DONE)
            if once:
                return
            time.sleep(poll_interval_s(settings, source))
    finally:
        rt.store.close()
