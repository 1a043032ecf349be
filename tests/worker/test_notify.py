"""Alert channels against real local stand-ins: the Telegram Bot API and webhook receivers on a loopback
HTTP server, SMTP on aiosmtpd; subscriptions, quiet hours, digests and acknowledgement links."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from pydantic import SecretStr

from index.models import Alert, AlertKind, ChannelKind, DeliveryStatus, NotifyChannel, Subscription
from index.profile import Profile, Recipient, Territory
from index.sqlite import SqliteStore
from index.store import DeliveryQuery
from infopole.settings import NotifySettings, Settings, TelegramSettings
from risk.alerts import verify_ack_token
from tests.worker.notify_standins import LoopbackServer, SmtpStandIn, self_signed_loopback, smtp_server
from worker.notify import DELIVERY_HEADER, SIGNATURE_HEADER, Notifier, PermanentDeliveryError, sign
from worker.notify.email import send_email
from worker.notify.errors import DeliveryError
from worker.notify.subscriptions import matches, subscribers
from worker.notify.telegram import send_telegram
from worker.notify.tls import smtp_tls_context, tls_context
from worker.notify.webhook import send_webhook

#: Tuesday 2026-01-20 12:00 Moscow.
NOON = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
PUBLIC = "https://infopole.example"
TOKEN = "123:ABC"


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def build_profile() -> Profile:
    """Return a city with two districts and a recipient with its head's contacts."""
    return Profile(
        name="Тестовск",
        territories=[
            Territory(
                id="city",
                name="Тестовск",
                level="municipality",
                children=[
                    Territory(id="centr", name="Центральный район"),
                    Territory(id="sever", name="Северный"),
                ],
            )
        ],
        recipients=[
            Recipient(
                id="zhkh",
                name="Отдел ЖКХ",
                head="Иванов И. И.",
                email="zhkh@city.example",
                telegram_chat_id="555",
                head_email="ivanov@city.example",
            )
        ],
    )


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpStandIn]:
    yield from smtp_server()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "notify.sqlite3")
    yield opened
    opened.close()


def settings_for(loopback: LoopbackServer, smtp: SmtpStandIn | None = None, **notify: object) -> Settings:
    """Return settings pointing every channel at the stand-ins."""
    values: dict[str, object] = {
        "public_url": PUBLIC,
        "link_secret": SecretStr("link-secret"),
        "retry_base_s": 5.0,
        "retry_max_s": 60.0,
        "timeout_s": 3.0,
    }
    if smtp is not None:
        values.update(smtp_host=smtp.host, smtp_port=smtp.port, mail_from="infopole@city.example")
    values.update(notify)
    return Settings(
        env="development",
        notify=NotifySettings(**values),
        telegram=TelegramSettings(bot_token=SecretStr(TOKEN), bot_api_url=loopback.url),
    )


def make_alert(n: int = 1, **extra: object) -> Alert:
    values: dict[str, object] = {
        "id": f"alert-{n}",
        "kind": AlertKind.spike,
        "severity": 7,
        "title": f"Всплеск №{n}: ЖКХ, Центральный район — 46 сообщений за час при норме 2,1",
        "text": "Темы: Отсутствие горячей воды (30).\n— Третий день нет горячей воды",
        "sector": "ЖКХ",
        "territory": "centr",
        "created_at": NOON,
    }
    values.update(extra)
    return Alert(**values)


def head_subscription(**extra: object) -> Subscription:
    values: dict[str, object] = {
        "id": "head",
        "name": "Глава МЦУ",
        "channels": [NotifyChannel(kind=ChannelKind.telegram, address="100500")],
    }
    values.update(extra)
    return Subscription(**values)


# Channels one by one


def test_webhook_channel_signs_the_body_and_names_the_delivery(loopback: LoopbackServer) -> None:
    body = json.dumps({"title": "Всплеск"}, ensure_ascii=False).encode()
    send_webhook(f"{loopback.url}/hook", body, secret="s3cret", delivery_id="d-1")
    received = loopback.state.received[0]
    assert received.body == body
    assert received.headers[SIGNATURE_HEADER] == sign(body, "s3cret")
    assert received.headers[DELIVERY_HEADER] == "d-1"
    loopback.state.status = 404
    with pytest.raises(PermanentDeliveryError, match="404"):
        send_webhook(f"{loopback.url}/hook", body)
    loopback.state.status = 503
    with pytest.raises(Exception, match="503") as info:
        send_webhook(f"{loopback.url}/hook", body)
    assert not isinstance(info.value, PermanentDeliveryError)


