"""Fixtures shared by every test package (keep this small; package-specific ones go in their folder)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.sqlite import SqliteStore

#: ../shared/data next to the repository: real data for tests (dev-only folders are never copied).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def require_shared_data(*parts: str) -> Path:
    """Return a path under ../shared/data; fail under CI=true when it is missing, else skip the test."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"shared data missing: {path}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def shared_data() -> Path:
    """Return the ../shared/data folder (see require_shared_data)."""
    return require_shared_data()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    """Return an empty SqliteStore in a temporary folder, closed after the test."""
    store = SqliteStore(tmp_path / "store" / "infopole.sqlite3")
    yield store
    store.close()
