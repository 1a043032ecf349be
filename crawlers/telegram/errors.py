"""Translate Telethon errors into the collector exception tree, with a counter key for each kind.

Telethon (~35 MiB and 0.5 s to import) is imported when a Telegram source is built (`load_telethon`,
i.e. only where Telegram is configured) or an error is first translated, not with this module: every
worker registers the Telegram source, but only a centre that configured it ever talks to Telegram.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

from crawlers.base import CredentialsError, PermanentSourceError, SourceError, TransientSourceError


@cache
def _tg_errors() -> ModuleType:
    """Return telethon.errors (imported on first use)."""
    return importlib.import_module("telethon.errors")


def load_telethon() -> None:
    """Import Telethon now (a worker does it at boot when Telegram is configured, not mid-run)."""
    _tg_errors()


@cache
def _permanent() -> tuple[tuple[type[BaseException], str, str], ...]:
    """Return the errors that make one chat unreadable for good: (class, counter kind, reason)."""
    tg_errors = _tg_errors()
    return (
        (tg_errors.ChannelPrivateError, "private", "канал или чат закрыт, либо аккаунт в нём заблокирован"),
        (tg_errors.ChannelInvalidError, "invalid", "канал или чат не найден"),
        (tg_errors.ChannelBannedError, "banned", "аккаунт заблокирован в канале"),
        (tg_errors.ChannelPublicGroupNaError, "private", "группа недоступна"),
        (tg_errors.UsernameInvalidError, "username", "неверное имя канала"),
        (tg_errors.UsernameNotOccupiedError, "username", "канала с таким именем нет"),
        (tg_errors.PeerIdInvalidError, "invalid", "неизвестный id чата (его нет в кэше сессии)"),
        (tg_errors.ChatAdminRequiredError, "private", "нужны права администратора"),
        (tg_errors.MsgIdInvalidError, "invalid", "сообщение не найдено"),
    )


@cache
def _credentials() -> tuple[type[BaseException], ...]:
    """Return the errors that mean the session itself is unusable: a human must log in again."""
    tg_errors = _tg_errors()
    return (tg_errors.UnauthorizedError, tg_errors.AuthKeyError)


class ChatUnavailable(PermanentSourceError):
    """One chat cannot be read (private, banned, unknown): skip it and count `kind`."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def flood_wait_s(exc: BaseException) -> float | None:
    """Return the wait a flood error asks for (s), or None when `exc` is not a flood wait."""
    if isinstance(exc, _tg_errors().FloodError):
        seconds = getattr(exc, "seconds", None)
        if isinstance(seconds, int | float):
            return float(seconds)
        return 30.0  # a flood error without a number: wait a little, like Telethon does
    return None


def error_kind(exc: BaseException) -> str:
    """Return the counter key (`tg/private`, `tg/flood`, ...) for an error met while collecting."""
    if flood_wait_s(exc) is not None:
        return "tg/flood"
    for cls, kind, _ in _permanent():
        if isinstance(exc, cls):
            return f"tg/{kind}"
    if isinstance(exc, _credentials()):
        return "tg/session"
    if isinstance(exc, _tg_errors().RPCError):
        return f"tg/rpc/{getattr(exc, 'code', None) or 'unknown'}"
    if isinstance(exc, ConnectionError | TimeoutError | OSError):
        return "tg/network"
    return "tg/other"


def translate(exc: BaseException, target: str) -> SourceError:
    """Return the collector error for a Telethon (or network) error met while reading `target`."""
    if isinstance(exc, SourceError):
        return exc
    wait_s = flood_wait_s(exc)
    if wait_s is not None:
        return TransientSourceError(
            f"Telegram просит подождать {wait_s:.0f} с (FloodWait) при чтении {target}", retry_after_s=wait_s
        )
    for cls, kind, reason in _permanent():
        if isinstance(exc, cls):
            return ChatUnavailable(f"Telegram: {target}: {reason}", f"tg/{kind}")
    if isinstance(exc, _credentials()):
        return CredentialsError(
            f"сессия Telegram недействительна ({type(exc).__name__}): войдите заново и обновите "
            "TELEGRAM__SESSION"
        )
    tg_errors = _tg_errors()
    if isinstance(exc, tg_errors.BadRequestError | tg_errors.ForbiddenError):
        return ChatUnavailable(f"Telegram отказал в запросе к {target}: {exc}", error_kind(exc))
    if isinstance(exc, tg_errors.RPCError | ConnectionError | TimeoutError | OSError):
        return TransientSourceError(f"Telegram недоступен при чтении {target}: {exc}", retry_after_s=60.0)
    return TransientSourceError(f"Telegram: ошибка при чтении {target}: {exc!r}", retry_after_s=300.0)
