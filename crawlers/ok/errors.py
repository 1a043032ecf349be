"""OK error codes → the collector exception tree (retry, pause the credentials, or skip the object)."""

from __future__ import annotations

from typing import Any

from crawlers.base import CredentialsError, PermanentSourceError, SourceError, TransientSourceError
from crawlers.ok.constants import (
    CREDENTIALS_CODES,
    ERROR_PARAM_SESSION_EXPIRED,
    ERROR_PARAM_SIGNATURE,
    RETRY_AFTER_S,
    TRANSIENT_CODES,
)


class OkObjectError(PermanentSourceError):
    """One object cannot be read (access denied, not found, bad id): skip it and count it."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"OK {code}: {message}")
        self.code = code

    @property
    def kind(self) -> str:
        """Return the error counter key, e.g. "ok/300"."""
        return error_kind(self.code)


class OkCredentialsError(CredentialsError):
    """The application key, the session or the signature was rejected."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(credentials_message(code, message))
        self.code = code


class OkTransientError(TransientSourceError):
    """A flood or limit block or a server error: retry later."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"OK {code}: {message}", RETRY_AFTER_S.get(code, 60.0))
        self.code = code


def error_kind(code: int | str) -> str:
    """Return the counter key of an error code or name ("ok/104")."""
    return f"ok/{code}"


def credentials_message(code: int, message: str) -> str:
    """Return the Russian reason shown to the analyst."""
    if code == ERROR_PARAM_SIGNATURE:
        return (
            "OK отклонил подпись запроса (ошибка 104 PARAM_SIGNATURE): проверьте OK__SESSION_SECRET "
            "или OK__APPLICATION_SECRET_KEY; сбор приостановлен"
        )
    if code == ERROR_PARAM_SESSION_EXPIRED:
        return "сессия OK истекла (ошибка 102): задайте новый OK__SESSION_KEY; сбор приостановлен"
    return f"OK отклонил ключи приложения (ошибка {code}: {message}); сбор приостановлен"


def from_error_object(error: dict[str, Any]) -> SourceError:
    """Return the exception of an OK error answer ({"error_code": .., "error_msg": ..})."""
    try:
        code = int(error.get("error_code", 0))
    except (TypeError, ValueError):
        code = 0
    message = str(error.get("error_msg") or "")
    if code in CREDENTIALS_CODES:
        return OkCredentialsError(code, message)
    if code in TRANSIENT_CODES:
        return OkTransientError(code, message)
    return OkObjectError(code, message)
