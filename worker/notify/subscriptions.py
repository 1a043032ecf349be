"""Who gets an alert: stored per-person subscriptions, plus the settings' webhook and, for incidents,
the responsible recipient (and its head at escalation step 2) from the profile.

An overdue alert addressed to a recipient (details "audience" = "recipient": its incidents' warnings
and missed deadlines) goes to that recipient (and its head) only, not to the stored subscriptions of
the head of the centre, who gets the run's digest of steps 3–4 and critical incidents instead
(docs/detection.md, "Escalation and notifications")."""

from __future__ import annotations

from collections.abc import Sequence

from index.models import Alert, AlertKind, ChannelKind, NotifyChannel, Subscription
from index.profile import Profile
from infopole.settings import Settings
from risk.alerts import AUDIENCE_RECIPIENT

#: Ids of the implicit subscriptions (never stored).
SETTINGS_WEBHOOK_ID = "settings:webhook"
RECIPIENT_PREFIX = "recipient:"
RECIPIENT_HEAD_PREFIX = "recipient-head:"


def _norm(value: str | None) -> str:
    """Return a comparable sector name: lowercase, ё→е, without the ЦУР star and extra spaces."""
    return " ".join((value or "").replace("★", "").lower().replace("ё", "е").split())


def _territory_chain(territory: str, profile: Profile) -> set[str]:
    """Return a territory and all its ancestors."""
    parents = profile.parents()
    chain = {territory}
    current = territory
    while current in parents and len(chain) < 64:
        current = parents[current]
        chain.add(current)
    return chain


def matches(subscription: Subscription, alert: Alert, profile: Profile) -> bool:
    """Return whether an alert falls within a subscription.

    Kinds, severity, sectors and territories must all match; an alert with no sector (or territory)
    passes a sector (or territory) filter, and a territory filter also takes the territory's children.
    """
    if not subscription.active or alert.severity < subscription.min_severity:
        return False
    if subscription.kinds and alert.kind not in subscription.kinds:
        return False
    if (
        subscription.sectors
        and alert.sector
        and _norm(alert.sector) not in {_norm(s) for s in subscription.sectors}
    ):
        return False
    if subscription.territories and alert.territory:
        chain = _territory_chain(alert.territory, profile)
        if not chain & set(subscription.territories):
            return False
    return True


def _recipient_subscriptions(alert: Alert, profile: Profile) -> list[Subscription]:
    """Return the recipient's (and at escalation step 2 its head's) subscription for an incident alert."""
    if alert.kind not in (AlertKind.incident, AlertKind.overdue):
        return []
    recipient_id = alert.details.get("recipient")
    recipient = profile.recipient(recipient_id) if isinstance(recipient_id, str) else None
    if recipient is None:
        return []
    out: list[Subscription] = []
    level = alert.details.get("level")
    own = _channels(recipient.email, recipient.telegram_chat_id)
    if own and (alert.kind == AlertKind.incident or level in (1, 2)):
        out.append(Subscription(id=f"{RECIPIENT_PREFIX}{recipient.id}", name=recipient.name, channels=own))
    head = _channels(recipient.head_email, recipient.head_telegram_chat_id)
    if head and alert.kind == AlertKind.overdue and level == 2:
        name = f"руководитель: {recipient.head or recipient.name}"
        out.append(Subscription(id=f"{RECIPIENT_HEAD_PREFIX}{recipient.id}", name=name, channels=head))
    return out


def _channels(email: str | None, chat_id: str | None) -> list[NotifyChannel]:
    """Return the channels of an e-mail address and a Telegram chat, those given."""
    out = []
    if email:
        out.append(NotifyChannel(kind=ChannelKind.email, address=email))
    if chat_id:
        out.append(NotifyChannel(kind=ChannelKind.telegram, address=chat_id))
    return out


def subscribers(
    alert: Alert, stored: Sequence[Subscription], settings: Settings, profile: Profile
) -> list[Subscription]:
    """Return every subscription an alert goes to: the matching stored ones and the implicit ones."""
    for_recipient = alert.kind == AlertKind.overdue and alert.details.get("audience") == AUDIENCE_RECIPIENT
    out = [] if for_recipient else [s for s in stored if matches(s, alert, profile)]
    if settings.notify.webhook_url:
        secret = settings.notify.webhook_secret.get_secret_value() or None
        channel = NotifyChannel(kind=ChannelKind.webhook, address=settings.notify.webhook_url, secret=secret)
        # A machine receiver: every alert at once, no quiet hours, no hourly limit.
        out.append(
            Subscription(
                id=SETTINGS_WEBHOOK_ID,
                name="вебхук из настроек",
                channels=[channel],
                urgent_severity=1,
                max_per_hour=1_000_000,
            )
        )
    out += _recipient_subscriptions(alert, profile)
    return out
