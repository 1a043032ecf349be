"""Messages a person reads in five seconds: one alert, or a digest of several, with the link to accept."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from index.models import Alert
from risk.alerts import count, local

#: Text lines of an alert a message keeps (the title always; the rest is detail).
MAX_TEXT_LINES = 8
#: Alerts a digest lists one by one (the rest are counted).
DIGEST_LIMIT = 20
#: The label of the acknowledgement link or button.
ACK_LABEL = "Принять"


@dataclass(frozen=True)
class Message:
    """One message to send: subject (e-mail), plain text, HTML (e-mail) and the acknowledgement link."""

    subject: str
    text: str
    html: str
    ack_url: str | None = None


def severity_mark(severity: int) -> str:
    """Return a colour mark of a severity: 🔴 8–10, 🟠 5–7, 🟡 1–4."""
    return "🔴" if severity >= 8 else "🟠" if severity >= 5 else "🟡"


def render_alert(alert: Alert, ack_url: str | None) -> Message:
    """Return the message of one alert: the title first, then what explains it, then the link."""
    head = f"{severity_mark(alert.severity)} {alert.title}"
    lines = [line for line in alert.text.splitlines() if line.strip()][:MAX_TEXT_LINES]
    body = [head, *lines, f"Важность: {alert.severity} из 10."]
    if ack_url:
        body.append(f"{ACK_LABEL}: {ack_url}")
    text = "\n".join(body)
    parts = [f"<p><b>{html.escape(head)}</b></p>"]
    parts += [f"<p>{html.escape(line)}</p>" for line in lines]
    parts.append(f"<p>Важность: {alert.severity} из 10.</p>")
    if ack_url:
        parts.append(f'<p><a href="{html.escape(ack_url, quote=True)}">{ACK_LABEL} уведомление</a></p>')
    return Message(subject=f"[Инфополе] {alert.title}", text=text, html="\n".join(parts), ack_url=ack_url)


def render_digest(
    alerts: Sequence[tuple[Alert, str | None]], since: datetime | None, tz: str, reason: str
) -> Message:
    """Return one message listing several held alerts (worst first), each with its acknowledgement link."""
    ranked = sorted(alerts, key=lambda pair: (-pair[0].severity, pair[0].created_at))
    n = len(ranked)
    when = f" с {local(since, tz)}" if since is not None else ""
    head = f"Сводка{when}: {count(n, 'уведомление', 'уведомления', 'уведомлений')} ({reason})"
    text_lines = [head]
    html_lines = [f"<p><b>{html.escape(head)}</b></p>", "<ul>"]
    for alert, url in ranked[:DIGEST_LIMIT]:
        line = f"{severity_mark(alert.severity)} [{alert.severity}] {alert.title}"
        text_lines.append(line + (f" — {ACK_LABEL.lower()}: {url}" if url else ""))
        link = f' (<a href="{html.escape(url, quote=True)}">{ACK_LABEL.lower()}</a>)' if url else ""
        html_lines.append(f"<li>{html.escape(line)}{link}</li>")
    html_lines.append("</ul>")
    if n > DIGEST_LIMIT:
        more = count(n - DIGEST_LIMIT, "уведомление", "уведомления", "уведомлений")
        rest = f"… и ещё {more} в веб-интерфейсе."
        text_lines.append(rest)
        html_lines.append(f"<p>{html.escape(rest)}</p>")
    return Message(subject=f"[Инфополе] {head}", text="\n".join(text_lines), html="\n".join(html_lines))
