"""The delivery log: every alert to every subscribed address, in order, exactly once, with retries.

`Notifier.notify(alert_id)` plans one delivery per alert × subscription × address (deterministic ids,
so planning twice changes nothing) and flushes the addresses it touched; `Notifier.sweep()` (run on the
scheduler's tick) flushes every address with work left: retries after back-off, digests after quiet hours
or the hourly limit.

Flushing one address sends its pending deliveries in creation order (`seq`). A failed attempt is written
to the delivery's log and the address stops there until the back-off passes (base × 2^(attempts − 1),
at most `retry_max_s`, longer when the channel asks), so later alerts never overtake an earlier one; a
permanent refusal (unknown chat, bad address) fails that delivery at once and the rest go on. A delivery
is marked sent right after the channel accepted it — first in Redis (`SentMarks`, a fast write no other
writer holds up), then in the log. Held deliveries whose time has come go out together as one digest. An
alert acknowledged before its message left is skipped. One process flushes one address at a time
(`lock`: a Redis mutex in the workers, a thread lock by default).

Once per channel per recipient. Before a message leaves, its delivery (or digest) is claimed in
`SentMarks`; the claim is dropped after a failed attempt and superseded by the sent mark after success.
A claim found with no sent mark means the attempt before died mid-send (SIGKILL, a time limit), and
whether the message arrived is unknown; the flush lock makes sure nobody else is sending it now. Then:

- Telegram and e-mail are at most once: the delivery is not repeated, it is marked failed with a note
  saying so (a person must not get the same alert twice; the log and the API show the doubt);
- a webhook is repeated, with the same delivery id in its `X-Infopole-Delivery` header and body, so
  the receiver drops a repeat it did accept (at least once, deduplicated by the receiver).

A run stops starting new sends when its time budget is spent (`budget_s`, below the actor's time limit),
so a time limit never interrupts a send whose answer already came back; what is left goes next run.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast
from urllib.parse import quote

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from index.models import (
    Alert,
    ChannelKind,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    NotifyChannel,
    Subscription,
    as_utc,
    stable_id,
    utcnow,
)
from index.profile import Profile
from index.store import AlertingStore, DeliveryQuery, Store
from infopole.settings import Settings
from risk.alerts import ack_token
from worker.notify.email import send_email
from worker.notify.errors import DeliveryError, PermanentDeliveryError
from worker.notify.policy import THROTTLE_WINDOW, hold
from worker.notify.render import ACK_LABEL, Message, render_alert, render_digest
from worker.notify.subscriptions import subscribers
from worker.notify.telegram import send_telegram
from worker.notify.webhook import send_webhook

log = logging.getLogger(__name__)

#: Deliveries of one address read per flush.
FLUSH_LIMIT = 500
#: Times one flush takes the address again for deliveries planned while it held it.
FLUSH_ROUNDS = 20
#: Channels sent at most once: after a crash mid-send the message is not repeated (see the module doc).
AT_MOST_ONCE = frozenset({ChannelKind.telegram, ChannelKind.email})
#: The note of a delivery whose sending was cut off on an at-most-once channel (Russian).
INTERRUPTED_NOTE = (
    "отправка прервана сбоем, дошло ли сообщение — неизвестно; не повторяется, чтобы не прислать дважды"
)
#: Statuses that still have to go out.
OPEN = (DeliveryStatus.pending, DeliveryStatus.held)

Lock = Callable[[str], AbstractContextManager[bool]]


class NotifyStore(Store, AlertingStore):
    """A store with the delivery log (what the Notifier needs)."""


@dataclass
class Senders:
    """How messages leave, one function per channel (tests may replace them)."""

    telegram: Callable[[str, Message], None]
    email: Callable[[str, Message, str], None]
    webhook: Callable[[NotifyChannel, bytes, str], None]


@dataclass
class FlushReport:
    """What flushing did."""

    sent: list[str] = field(default_factory=list)  # delivery ids sent (alone or in a digest)
    failed: list[str] = field(default_factory=list)  # given up
    retrying: list[str] = field(default_factory=list)  # a failed attempt, will retry
    skipped: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # destinations another process was flushing
    errors: list[str] = field(default_factory=list)  # Russian, one per failed attempt
    pending: list[str] = field(default_factory=list)  # `notify`: the alert's deliveries still to go now
    out_of_time: bool = False  # the run's time budget ran out before everything due was sent

    def merge(self, other: FlushReport) -> FlushReport:
        """Return this report with `other` appended."""
        for name in ("sent", "failed", "retrying", "skipped", "busy", "errors", "pending"):
            getattr(self, name).extend(getattr(other, name))
        self.out_of_time = self.out_of_time or other.out_of_time
        return self

    @property
    def unfinished(self) -> bool:
        """Return whether something is left to send soon (a pending delivery, a retry or a busy address).

        Held deliveries do not count: quiet hours and the hourly limit hold them on purpose, and the
        periodic `sweep` sends them.
        """
        return bool(self.pending or self.retrying or self.busy)


_local_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)


@contextmanager
def thread_lock(destination: str) -> Iterator[bool]:
    """Hold a process-local lock of one destination; yield False when another thread holds it."""
    lock = _local_locks[destination]
    acquired = lock.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()


#: Extend a held lock's TTL, but only while it is still ours (KEYS[1] = key, ARGV = token, ttl ms).
_RENEW_LUA = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)


def _keep_alive(client: Redis, key: str, token: str, ttl_ms: int, stop: threading.Event) -> None:
    """Renew a held lock every third of its TTL until `stop` is set or the lock is lost."""
    while not stop.wait(ttl_ms / 3000):
        try:
            if not client.eval(_RENEW_LUA, 1, key, token, ttl_ms):
                return
        except Exception:  # the broker is down: the lock lapses after its TTL, as it should
            log.warning("notify lock %s: renewal failed", key, exc_info=True)
            return


def redis_lock(client: Redis, ttl_ms: int) -> Lock:
    """Return a lock of destinations shared by every worker: a Redis key set with NX and a TTL.

    While held, a daemon thread renews the TTL, so a long flush keeps its lock and a killed worker's
    lock lapses within `ttl_ms` instead of blocking the address for the longest flush there could be.
    """

    @contextmanager
    def lock(destination: str) -> Iterator[bool]:
        key = f"infopole:notify:flush:{destination}"
        token = uuid.uuid4().hex
        acquired = bool(client.set(key, token, nx=True, px=ttl_ms))
        stop = threading.Event()
        if acquired:
            threading.Thread(target=_keep_alive, args=(client, key, token, ttl_ms, stop), daemon=True).start()
        try:
            yield acquired
        finally:
            stop.set()
            if acquired and client.get(key) in (token, token.encode()):
                client.delete(key)

    return lock


class SentMarks(Protocol):
    """A fast record of what a channel accepted, written before the (slower) delivery log is."""

    def was_sent(self, key: str) -> bool:
        """Return whether the delivery or digest `key` was accepted by its channel already."""
        ...

    def mark_sent(self, key: str) -> None:
        """Record that the channel accepted the delivery or digest `key`."""
        ...

    def claim(self, key: str) -> bool:
        """Record that `key` is about to be sent; return False if an earlier attempt claimed it already."""
        ...

    def release(self, key: str) -> None:
        """Drop the claim of `key` after an attempt that surely failed (the next one is a plain retry)."""
        ...


#: How long a channel's acceptance is remembered in Redis (s).
SENT_MARK_TTL_S = 30 * 24 * 3600


@dataclass
class RedisSentMarks:
    """Sent marks in Redis: a crash between "accepted" and the delivery log's write repeats nothing."""

    client: Redis

    def was_sent(self, key: str) -> bool:
        """Return whether `key` was marked sent."""
        return bool(self.client.exists(f"infopole:notify:sent:{key}"))

    def mark_sent(self, key: str) -> None:
        """Mark `key` sent."""
        self.client.set(f"infopole:notify:sent:{key}", "1", ex=SENT_MARK_TTL_S)

    def claim(self, key: str) -> bool:
        """Claim `key` for sending (SET NX); return False if a claim was there already."""
        return bool(self.client.set(f"infopole:notify:sending:{key}", "1", nx=True, ex=SENT_MARK_TTL_S))

    def release(self, key: str) -> None:
        """Drop the claim of `key`."""
        self.client.delete(f"infopole:notify:sending:{key}")


