"""One TLS context per process for the HTTPS requests and the SMTP connections of the notification channels.

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


@cache
def smtp_tls_context() -> ssl.SSLContext:
    """Return this process's TLS context for SMTP: the system's trusted roots (SSL_CERT_FILE honoured).

    A municipality's mail server may carry a certificate of the national CA installed in the system
    store, which certifi's bundle lacks; smtplib would otherwise build a context per message.
    """
    return ssl.create_default_context()
