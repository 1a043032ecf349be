"""API keys managed through the CLI: a JSON file of SHA-256 digests under the data directory.

Storage: `<data_dir>/api_keys.json` (mode 0600), one entry per key with its id, name, role, creation
and revocation times and the hex SHA-256 of the key; the key itself is printed once by
`infopole keys add` and never stored. A key is 32 random bytes (`secrets.token_urlsafe`), so a fast
hash is enough: guessing the key is as hard as inverting SHA-256 (the same practice as GitHub's tokens).
The key id is the first hex digits of that digest — the same fingerprint audit trails show as
`role#id`. Revoked keys stay in the file for the audit, marked with `revoked_at`.

`StoredKeyRing` accepts both these keys and the ones from `settings.api.keys`; it re-reads the file
when it changes, so `keys add` and `keys revoke` work without restarting the server.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ValidationError, field_validator

from api.auth import AuthConfigError, KeyRing, Principal, parse_role
from index.models import as_utc

log = logging.getLogger(__name__)

#: File name of the key store inside the data directory.
KEYS_FILE = "api_keys.json"
#: Prefix of generated keys, so a leaked key is recognisable in logs and scanners.
KEY_PREFIX = "ipk_"
#: Random bytes in a generated key.
KEY_BYTES = 32
#: Hex digits of the digest used as the key id (the audit fingerprint).
ID_LENGTH = 8
#: Longest key name.
MAX_NAME_LENGTH = 200


class KeyStoreError(ValueError):
    """The key file cannot be read or written, or a key is not found (message in Russian)."""


class StoredKey(BaseModel):
    """One CLI-managed key as stored: never the key itself, only its SHA-256."""

    id: str
    name: str = ""
    role: str
    sha256: str
    created_at: datetime
    revoked_at: datetime | None = None

    @field_validator("created_at", "revoked_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    @property
    def active(self) -> bool:
        """Return whether the key still opens the API."""
        return self.revoked_at is None


class _KeyFile(BaseModel):
    """The file's top-level document."""

    version: int = 1
    keys: list[StoredKey] = []


def keys_path(data_dir: Path) -> Path:
    """Return the key file inside `data_dir`."""
    return data_dir / KEYS_FILE


def digest_hex(key: str) -> str:
    """Return the hex SHA-256 of a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """Return a fresh random key."""
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def load_keys(path: Path) -> list[StoredKey]:
    """Return every key in the file (none when it does not exist); raise KeyStoreError when unreadable."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise KeyStoreError(f"файл ключей {path} не читается: {exc.strerror or exc}") from exc
    try:
        return _KeyFile.model_validate_json(raw).keys
    except ValidationError as exc:
        raise KeyStoreError(f"файл ключей {path} повреждён: {exc.error_count()} ошибок формата") from exc


def _write(path: Path, keys: list[StoredKey]) -> None:
    """Replace the file atomically with `keys`, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    body = _KeyFile(keys=keys).model_dump_json(indent=2)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(body)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `<path>.lock` so concurrent CLI calls do not lose each other's keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def add_key(
    path: Path,
    role: str,
    now: datetime,
    name: str = "",
    known_recipients: Iterable[str] | None = None,
) -> tuple[StoredKey, str]:
    """Create a key for `role`, store its digest and return (entry, key); the key is not kept anywhere.

    Raises AuthConfigError for an unknown role or recipient, KeyStoreError for a bad name or file.
    """
    role = role.strip()
    parse_role(role, known_recipients)
    name = " ".join(name.split())
    if len(name) > MAX_NAME_LENGTH:
        raise KeyStoreError(f"имя ключа длиннее {MAX_NAME_LENGTH} символов")
    with _locked(path):
        keys = load_keys(path)
        taken = {k.id for k in keys}
        while True:
            key = new_key()
            digest = digest_hex(key)
            if digest[:ID_LENGTH] not in taken:
                break
        entry = StoredKey(id=digest[:ID_LENGTH], name=name, role=role, sha256=digest, created_at=now)
        _write(path, [*keys, entry])
    return entry, key


def find_key(keys: list[StoredKey], ref: str) -> StoredKey:
    """Return the key whose id is `ref` or whose name is exactly `ref` (if only one has it).

    Raises KeyStoreError when no key or several keys match.
    """
    ref = ref.strip()
    by_id = [k for k in keys if k.id == ref.lower()]
    if by_id:
        return by_id[0]
    by_name = [k for k in keys if k.name and k.name == ref]
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        ids = ", ".join(k.id for k in by_name)
        raise KeyStoreError(f"с именем «{ref}» несколько ключей ({ids}); укажите id")
    raise KeyStoreError(f"ключ «{ref}» не найден; список: infopole keys list")


def revoke_key(path: Path, ref: str, now: datetime) -> StoredKey:
    """Mark the key with id (or unique name) `ref` revoked and return it; revoking twice keeps the first time.

    Raises KeyStoreError when the key is not found or the file cannot be written.
    """
    with _locked(path):
        keys = load_keys(path)
        entry = find_key(keys, ref)
        if entry.revoked_at is not None:
            return entry
        revoked = entry.model_copy(update={"revoked_at": as_utc(now)})
        _write(path, [revoked if k.id == entry.id else k for k in keys])
    return revoked


class StoredKeyRing(KeyRing):
    """The settings' keys plus the active keys of the key file, re-read whenever the file changes."""

    def __init__(
        self,
        keys: Mapping[str, str],
        known_recipients: Iterable[str] | None = None,
        path: Path | None = None,
    ) -> None:
        """Hash the settings' `keys` (key → role) and remember the key file at `path` (None: no file)."""
        recipients = None if known_recipients is None else list(known_recipients)
        super().__init__(keys, recipients)
        self._recipients = recipients
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._stored: dict[str, Principal] = {}
        self._lock = threading.Lock()

    def _file_stamp(self) -> tuple[int, int] | None:
        """Return (mtime_ns, size) of the key file, or None when it does not exist."""
        if self._path is None:
            return None
        try:
            st = self._path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _stored_principals(self) -> dict[str, Principal]:
        """Return digest → principal of the active stored keys, reloading the file if it changed."""
        stamp = self._file_stamp()
        with self._lock:
            if stamp == self._stamp:
                return self._stored
            loaded: dict[str, Principal] = {}
            try:
                entries = load_keys(self._path) if self._path is not None and stamp is not None else []
            except KeyStoreError as exc:
                log.error("API keys file ignored: %s", exc)
                entries = []
            for entry in entries:
                if not entry.active:
                    continue
                try:
                    recipient_id = parse_role(entry.role, self._recipients)
                except AuthConfigError as exc:
                    log.warning("API key %s ignored: %s", entry.id, exc)
                    continue
                loaded[entry.sha256] = Principal(
                    role=entry.role, fingerprint=entry.id, recipient_id=recipient_id
                )
            self._stored, self._stamp = loaded, stamp
            return loaded

    def __len__(self) -> int:
        """Return the number of keys that open the API now."""
        return super().__len__() + len(self._stored_principals())

    def authenticate(self, key: str | None) -> Principal | None:
        """Return the principal of `key` from the settings or the key file, or None."""
        found = super().authenticate(key)
        if found is not None or not key:
            return found
        candidate = digest_hex(key)
        for digest, principal in self._stored_principals().items():
            if hmac.compare_digest(digest, candidate):
                found = principal
        return found
