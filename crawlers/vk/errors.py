"""VK error codes → the collector exception tree (retry, pause the token, or skip the object)."""

from __future__ import annotations

from typing import Any

from crawlers.base import CredentialsError, PermanentSourceError, SourceError, TransientSourceError
from crawlers.vk.constants import (
    CREDENTIALS_CODES,
    ERROR_AUTH,
    ERROR_CAPTCHA,
    RETRY_AFTER_S,
    TRANSIENT_CODES,
)


class VkObjectError(PermanentSourceError):
    """One object cannot be read (15 access denied, 18 deleted, 30 private...): skip it and count it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"VK {code}: {message}")
        self.code = code

    @property
    def kind(self) -> str:
        """Return the error counter key, e.g. "vk/15"."""
        return error_kind(self.code)


class VkCredentialsError(CredentialsError):
    """The token is expired, revoked or needs a captcha (5, 14, 17)."""

    def __init__(self, code: int) -> None:
        super().__init__(credentials_message(code))
        self.code = code


class VkTransientError(TransientSourceError):
    """A rate limit or a server error (6, 9, 10, 29): retry later."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"VK {code}: {message}", RETRY_AFTER_S.get(code))
        self.code = code


def error_kind(code: int | str) -> str:
    """Return the counter key of an error code or name ("vk/15", "vk/http")."""
    return f"vk/{code}"


def credentials_message(code: int) -> str:
    """Return the Russian reason shown to the analyst for a credentials error."""
    if code == ERROR_CAPTCHA:
        return "VK требует капчу для токена: сбор приостановлен, нужен новый токен или ручной вход"
    if code == ERROR_AUTH:
        return "токен VK недействителен или истёк (ошибка 5): сбор приостановлен, задайте новый VK__TOKEN"
    return f"VK требует подтверждения для токена (ошибка {code}): сбор приостановлен"


def from_code(code: int, message: str) -> SourceError:
    """Return the exception a VK error code stands for."""
    if code in CREDENTIALS_CODES:
        return VkCredentialsError(code)
    if code in TRANSIENT_CODES:
        return VkTransientError(code, message)
    return VkObjectError(code, message)


def from_error_object(error: Any) -> SourceError:
    """Return the exception of a VK `error` object ({"error_code": .., "error_msg": ..})."""
    if not isinstance(error, dict):
        return VkObjectError(0, f"непонятная ошибка VK: {error!r}")
    try:
        code = int(error.get("error_code", 0))
    except (TypeError, ValueError):
        code = 0
    return from_code(code, str(error.get("error_msg", "")))
