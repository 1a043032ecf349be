"""One TLS context per process for the HTTPS requests of the notification channels.

`httpx.post` without `verify` builds a new context for every request and reads the CA bundle into it:
`python bench/notify.py` (2,000 webhook deliveries over loopback, median of 3 runs) measured 21.6 ms
of CPU per delivery and the sender's RSS +9.8 MiB, against 0.56 ms and +0.2 MiB with one context per
process. A worker of the 300 posts/s replay sends ~2.6 alerts/s.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """Return this process's TLS context (httpx's defaults: certifi roots, SSL_CERT_FILE honoured)."""
    return httpx.create_ssl_context()
