"""Delivery errors: whether trying again later may help."""

from __future__ import annotations


class DeliveryError(Exception):
    """A channel did not accept a message; trying again later may help (message in Russian)."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        """Keep the Russian message and, when the channel said so, how long to wait before retrying."""
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentDeliveryError(DeliveryError):
    """A channel refused a message for good (unknown chat, bad address, rejected by the server)."""
