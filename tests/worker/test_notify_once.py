"""Once per channel per recipient: a send cut off mid-way (a killed worker, a time limit) is not repeated
on Telegram or e-mail, is repeated with the same delivery id on a webhook, and a run that is out of time
starts no new send."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from index.models import ChannelKind, DeliveryStatus, NotifyChannel
from index.sqlite import SqliteStore
from index.store import DeliveryQuery
from infopole.settings import NotifySettings, Settings
from tests.worker.test_notify import NOON, Clock, build_profile, head_subscription, make_alert
from worker.notify import Notifier, Senders
from worker.notify.delivery import INTERRUPTED_NOTE
from worker.notify.render import Message


class Killed(BaseException):
    """Stands for the worker dying in the middle of a send (not an error the notifier handles)."""


@dataclass
class MemoryMarks:
    """SentMarks in memory, shared by the notifier of a "killed" run and the one after it."""

    sent: set[str] = field(default_factory=set)
    claimed: set[str] = field(default_factory=set)

    def was_sent(self, key: str) -> bool:
        return key in self.sent

    def mark_sent(self, key: str) -> None:
        self.sent.add(key)

    def claim(self, key: str) -> bool:
        fresh = key not in self.claimed
        self.claimed.add(key)
        return fresh

    def release(self, key: str) -> None:
        self.claimed.discard(key)


@dataclass
class Channels:
    """Senders that record what left; `kill` makes the next send of a kind die after it left."""

    telegram_sent: list[str] = field(default_factory=list)
    webhook_sent: list[str] = field(default_factory=list)  # delivery ids (the X-Infopole-Delivery header)
    kill: set[str] = field(default_factory=set)

    def senders(self) -> Senders:
        def telegram(chat_id: str, message: Message) -> None:
            self.telegram_sent.append(chat_id)
            if "telegram" in self.kill:
                self.kill.discard("telegram")
                raise Killed

        def email(to: str, message: Message, message_id: str) -> None:
            raise AssertionError("no e-mail in these tests")

        def webhook(channel: NotifyChannel, body: bytes, delivery: str) -> None:
            self.webhook_sent.append(delivery)
            if "webhook" in self.kill:
                self.kill.discard("webhook")
                raise Killed

        return Senders(telegram=telegram, email=email, webhook=webhook)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "once.sqlite3")
    yield opened
    opened.close()


def notifier(store: SqliteStore, channels: Channels, marks: MemoryMarks) -> Notifier:
    settings = Settings(env="development", notify=NotifySettings(retry_base_s=5.0))
    return Notifier(
        store, settings, build_profile(), clock=Clock(NOON), senders=channels.senders(), sent_marks=marks
    )


def subscribe_both(store: SqliteStore) -> None:
    store.save_subscription(
        head_subscription(
            channels=[
                NotifyChannel(kind=ChannelKind.telegram, address="100500"),
                NotifyChannel(kind=ChannelKind.webhook, address="http://127.0.0.1:9/hook"),
            ]
        )
    )


def test_a_telegram_send_cut_off_midway_is_not_repeated(store: SqliteStore) -> None:
    subscribe_both(store)
    store.add_alert(make_alert())
    marks, channels = MemoryMarks(), Channels(kill={"telegram"})
    with pytest.raises(Killed):
        notifier(store, channels, marks).notify("alert-1")
    assert channels.telegram_sent == ["100500"]

    report = notifier(store, channels, marks).notify("alert-1")  # the message is redelivered

    assert channels.telegram_sent == ["100500"], "the head got the alert twice"
    log = {d.channel: d for d in store.query_deliveries(DeliveryQuery(alert_id="alert-1")).items}
    assert log[ChannelKind.telegram].status == DeliveryStatus.failed
    assert log[ChannelKind.telegram].note == INTERRUPTED_NOTE
    assert log[ChannelKind.telegram].id in report.failed
    assert log[ChannelKind.webhook].status == DeliveryStatus.sent  # the next address was not held up


def test_a_webhook_send_cut_off_midway_is_repeated_with_the_same_delivery_id(store: SqliteStore) -> None:
    subscribe_both(store)
    store.add_alert(make_alert())
    marks, channels = MemoryMarks(), Channels(kill={"webhook"})
    with pytest.raises(Killed):
        notifier(store, channels, marks).notify("alert-1")

    notifier(store, channels, marks).notify("alert-1")
    notifier(store, channels, marks).notify("alert-1")  # once it is marked sent, never again

    assert len(channels.webhook_sent) == 2 and len(set(channels.webhook_sent)) == 1
    assert channels.telegram_sent == ["100500"]
    log = store.query_deliveries(DeliveryQuery(alert_id="alert-1")).items
    assert {d.status for d in log} == {DeliveryStatus.sent}


def test_a_failed_attempt_is_retried_as_usual(store: SqliteStore) -> None:
    """A send the channel refused drops its claim: the retry is not taken for an interrupted send."""
    store.save_subscription(head_subscription())
    store.add_alert(make_alert())
    marks, channels = MemoryMarks(), Channels()
    failing = channels.senders()

    def refuse(chat_id: str, message: Message) -> None:
        from worker.notify import DeliveryError

        raise DeliveryError("Telegram недоступен")

    failing.telegram = refuse
    first = Notifier(
        store,
        Settings(env="development", notify=NotifySettings(retry_base_s=0.0)),
        build_profile(),
        clock=Clock(NOON),
        senders=failing,
        sent_marks=marks,
    )
    assert first.notify("alert-1").retrying
    assert not marks.claimed

    notifier(store, channels, marks).sweep()
    assert channels.telegram_sent == ["100500"]


def test_a_run_out_of_time_starts_no_send_and_says_so(store: SqliteStore) -> None:
    subscribe_both(store)
    store.add_alert(make_alert())
    marks, channels = MemoryMarks(), Channels()

    spent = notifier(store, channels, marks).notify("alert-1", budget_s=0.0)
    assert spent.out_of_time and len(spent.pending) == 2 and not spent.sent
    assert channels.telegram_sent == [] and channels.webhook_sent == []

    done = notifier(store, channels, marks).notify("alert-1", budget_s=60.0)
    assert not done.out_of_time and len(done.sent) == 2 and not done.pending