def test_telegram_channel_errors_say_whether_to_retry(loopback: LoopbackServer) -> None:
    assert (
        send_telegram(loopback.url, TOKEN, "42", "привет", buttons=[("Принять", "https://x.example/a")]) == 1
    )
    sent = loopback.bodies(f"/bot{TOKEN}/sendMessage")[0]
    assert sent["chat_id"] == "42" and sent["text"] == "привет"
    assert sent["reply_markup"] == {"inline_keyboard": [[{"text": "Принять", "url": "https://x.example/a"}]]}
    loopback.state.status, loopback.state.description = 400, "Bad Request: chat not found"
    with pytest.raises(PermanentDeliveryError, match="chat not found"):
        send_telegram(loopback.url, TOKEN, "42", "привет")
    loopback.state.status, loopback.state.retry_after = 429, 17
    with pytest.raises(Exception, match="подождать") as info:
        send_telegram(loopback.url, TOKEN, "42", "привет")
    assert getattr(info.value, "retry_after_s", None) == 17.0
    with pytest.raises(PermanentDeliveryError, match="TELEGRAM__BOT_TOKEN"):
        send_telegram(loopback.url, "", "42", "привет")
    long_text = "я" * 5000
    loopback.state.status = 200
    send_telegram(loopback.url, TOKEN, "42", long_text)
    assert len(loopback.bodies("/bot")[-1]["text"]) == 4096