def delivery_id(alert_id: str, subscription_id: str, channel: NotifyChannel) -> str:
    """Return the deterministic id of one alert to one address of one subscription."""
    return stable_id("delivery", alert_id, subscription_id, channel.destination, length=20)


class Notifier:
    """Plan, send, retry and digest alert deliveries; every step is written to the delivery log."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        profile: Profile,
        *,
        clock: Callable[[], datetime] = utcnow,
        lock: Lock = thread_lock,
        senders: Senders | None = None,
        sent_marks: SentMarks | None = None,
    ) -> None:
        """Use `store` (it must implement AlertingStore) and the channels configured in `settings`."""
        if not isinstance(store, AlertingStore):
            raise TypeError(f"{type(store).__name__} не ведёт журнал доставки (AlertingStore)")
        self.store = cast(NotifyStore, store)
        self.settings = settings
        self.profile = profile
        self.clock = clock
        self.lock = lock
        self.sent_marks = sent_marks
        self.senders = senders or self._default_senders()
        self._deadline: float | None = None  # time.monotonic() after which no new send starts
        self._last_error = DeliveryError("")  # the error of the last failed `_dispatch_once`

    # Channels

    def _default_senders(self) -> Senders:
        """Return the real channels: Bot API, SMTP, HTTP."""
        cfg = self.settings
        timeout = cfg.notify.timeout_s

        def telegram(chat_id: str, message: Message) -> None:
            buttons = [(ACK_LABEL, message.ack_url)] if message.ack_url else None
            send_telegram(
                cfg.telegram.bot_api_url,
                cfg.telegram.bot_token.get_secret_value(),
                chat_id,
                message.text,
                buttons=buttons,
                timeout_s=timeout,
            )

        def email(to: str, message: Message, message_id: str) -> None:
            send_email(cfg.notify, to, message.subject, message.text, message.html, message_id=message_id)

        def webhook(channel: NotifyChannel, body: bytes, delivery: str) -> None:
            send_webhook(
                channel.address, body, secret=channel.secret, delivery_id=delivery, timeout_s=timeout
            )

        return Senders(telegram=telegram, email=email, webhook=webhook)

    def configured(self, kind: ChannelKind) -> bool:
        """Return whether this deployment can send on a channel (SMTP host, bot token; webhooks always)."""
        if kind == ChannelKind.email:
            return bool(self.settings.notify.smtp_host)
        if kind == ChannelKind.telegram:
            return bool(self.settings.telegram.bot_token.get_secret_value())
        return True

    def ack_url(self, alert_id: str, subscription_id: str) -> str | None:
        """Return the signed link that acknowledges an alert as a subscriber, or None without a public URL."""
        base = self.settings.notify.public_url.rstrip("/")
        if not base:
            return None
        token = ack_token(self.settings.ack_link_secret, alert_id, subscription_id)
        return f"{base}/alerts/{quote(alert_id)}/ack-link?s={quote(subscription_id)}&t={token}"

    # Planning

    def _recent_times(self, destination: str, now: datetime) -> list[datetime]:
        """Return the times of messages to `destination` in the last hour: sent ones and those about to go."""
        page = self.store.query_deliveries(
            DeliveryQuery(
                destination=destination,
                status=[DeliveryStatus.sent, DeliveryStatus.digested, DeliveryStatus.pending],
                newest_first=True,
                limit=200,
            )
        )
        since = now - THROTTLE_WINDOW
        times: dict[str, datetime] = {}
        for d in page.items:
            moment = d.sent_at or d.created_at
            if moment > since:
                times[d.digest_id or d.id] = moment  # a digest is one message
        return list(times.values())

    def plan(self, alert: Alert, stored: Sequence[Subscription] | None = None) -> list[Delivery]:
        """Write a delivery per subscribed address of `alert` (held if it must wait); return the new ones."""
        if alert.acknowledged_at is not None:
            return []
        now = as_utc(self.clock())
        stored = self.store.list_subscriptions() if stored is None else stored
        stored_ids = {s.id for s in stored}
        subs = subscribers(alert, stored, self.settings, self.profile)
        created: list[Delivery] = []
        for sub in subs:
            for channel in sub.channels:
                if not self.configured(channel.kind) and sub.id not in stored_ids:
                    continue  # the profile's recipients: only over the channels this deployment has
                until, why = hold(
                    sub, alert, now, self.profile.timezone, self._recent_times(channel.destination, now)
                )
                delivery = Delivery(
                    id=delivery_id(alert.id, sub.id, channel),
                    alert_id=alert.id,
                    subscription_id=sub.id,
                    channel=channel.kind,
                    address=channel.address,
                    destination=channel.destination,
                    seq=time.time_ns(),
                    status=DeliveryStatus.held if until else DeliveryStatus.pending,
                    created_at=now,
                    next_attempt_at=until,
                    note=why,
                )
                if self.store.add_delivery(delivery):
                    created.append(delivery)
        return created

    def _start_budget(self, budget_s: float | None) -> None:
        """Start the time budget of one run (None: no limit)."""
        self._deadline = None if budget_s is None else time.monotonic() + budget_s

    def _out_of_time(self) -> bool:
        """Return whether the run's time budget is spent."""
        return self._deadline is not None and time.monotonic() > self._deadline

    def notify(self, alert_id: str, budget_s: float | None = None) -> FlushReport:
        """Plan the deliveries of one alert and flush every address it goes to (for at most `budget_s`)."""
        self._start_budget(budget_s)
        alert = self.store.get_alert(alert_id)
        if alert is None:
            log.warning("notify: alert %s not found", alert_id)
            return FlushReport()
        self.plan(alert)
        page = self.store.query_deliveries(DeliveryQuery(alert_id=alert_id, limit=FLUSH_LIMIT))
        report = FlushReport()
        for destination in dict.fromkeys(d.destination for d in page.items):
            report.merge(self.flush(destination))
        after = self.store.query_deliveries(
            DeliveryQuery(alert_id=alert_id, status=[DeliveryStatus.pending], limit=FLUSH_LIMIT)
        )
        report.pending = [d.id for d in after.items]
        return report

    def sweep(self, budget_s: float | None = None) -> FlushReport:
        """Flush every address that has deliveries left (retries, digests after quiet hours)."""
        self._start_budget(budget_s)
        page = self.store.query_deliveries(DeliveryQuery(status=list(OPEN), limit=10_000))
        report = FlushReport()
        for destination in dict.fromkeys(d.destination for d in page.items):
            report.merge(self.flush(destination))
        return report

    # Sending

    def flush(self, destination: str) -> FlushReport:
        """Send what is due to one address, in order; see the module docstring.

        After releasing the address, look once more: a delivery planned while this process held it
        was left to this process by whoever found the address busy (`report.busy`), so it is sent too.
        """
        report = FlushReport()
        for _ in range(FLUSH_ROUNDS):
            with self.lock(destination) as acquired:
                if not acquired:
                    report.busy.append(destination)
                    return report
                self._flush(destination, report)
            if not self._has_due(destination):
                break
        return report

    def _has_due(self, destination: str) -> bool:
        """Return whether the next delivery of an address in sending order may go out now."""
        now = as_utc(self.clock())
        head = self.store.query_deliveries(
            DeliveryQuery(destination=destination, status=[DeliveryStatus.pending], limit=1)
        ).items
        return bool(head) and (head[0].next_attempt_at is None or head[0].next_attempt_at <= now)

    def _flush(self, destination: str, report: FlushReport) -> None:
        """Send the due deliveries of one address (the caller holds its lock)."""
        now = as_utc(self.clock())
        items = self.store.query_deliveries(
            DeliveryQuery(destination=destination, status=list(OPEN), limit=FLUSH_LIMIT)
        ).items
        due_held: list[tuple[Delivery, Alert]] = []
        for delivery in items:
            alert = self.store.get_alert(delivery.alert_id)
            if alert is None or alert.acknowledged_at is not None:
                why = "уведомление удалено" if alert is None else "принято до отправки"
                self._finish(delivery, DeliveryStatus.skipped, now, note=why)
                report.skipped.append(delivery.id)
                continue
            waiting = delivery.next_attempt_at is not None and delivery.next_attempt_at > now
            if delivery.status == DeliveryStatus.held:
                if not waiting:
                    due_held.append((delivery, alert))
                continue
            if waiting:
                return  # a retry back-off: later deliveries keep their place behind this one
            if self._out_of_time():
                report.out_of_time = True
                return
            if not self._send_one(delivery, alert, now, report):
                return
        if due_held:
            if self._out_of_time():
                report.out_of_time = True
                return
            self._send_digest(due_held, now, report)

    def _backoff(self, attempts: int, error: DeliveryError) -> timedelta:
        """Return how long to wait after the `attempts`-th failed attempt."""
        cfg = self.settings.notify
        delay = min(cfg.retry_max_s, cfg.retry_base_s * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=max(delay, error.retry_after_s or 0.0))

    def _failed_attempt(
        self, deliveries: Sequence[Delivery], error: DeliveryError, now: datetime, report: FlushReport
    ) -> bool:
        """Record a failed attempt on `deliveries`; return True when the address may go on (permanent)."""
        permanent = isinstance(error, PermanentDeliveryError)
        report.errors.append(str(error))
        for delivery in deliveries:
            attempts = [*delivery.attempts, DeliveryAttempt(at=now, ok=False, error=str(error))]
            failed_count = sum(1 for a in attempts if not a.ok)
            if permanent or failed_count >= self.settings.notify.max_attempts:
                note = str(error) if permanent else f"канал недоступен, попыток: {failed_count}"
                self.store.save_delivery(
                    delivery.model_copy(
                        update={
                            "status": DeliveryStatus.failed,
                            "attempts": attempts,
                            "last_error": str(error),
                            "next_attempt_at": None,
                            "note": note,
                        }
                    )
                )
                report.failed.append(delivery.id)
                log.error("delivery %s to %s failed for good: %s", delivery.id, delivery.destination, error)
            else:
                self.store.save_delivery(
                    delivery.model_copy(
                        update={
                            "attempts": attempts,
                            "last_error": str(error),
                            "next_attempt_at": now + self._backoff(failed_count, error),
                        }
                    )
                )
                report.retrying.append(delivery.id)
                log.warning(
                    "delivery %s to %s: attempt %d failed: %s",
                    delivery.id,
                    delivery.destination,
                    failed_count,
                    error,
                )
        return permanent or all(d.id in report.failed for d in deliveries)

    def _finish(
        self,
        delivery: Delivery,
        status: DeliveryStatus,
        now: datetime,
        *,
        note: str = "",
        digest_id: str | None = None,
        attempted: bool = False,
    ) -> None:
        """Write the final state of a delivery (sent, digested or skipped)."""
        attempts = [*delivery.attempts, DeliveryAttempt(at=now, ok=True)] if attempted else delivery.attempts
        self.store.save_delivery(
            delivery.model_copy(
                update={
                    "status": status,
                    "sent_at": now if attempted else None,
                    "attempts": attempts,
                    "next_attempt_at": None,
                    "digest_id": digest_id,
                    "note": note or delivery.note,
                }
            )
        )

    def _dispatch(self, channel: NotifyChannel, message: Message, body: bytes, delivery: str) -> None:
        """Send a rendered message (or, for a webhook, its JSON body) on one channel."""
        if channel.kind == ChannelKind.telegram:
            self.senders.telegram(channel.address, message)
        elif channel.kind == ChannelKind.email:
            self.senders.email(channel.address, message, delivery)
        else:
            self.senders.webhook(channel, body, delivery)

    def _channel(self, delivery: Delivery) -> NotifyChannel:
        """Return the channel of a delivery with its secret (from the subscription or the settings)."""
        secret = None
        if delivery.channel == ChannelKind.webhook:
            sub = self.store.get_subscription(delivery.subscription_id)
            stored = (
                next((c for c in sub.channels if c.destination == delivery.destination), None)
                if sub
                else None
            )
            secret = stored.secret if stored else None
            if secret is None and delivery.address == self.settings.notify.webhook_url:
                secret = self.settings.notify.webhook_secret.get_secret_value() or None
        return NotifyChannel(kind=delivery.channel, address=delivery.address, secret=secret)

    def _alert_json(self, alert: Alert, delivery: Delivery) -> dict[str, Any]:
        """Return the webhook JSON of one alert: the alert itself plus the delivery id and the link."""
        data: dict[str, Any] = alert.model_dump(mode="json")
        data["delivery_id"] = delivery.id
        data["ack_url"] = self.ack_url(alert.id, delivery.subscription_id)
        return data

    def _claim(self, key: str, kind: ChannelKind) -> bool:
        """Claim a delivery or digest for sending; return False when an earlier attempt was cut off
        mid-send on an at-most-once channel (a webhook is sent again: its receiver deduplicates)."""
        if self.sent_marks is None or self.sent_marks.claim(key):
            return True
        if kind in AT_MOST_ONCE:
            return False
        log.warning("delivery %s: the previous attempt was cut off mid-send; sent again (same id)", key)
        return True

    def _interrupted(self, deliveries: Sequence[Delivery], now: datetime, report: FlushReport) -> None:
        """Fail deliveries whose sending was cut off on an at-most-once channel: never sent twice."""
        for delivery in deliveries:
            self.store.save_delivery(
                delivery.model_copy(
                    update={
                        "status": DeliveryStatus.failed,
                        "attempts": [
                            *delivery.attempts,
                            DeliveryAttempt(at=now, ok=False, error=INTERRUPTED_NOTE),
                        ],
                        "last_error": INTERRUPTED_NOTE,
                        "next_attempt_at": None,
                        "note": INTERRUPTED_NOTE,
                    }
                )
            )
            report.failed.append(delivery.id)
            log.error("delivery %s to %s: %s", delivery.id, delivery.destination, INTERRUPTED_NOTE)

    def _dispatch_once(self, channel: NotifyChannel, message: Message, body: bytes, key: str) -> bool:
        """Send under the claim of `key`; return True when the channel accepted it (marked sent at once).

        On a DeliveryError the claim is dropped (the next attempt is a plain retry), the error kept in
        `_last_error` and False returned. The sent mark is written in `finally`, so an exception raised
        into this thread after the channel answered (a time limit) cannot make it look unsent.
        """
        accepted = False
        try:
            self._dispatch(channel, message, body, key)
            accepted = True
        except DeliveryError as error:
            self._last_error = error
            if self.sent_marks is not None:
                self.sent_marks.release(key)
            return False
        finally:
            if accepted:
                self._mark_sent(key)
        return True

    def _mark_sent(self, key: str) -> None:
        """Mark `key` sent; a broker outage is logged, not raised.

        The channel has accepted the message, and the delivery log's write that follows records that
        too. Raising here would skip that write, and the next attempt would send the message again.
        """
        if self.sent_marks is None:
            return
        try:
            self.sent_marks.mark_sent(key)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning(
                "delivery %s was accepted; its sent mark waits for the log (broker down: %s)", key, exc
            )

    def _send_one(self, delivery: Delivery, alert: Alert, now: datetime, report: FlushReport) -> bool:
        """Send one delivery; return whether the address may go on to the next one."""
        if self.sent_marks is not None and self.sent_marks.was_sent(delivery.id):
            # Accepted before a crash that came ahead of the log's write: record it, do not repeat it.
            self._finish(delivery, DeliveryStatus.sent, now, attempted=True)
            report.sent.append(delivery.id)
            return True
        if not self._claim(delivery.id, delivery.channel):
            self._interrupted([delivery], now, report)
            return True
        message = render_alert(alert, self.ack_url(alert.id, delivery.subscription_id))
        body = json.dumps(self._alert_json(alert, delivery), ensure_ascii=False).encode("utf-8")
        if not self._dispatch_once(self._channel(delivery), message, body, delivery.id):
            return self._failed_attempt([delivery], self._last_error, now, report)
        self._finish(delivery, DeliveryStatus.sent, now, attempted=True)
        report.sent.append(delivery.id)
        log.info("alert %s sent to %s", alert.id, delivery.destination)
        return True

    def _send_digest(
        self, held: Sequence[tuple[Delivery, Alert]], now: datetime, report: FlushReport
    ) -> None:
        """Send the due held deliveries of one address as one message (alone: as itself)."""
        if len(held) == 1:
            self._send_one(held[0][0], held[0][1], now, report)
            return
        deliveries = [d for d, _ in held]
        digest = stable_id("digest", deliveries[0].destination, *[d.id for d in deliveries], length=20)
        reason = deliveries[0].note.split(" до ")[0] if deliveries[0].note else "отложены"
        since = min(d.created_at for d in deliveries)
        message = render_digest(
            [(a, self.ack_url(a.id, d.subscription_id)) for d, a in held],
            since,
            self.profile.timezone,
            reason,
        )
        body = json.dumps(
            {"kind": "digest", "digest_id": digest, "alerts": [self._alert_json(a, d) for d, a in held]},
            ensure_ascii=False,
        ).encode("utf-8")
        already = self.sent_marks is not None and self.sent_marks.was_sent(digest)
        if not already:
            if not self._claim(digest, deliveries[0].channel):
                self._interrupted(deliveries, now, report)
                return
            if not self._dispatch_once(self._channel(deliveries[0]), message, body, digest):
                self._failed_attempt(deliveries, self._last_error, now, report)
                return
        for delivery in deliveries:
            self._finish(delivery, DeliveryStatus.digested, now, digest_id=digest, attempted=True)
            report.sent.append(delivery.id)
        log.info("digest %s of %d alerts sent to %s", digest, len(deliveries), deliveries[0].destination)
