"""Imports of the centre's own history: «Инцидент Менеджмент» (ИМ) and ПОС exports → posts and incidents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from crawlers.imports.common import ImportFileError, ImportReport, Understanding
from index.profile import Profile
from index.store import Store

#: An importer reads one export file into the store and returns its report.
Importer = Callable[[Path, Store, Profile, Understanding, datetime], ImportReport]


def importer(kind: str) -> Importer:
    """Return the importer for `kind` ("im" or "pos"); raise ImportFileError (Russian) otherwise."""
    if kind == "im":
        from crawlers.imports.im import import_im

        return import_im
    if kind == "pos":
        from crawlers.imports.pos import import_pos

        return import_pos
    raise ImportFileError(f"неизвестный вид импорта {kind!r}: допустимы im (Инцидент Менеджмент) и pos (ПОС)")


__all__ = ["ImportFileError", "ImportReport", "Importer", "importer"]
