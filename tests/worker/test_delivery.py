"""Channel outages: the receiver is down for a while, then up — every alert is delivered exactly once,
in order, and the delivery log shows the failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from index.models import Alert, AlertKind, ChannelKind, DeliveryStatus, NotifyChannel, Subscription
from index.profile import Profile
from index.sqlite import SqliteStore
from index.store import DeliveryQuery
from infopole.settings import NotifySettings, Settings, TelegramSettings
from tests.worker.notify_standins import LoopbackServer
from worker.notify import DELIVERY_HEADER, Notifier

NOON = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
TOKEN = "123:ABC"


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "delivery.sqlite3")
    yield opened
    opened.close()


def settings(loopback: LoopbackServer, **notify: object) -> Settings:
    values: dict[str, object] = {"retry_base_s": 5.0, "retry_max_s": 60.0, "timeout_s": 2.0}
    values.update(notify)
    return Settings(
        env="development",
        notify=NotifySettings(**values),
        telegram=TelegramSettings(bot_token=SecretStr(TOKEN), bot_api_url=loopback.url),
    )


def subscribe(store: SqliteStore, *channels: NotifyChannel, sub_id: str = "head", **extra: object) -> None:
    store.save_subscription(Subscription(id=sub_id, name="Глава МЦУ", channels=list(channels), **extra))


def alert(n: int) -> Alert:
    return Alert(
        id=f"alert-{n:02d}", kind=AlertKind.conflict, severity=6, title=f"Конфликт №{n}", created_at=NOON
    )


def webhook_ids(loopback: LoopbackServer, path: str = "/hook") -> list[str]:
    return [b["id"] for b in loopback.bodies(path)]


def test_webhook_down_then_up_delivers_each_alert_once_in_order(
    store: SqliteStore, loopback: LoopbackServer
) -> None:
    subscribe(store, NotifyChannel(kind=ChannelKind.webhook, address=f"{loopback.url}/hook"))
    clock = Clock(NOON)
    notifier = Notifier(store, settings(loopback), Profile(name="Тестовск"), clock=clock)
    loopback.state.status = 503  # the receiver is down
    for n in range(1, 6):
        store.add_alert(alert(n))
        report = notifier.notify(f"alert-{n:02d}")
        assert report.sent == []
        clock.now += timedelta(seconds=4)
    for _ in range(6):  # the scheduler's sweeps during the outage
        clock.now += timedelta(seconds=30)
        assert notifier.sweep().sent == []
    assert webhook_ids(loopback) == []
    refused = loopback.state.refused
    assert refused >= 4  # the first delivery was retried, the others waited behind it
    first = store.query_deliveries(DeliveryQuery(alert_id="alert-01")).items[0]
    assert first.status == DeliveryStatus.pending and len(first.attempts) == refused
    assert all(not a.ok and a.error == "вебхук ответил HTTP 503" for a in first.attempts)
    assert first.last_error == "вебхук ответил HTTP 503" and first.next_attempt_at is not None
    waiting = store.query_deliveries(DeliveryQuery(alert_id="alert-03")).items[0]
    assert waiting.attempts == []  # never overtook the first one
    # Back-off doubles: 5, 10, 20, 40, then at most 60 seconds between attempts.
    gaps = [(b.at - a.at).total_seconds() for a, b in zip(first.attempts, first.attempts[1:], strict=False)]
    assert all(gap >= 5 for gap in gaps)

    loopback.state.status = 200  # the receiver is back
    clock.now += timedelta(seconds=61)
    report = notifier.sweep()
    assert len(report.sent) == 5
    assert webhook_ids(loopback) == [f"alert-{n:02d}" for n in range(1, 6)]  # in order
    # Exactly once: further sweeps and re-notifying send nothing.
    clock.now += timedelta(minutes=5)
    assert notifier.sweep().sent == []
    assert notifier.notify("alert-03").sent == []
    assert webhook_ids(loopback) == [f"alert-{n:02d}" for n in range(1, 6)]
    delivery_ids = [r.headers[DELIVERY_HEADER] for r in loopback.state.received]
    assert len(set(delivery_ids)) == 5
    log = store.query_deliveries(DeliveryQuery(alert_id="alert-01")).items[0]
    assert (
        log.status == DeliveryStatus.sent
        and log.attempts[-1].ok
        and log.sent_at == clock.now - timedelta(minutes=5)
    )
    assert len(log.attempts) == refused + 1


def test_telegram_unreachable_then_back_on_the_same_port(
    store: SqliteStore, loopback: LoopbackServer
) -> None:
    subscribe(store, NotifyChannel(kind=ChannelKind.telegram, address="100500"))
    clock = Clock(NOON)
    notifier = Notifier(store, settings(loopback), Profile(name="Тестовск"), clock=clock)
    loopback.stop()  # connection refused
    for n in range(1, 4):
        store.add_alert(alert(n))
        notifier.notify(f"alert-{n:02d}")
        clock.now += timedelta(minutes=2)
    first = store.query_deliveries(DeliveryQuery(alert_id="alert-01")).items[0]
    assert first.attempts and first.attempts[0].error is not None
    assert first.attempts[0].error.startswith("Telegram недоступен")
    loopback.start()
    clock.now += timedelta(minutes=2)
    notifier.sweep()
    texts = [b["text"].splitlines()[0] for b in loopback.bodies("/bot")]
    assert texts == ["🟠 Конфликт №1", "🟠 Конфликт №2", "🟠 Конфликт №3"]


def test_one_address_down_does_not_hold_up_another(store: SqliteStore, loopback: LoopbackServer) -> None:
    # The head's webhook is down; the analyst's Telegram is fine.
    subscribe(store, NotifyChannel(kind=ChannelKind.webhook, address=f"{loopback.url}/down-hook"))
    subscribe(store, NotifyChannel(kind=ChannelKind.telegram, address="42"), sub_id="analyst")
    clock = Clock(NOON)
    notifier = Notifier(store, settings(loopback), Profile(name="Тестовск"), clock=clock)

    real_webhook = notifier.senders.webhook

    def flaky(channel: NotifyChannel, body: bytes, delivery: str) -> None:
        if channel.address.endswith("/down-hook") and clock.now < NOON + timedelta(minutes=10):
            from worker.notify import DeliveryError

            raise DeliveryError("вебхук недоступен: ConnectError")
        real_webhook(channel, body, delivery)

    notifier.senders.webhook = flaky
    for n in range(1, 4):
        store.add_alert(alert(n))
        notifier.notify(f"alert-{n:02d}")
    assert len(loopback.bodies("/bot")) == 3
    assert webhook_ids(loopback, "/down-hook") == []
    clock.now = NOON + timedelta(minutes=10)
    notifier.sweep()
    assert webhook_ids(loopback, "/down-hook") == ["alert-01", "alert-02", "alert-03"]


def test_a_permanent_refusal_fails_that_delivery_and_the_rest_go_on(
    store: SqliteStore, loopback: LoopbackServer
) -> None:
    subscribe(store, NotifyChannel(kind=ChannelKind.telegram, address="100500"))
    clock = Clock(NOON)
    notifier = Notifier(store, settings(loopback), Profile(name="Тестовск"), clock=clock)
    loopback.state.status, loopback.state.description = 403, "Forbidden: bot was blocked by the user"
    store.add_alert(alert(1))
    report = notifier.notify("alert-01")
    assert report.failed and report.errors == [
        "Telegram отклонил сообщение: Forbidden: bot was blocked by the user"
    ]
    failed = store.query_deliveries(DeliveryQuery(alert_id="alert-01")).items[0]
    assert failed.status == DeliveryStatus.failed and failed.next_attempt_at is None
    assert failed.note == "Telegram отклонил сообщение: Forbidden: bot was blocked by the user"
    loopback.state.status = 200
    store.add_alert(alert(2))
    assert len(notifier.notify("alert-02").sent) == 1
    assert notifier.sweep().sent == []  # the failed one is not retried


def test_too_many_attempts_give_up_visibly_and_free_the_address(
    store: SqliteStore, loopback: LoopbackServer
) -> None:
    subscribe(store, NotifyChannel(kind=ChannelKind.webhook, address=f"{loopback.url}/hook"))
    clock = Clock(NOON)
    notifier = Notifier(store, settings(loopback, max_attempts=3), Profile(name="Тестовск"), clock=clock)
    loopback.state.status = 500
    for n in (1, 2):
        store.add_alert(alert(n))
        notifier.notify(f"alert-{n:02d}")
    for _ in range(5):
        clock.now += timedelta(minutes=2)
        notifier.sweep()
    first, second = (store.query_deliveries(DeliveryQuery(alert_id=f"alert-0{n}")).items[0] for n in (1, 2))
    assert first.status == DeliveryStatus.failed and len(first.attempts) == 3
    assert first.note == "канал недоступен, попыток: 3"
    assert second.status == DeliveryStatus.failed  # its turn came, and the receiver was still down
    loopback.state.status = 200
    store.add_alert(alert(3))
    assert len(notifier.notify("alert-03").sent) == 1


def test_concurrent_notifications_each_go_out_once(store: SqliteStore, loopback: LoopbackServer) -> None:
    subscribe(
        store, NotifyChannel(kind=ChannelKind.webhook, address=f"{loopback.url}/hook"), max_per_hour=100
    )
    notifier = Notifier(store, settings(loopback), Profile(name="Тестовск"), clock=Clock(NOON))
    for n in range(1, 21):
        store.add_alert(alert(n))
    threads = [threading.Thread(target=notifier.notify, args=(f"alert-{n:02d}",)) for n in range(1, 21)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    notifier.sweep()  # anything a busy flush left behind
    sent = webhook_ids(loopback)
    assert sorted(sent) == [f"alert-{n:02d}" for n in range(1, 21)]
    # Alerts planned at the same instant by different threads have no order to keep; each went once.
    log = store.query_deliveries(DeliveryQuery(limit=100)).items
    assert len(log) == 20 and all(d.status == DeliveryStatus.sent and len(d.attempts) == 1 for d in log)
