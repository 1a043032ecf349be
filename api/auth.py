"""API-key authentication and role permissions.

Keys come from `settings.api.keys` (key → role). They are kept only as SHA-256 digests in memory and
compared in constant time. A role is one of `ROLE_PERMISSIONS`, or `recipient:<id>` for a responsible
body that sees and answers only its own incidents.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

#: Header that carries the API key.
API_KEY_HEADER = "X-API-Key"
#: Cookie the web login form sets (HttpOnly, SameSite=Strict).
API_KEY_COOKIE = "infopole_key"
#: Prefix of a role bound to one recipient: "recipient:<recipient id>".
RECIPIENT_ROLE_PREFIX = "recipient:"


class Permission(StrEnum):
    """One thing a caller may do."""

    posts_read = "posts:read"
    incidents_read = "incidents:read"
    incidents_transition = "incidents:transition"
    incidents_assign = "incidents:assign"
    alerts_read = "alerts:read"
    alerts_ack = "alerts:ack"
    indicators_read = "indicators:read"
    content_plan_write = "content-plan:write"  # accept, move or drop content-plan slots
    personal_read = "personal:read"  # citizens' names in reports (otherwise pseudonymised)
    sources_read = "sources:read"  # health of collection
    subscriptions_manage = "alerts:subscriptions"  # who gets which alerts where


_ALL = frozenset(Permission)
_READ_ALL = frozenset(
    {
        Permission.posts_read,
        Permission.incidents_read,
        Permission.alerts_read,
        Permission.indicators_read,
        Permission.personal_read,
    }
)

#: What each plain role may do.
ROLE_PERMISSIONS: Mapping[str, frozenset[Permission]] = {
    "admin": _ALL,
    "head": _READ_ALL
    | {
        Permission.alerts_ack,
        Permission.incidents_transition,
        Permission.incidents_assign,
        Permission.sources_read,
        Permission.subscriptions_manage,
    },
    "analyst": _READ_ALL | {Permission.alerts_ack, Permission.sources_read},
    "info_lead": _READ_ALL | {Permission.content_plan_write},
    "cur": frozenset({Permission.indicators_read, Permission.incidents_read, Permission.posts_read}),
}

#: What a `recipient:<id>` role may do (only on incidents routed to that id).
RECIPIENT_PERMISSIONS = frozenset({Permission.incidents_read, Permission.incidents_transition})

#: Russian role names for the web UI.
ROLE_TITLES: Mapping[str, str] = {
    "admin": "администратор",
    "head": "руководитель МЦУ",
    "analyst": "аналитик",
    "info_lead": "ответственный за информационное направление",
    "cur": "ЦУР",
    "recipient": "исполнитель",
}


class AuthConfigError(ValueError):
    """The configured keys or roles are invalid (message in Russian)."""


@dataclass(frozen=True)
class Principal:
    """The caller behind a valid key: its role, the recipient it is bound to, and an audit name."""

    role: str
    fingerprint: str  # first hex digits of the key's SHA-256, to tell keys of one role apart
    recipient_id: str | None = None

    @property
    def actor(self) -> str:
        """Return the name written into audit trails and acknowledgements."""
        return f"{self.role}#{self.fingerprint}"

    @property
    def permissions(self) -> frozenset[Permission]:
        """Return what this principal may do."""
        if self.recipient_id is not None:
            return RECIPIENT_PERMISSIONS
        return ROLE_PERMISSIONS.get(self.role, frozenset())

    @property
    def title(self) -> str:
        """Return the Russian role name for the web UI."""
        if self.recipient_id is not None:
            return f"{ROLE_TITLES['recipient']} {self.recipient_id}"
        return ROLE_TITLES.get(self.role, self.role)

    def can(self, permission: Permission) -> bool:
        """Return whether this principal holds `permission`."""
        return permission in self.permissions

    def may_see_recipient(self, recipient_id: str | None) -> bool:
        """Return whether this principal may see an incident routed to `recipient_id`."""
        return self.recipient_id is None or self.recipient_id == recipient_id


def _digest(key: str) -> bytes:
    """Return the SHA-256 digest of a key."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def parse_role(role: str, known_recipients: Iterable[str] | None = None) -> str | None:
    """Validate a role string and return the recipient id it binds (or None).

    Raises AuthConfigError for an unknown role or a recipient id absent from `known_recipients`.
    """
    if role.startswith(RECIPIENT_ROLE_PREFIX):
        recipient_id = role[len(RECIPIENT_ROLE_PREFIX) :].strip()
        if not recipient_id:
            raise AuthConfigError("роль «recipient:» без id исполнителя")
        if known_recipients is not None and recipient_id not in set(known_recipients):
            raise AuthConfigError(f"роль {role!r} ссылается на исполнителя, которого нет в профиле")
        return recipient_id
    if role not in ROLE_PERMISSIONS:
        allowed = ", ".join([*ROLE_PERMISSIONS, "recipient:<id>"])
        raise AuthConfigError(f"неизвестная роль ключа API {role!r}; допустимы: {allowed}")
    return None


class KeyRing:
    """Configured API keys, held as SHA-256 digests and checked in constant time."""

    def __init__(self, keys: Mapping[str, str], known_recipients: Iterable[str] | None = None) -> None:
        """Hash `keys` (key → role); raise AuthConfigError when a role is invalid."""
        recipients = None if known_recipients is None else list(known_recipients)
        self._entries: list[tuple[bytes, Principal]] = []
        for key, role in keys.items():
            role = role.strip()
            recipient_id = parse_role(role, recipients)
            digest = _digest(key)
            principal = Principal(role=role, fingerprint=digest.hex()[:8], recipient_id=recipient_id)
            self._entries.append((digest, principal))

    def __len__(self) -> int:
        """Return the number of configured keys."""
        return len(self._entries)

    def authenticate(self, key: str | None) -> Principal | None:
        """Return the principal of `key`, or None when it is missing or unknown."""
        if not key:
            return None
        candidate = _digest(key)
        found: Principal | None = None
        for digest, principal in self._entries:  # no early exit: every entry is compared
            if hmac.compare_digest(digest, candidate):
                found = principal
        return found