def test_deliveries_share_one_tls_context(loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[ssl.SSLContext] = []

    def counting_create(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(create(*args, **kwargs))
        return built[-1]

    create = httpx.create_ssl_context
    tls_context.cache_clear()
    monkeypatch.setattr(httpx, "create_ssl_context", counting_create)
    for n in range(3):
        send_webhook(f"{loopback.url}/hook", b"{}", delivery_id=f"d-{n}")
        send_telegram(loopback.url, TOKEN, "42", "привет")
    assert len(loopback.state.received) == 6
    assert len(built) == 1  # one CA bundle load per process, not one per delivery
    tls_context.cache_clear()


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_email_over_tls_verifies_the_server_and_builds_one_context(
    tls: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, server_context = self_signed_loopback(tmp_path)
    mode = {"smtp_starttls": True} if tls == "starttls" else {"smtp_ssl": True}
    for server in smtp_server(tls, server_context):
        cfg = NotifySettings(
            smtp_host=server.host,
            smtp_port=server.port,
            mail_from="infopole@city.example",
            timeout_s=5.0,
            **mode,
        )
        # A certificate the system does not trust: refused, to be retried (not a permanent failure).
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        smtp_tls_context.cache_clear()
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED") as refused:
            send_email(cfg, "head@city.example", "s", "t")
        assert not isinstance(refused.value, PermanentDeliveryError) and not server.messages

        # Trusted (SSL_CERT_FILE, as an administrator would point it): sent, over one context per process.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        smtp_tls_context.cache_clear()
        for n in range(3):
            send_email(cfg, "head@city.example", f"[Инфополе] {n}", "Текст", message_id=f"d-{n}")
        assert [m["Subject"] for _, _, m in server.messages] == [f"[Инфополе] {n}" for n in range(3)]
        assert smtp_tls_context.cache_info().misses == 1
    smtp_tls_context.cache_clear()


def test_email_channel_through_aiosmtpd(smtp: SmtpStandIn) -> None:
    cfg = NotifySettings(smtp_host=smtp.host, smtp_port=smtp.port, mail_from="infopole@city.example")
    send_email(cfg, "head@city.example", "[Инфополе] Всплеск", "Текст", "<p>Текст</p>", message_id="d-7")
    sender, recipients, message = smtp.messages[0]
    assert sender == "infopole@city.example" and recipients == ["head@city.example"]
    assert message["Subject"] == "[Инфополе] Всплеск"
    assert "d-7" in message["Message-ID"]
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and plain.get_content().strip() == "Текст"
    assert html is not None and "<p>Текст</p>" in html.get_content()
    with pytest.raises(PermanentDeliveryError, match="SMTP_HOST"):
        send_email(NotifySettings(), "x@y.example", "s", "t")
    unreachable = NotifySettings(smtp_host="127.0.0.1", smtp_port=9, timeout_s=2.0)
    with pytest.raises(Exception, match="недоступен") as info:
        send_email(unreachable, "x@y.example", "s", "t")
    assert not isinstance(info.value, PermanentDeliveryError)


# Subscriptions


def test_subscription_filters() -> None:
    profile = build_profile()
    alert = make_alert(severity=7, sector="★ ЖКХ", territory="centr")
    assert matches(head_subscription(), alert, profile)
    assert not matches(head_subscription(active=False), alert, profile)
    assert not matches(head_subscription(min_severity=8), alert, profile)
    assert matches(head_subscription(kinds=[AlertKind.spike, AlertKind.conflict]), alert, profile)
    assert not matches(head_subscription(kinds=[AlertKind.overdue]), alert, profile)
    assert matches(head_subscription(sectors=["жкх"]), alert, profile)  # ★, case and ё ignored
    assert not matches(head_subscription(sectors=["Дороги"]), alert, profile)
    assert matches(head_subscription(territories=["city"]), alert, profile)  # a parent takes its children
    assert matches(head_subscription(territories=["centr"]), alert, profile)
    assert not matches(head_subscription(territories=["sever"]), alert, profile)
    # An alert about the whole city (no territory) or about everything (no sector) passes those filters.
    everywhere = make_alert(sector=None, territory=None)
    assert matches(head_subscription(sectors=["Дороги"], territories=["sever"]), everywhere, profile)


def test_recipient_and_its_head_get_their_incidents_escalations() -> None:
    profile = build_profile()
    settings = Settings(env="development")

    def overdue(level: int) -> Alert:
        return make_alert(kind=AlertKind.overdue, details={"level": level, "recipient": "zhkh"})

    ids = lambda alert: sorted(s.id for s in subscribers(alert, [], settings, profile))  # noqa: E731
    assert ids(overdue(1)) == ["recipient:zhkh"]
    assert ids(overdue(2)) == ["recipient-head:zhkh", "recipient:zhkh"]
    assert ids(overdue(3)) == []  # the head of the МЦУ gets step 3 through own subscriptions
    assert ids(make_alert(kind=AlertKind.incident, details={"recipient": "zhkh"})) == ["recipient:zhkh"]
    assert ids(make_alert(kind=AlertKind.spike, details={"recipient": "zhkh"})) == []
    head = next(
        s for s in subscribers(overdue(2), [], settings, profile) if s.id.startswith("recipient-head")
    )
    assert head.name == "руководитель: Иванов И. И."
    assert [c.destination for c in head.channels] == ["email:ivanov@city.example"]
    with_hook = Settings(env="development", notify=NotifySettings(webhook_url="https://hook.example/x"))
    assert "settings:webhook" in ids_for(make_alert(), with_hook, profile)


def ids_for(alert: Alert, settings: Settings, profile: Profile) -> list[str]:
    return sorted(s.id for s in subscribers(alert, [], settings, profile))


# The Notifier end to end


def test_every_channel_gets_the_alert_with_an_acknowledgement_link(
    store: SqliteStore, loopback: LoopbackServer, smtp: SmtpStandIn
) -> None:
    settings = settings_for(
        loopback, smtp, webhook_url=f"{loopback.url}/settings-hook", webhook_secret=SecretStr("w")
    )
    store.save_subscription(
        head_subscription(
            channels=[
                NotifyChannel(kind=ChannelKind.telegram, address="100500"),
                NotifyChannel(kind=ChannelKind.email, address="head@city.example"),
                NotifyChannel(kind=ChannelKind.webhook, address=f"{loopback.url}/head-hook", secret="hs"),
            ]
        )
    )
    notifier = Notifier(store, settings, build_profile(), clock=Clock(NOON))
    store.add_alert(make_alert())
    report = notifier.notify("alert-1")
    assert len(report.sent) == 4 and not report.errors
    # Telegram: the title first, then the explanation, a button that accepts the alert.
    message = loopback.bodies(f"/bot{TOKEN}/")[0]
    assert message["chat_id"] == "100500"
    assert message["text"].splitlines()[0] == "🟠 " + make_alert().title
    button = message["reply_markup"]["inline_keyboard"][0][0]
    assert button["text"] == "Принять"
    link = urlparse(button["url"])
    assert f"{link.scheme}://{link.netloc}" == PUBLIC and link.path == "/alerts/alert-1/ack-link"
    query = parse_qs(link.query)
    assert query["s"] == ["head"]
    assert verify_ack_token("link-secret", "alert-1", "head", query["t"][0])
    assert not verify_ack_token("link-secret", "alert-2", "head", query["t"][0])
    # E-mail: the same text and link.
    _, recipients, mail = smtp.messages[0]
    assert recipients == ["head@city.example"] and mail["Subject"] == f"[Инфополе] {make_alert().title}"
    assert button["url"] in mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    # Webhooks: the alert's JSON, signed with each subscription's own secret.
    hooks = {r.path: r for r in loopback.state.received if "hook" in r.path}
    head_hook, settings_hook = hooks["/head-hook"], hooks["/settings-hook"]
    assert head_hook.headers[SIGNATURE_HEADER] == sign(head_hook.body, "hs")
    assert settings_hook.headers[SIGNATURE_HEADER] == sign(settings_hook.body, "w")
    payload = head_hook.json()
    assert payload["id"] == "alert-1" and payload["title"] == make_alert().title
    assert payload["ack_url"].startswith(f"{PUBLIC}/alerts/alert-1/ack-link?s=head&t=")
    assert head_hook.headers[DELIVERY_HEADER] == payload["delivery_id"]
    # Planning again changes nothing: one delivery per alert × subscription × address.
    again = notifier.notify("alert-1")
    assert again.sent == [] and len(loopback.state.received) == 3 and len(smtp.messages) == 1
    log = store.query_deliveries(DeliveryQuery(alert_id="alert-1"))
    assert log.total == 4 and {d.status for d in log.items} == {DeliveryStatus.sent}
    assert all(len(d.attempts) == 1 and d.attempts[0].ok for d in log.items)


def test_no_public_url_means_no_link(store: SqliteStore, loopback: LoopbackServer) -> None:
    store.save_subscription(head_subscription())
    notifier = Notifier(store, settings_for(loopback, public_url=""), build_profile(), clock=Clock(NOON))
    store.add_alert(make_alert())
    notifier.notify("alert-1")
    message = loopback.bodies("/bot")[0]
    assert "reply_markup" not in message and "Принять" not in message["text"]


def test_an_alert_accepted_before_it_left_is_skipped(store: SqliteStore, loopback: LoopbackServer) -> None:
    store.save_subscription(head_subscription(quiet_from=time(22), quiet_to=time(8)))
    clock = Clock(datetime(2026, 1, 20, 20, 0, tzinfo=UTC))  # 23:00 Moscow: quiet hours
    notifier = Notifier(store, settings_for(loopback), build_profile(), clock=clock)
    store.add_alert(make_alert())
    notifier.notify("alert-1")
    assert loopback.state.received == []
    store.acknowledge_alert("alert-1", by="head#1", at=clock.now)
    clock.now += timedelta(hours=10)
    report = notifier.sweep()
    assert report.skipped and loopback.state.received == []
    (delivery,) = store.query_deliveries(DeliveryQuery(alert_id="alert-1")).items
    assert delivery.status == DeliveryStatus.skipped and delivery.note == "принято до отправки"
    # An acknowledged alert is not even planned.
    store.add_alert(make_alert(2))
    store.acknowledge_alert("alert-2", by="head#1", at=clock.now)
    assert notifier.notify("alert-2").sent == []
    assert store.query_deliveries(DeliveryQuery(alert_id="alert-2")).total == 0


def test_quiet_hours_hold_alerts_for_one_digest_but_not_urgent_ones(
    store: SqliteStore, loopback: LoopbackServer
) -> None:
    store.save_subscription(head_subscription(quiet_from=time(22), quiet_to=time(8), urgent_severity=9))
    clock = Clock(datetime(2026, 1, 20, 20, 30, tzinfo=UTC))  # 23:30 Moscow
    notifier = Notifier(store, settings_for(loopback), build_profile(), clock=clock)
    for n, sev in ((1, 5), (2, 7), (3, 9), (4, 6)):
        store.add_alert(make_alert(n, severity=sev, created_at=clock.now))
        notifier.notify(f"alert-{n}")
        clock.now += timedelta(minutes=20)
    # Only the urgent one (severity 9) went out at night.
    assert [b["text"].splitlines()[0] for b in loopback.bodies("/bot")] == ["🔴 " + make_alert(3).title]
    held = store.query_deliveries(DeliveryQuery(status=[DeliveryStatus.held])).items
    assert [d.alert_id for d in held] == ["alert-1", "alert-2", "alert-4"]
    assert {d.note for d in held} == {"тихие часы до 08:00"}
    assert {d.next_attempt_at for d in held} == {datetime(2026, 1, 21, 5, 0, tzinfo=UTC)}
    clock.now = datetime(2026, 1, 21, 4, 59, tzinfo=UTC)
    assert notifier.sweep().sent == []
    clock.now = datetime(2026, 1, 21, 5, 0, tzinfo=UTC)  # 08:00 Moscow
    report = notifier.sweep()
    assert sorted(report.sent) == sorted(d.id for d in held)
    digest = loopback.bodies("/bot")[-1]["text"].splitlines()
    assert digest[0] == "Сводка с 20.01 23:30: 3 уведомления (тихие часы)"
    # Worst first, each with its own acknowledgement link.
    assert digest[1].startswith("🟠 [7] Всплеск №2") and digest[3].startswith("🟠 [5] Всплеск №1")
    assert all("— принять: https://infopole.example/alerts/alert-" in line for line in digest[1:])
    log = store.query_deliveries(DeliveryQuery(status=[DeliveryStatus.digested])).items
    assert len(log) == 3 and len({d.digest_id for d in log}) == 1
    assert notifier.sweep().sent == [] and len(loopback.bodies("/bot")) == 2


def test_more_than_the_hourly_limit_waits_for_a_digest(store: SqliteStore, loopback: LoopbackServer) -> None:
    store.save_subscription(head_subscription(max_per_hour=2))
    clock = Clock(NOON)
    notifier = Notifier(store, settings_for(loopback), build_profile(), clock=clock)
    for n in range(1, 6):
        store.add_alert(make_alert(n))
        notifier.notify(f"alert-{n}")
        clock.now += timedelta(minutes=5)
    assert len(loopback.bodies("/bot")) == 2
    held = store.query_deliveries(DeliveryQuery(status=[DeliveryStatus.held])).items
    assert [d.alert_id for d in held] == ["alert-3", "alert-4", "alert-5"]
    assert held[0].note == "больше 2 уведомлений в час"
    assert held[0].next_attempt_at == NOON + timedelta(hours=1)
    clock.now = NOON + timedelta(hours=1)
    notifier.sweep()
    texts = [b["text"] for b in loopback.bodies("/bot")]
    assert len(texts) == 3 and texts[2].startswith(
        "Сводка с 20.01 12:10: 3 уведомления (больше 2 уведомлений в час)"
    )


def test_the_recipient_gets_incident_alerts_only_over_configured_channels(
    store: SqliteStore, loopback: LoopbackServer, smtp: SmtpStandIn
) -> None:
    critical = make_alert(kind=AlertKind.incident, severity=8, details={"recipient": "zhkh"})
    store.add_alert(critical)
    # No SMTP configured: the recipient's address is not even planned (a Telegram chat is, via the bot).
    bare = Notifier(store, settings_for(loopback), build_profile(), clock=Clock(NOON))
    bare.notify(critical.id)
    planned = store.query_deliveries(DeliveryQuery(alert_id=critical.id)).items
    assert [(d.subscription_id, d.destination) for d in planned] == [("recipient:zhkh", "telegram:555")]
    # With SMTP the e-mail goes too.
    store.add_alert(make_alert(2, kind=AlertKind.incident, severity=8, details={"recipient": "zhkh"}))
    Notifier(store, settings_for(loopback, smtp), build_profile(), clock=Clock(NOON)).notify("alert-2")
    assert [m[1] for m in smtp.messages] == [["zhkh@city.example"]]
    # A stored subscription's address on an unconfigured channel is planned and fails visibly.
    store.save_subscription(
        head_subscription(channels=[NotifyChannel(kind=ChannelKind.email, address="h@c.example")])
    )
    store.add_alert(make_alert(3))
    report = bare.notify("alert-3")
    assert report.errors == ["почта не настроена: задайте NOTIFY__SMTP_HOST"]
    (failed,) = store.query_deliveries(DeliveryQuery(alert_id="alert-3")).items
    assert failed.status == DeliveryStatus.failed
