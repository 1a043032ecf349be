"""Fixtures for the fuzz tests: the same API world as the security tests."""

from __future__ import annotations

from tests.security.conftest import client, make_app, seeded

__all__ = ["client", "make_app", "seeded"]
