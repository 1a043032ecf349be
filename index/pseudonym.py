"""Pseudonymise personal identifiers with a keyed hash, so raw account ids never leave a collector."""

from __future__ import annotations

import hashlib
import hmac


def pseudonymise(raw_id: str, key: bytes) -> str:
    """Return a stable pseudonym (24 hex chars) for `raw_id` under `key` (HMAC-SHA256)."""
    return hmac.new(key, raw_id.encode("utf-8"), hashlib.sha256).hexdigest()[:24]
