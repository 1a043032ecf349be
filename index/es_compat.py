"""Talk to OpenSearch-compatible servers (osmem-server in tests) with the Elasticsearch 8 client.

The client sends `Content-Type: application/vnd.elasticsearch+json; compatible-with=8`, which such
servers answer with 406; this node class sends plain `application/json` (and `application/x-ndjson`)
instead. Production against a real Elasticsearch never needs it.
"""

from __future__ import annotations

from elastic_transport import HttpHeaders, Urllib3HttpNode
from elastic_transport._node import NodeApiResponse
from elastic_transport.client_utils import DEFAULT, DefaultType

#: Compatibility media types and the plain ones sent instead.
_PLAIN = {"json": "application/json", "x-ndjson": "application/x-ndjson"}


def plain_content_type(value: str) -> str:
    """Return `value` with a vnd.elasticsearch compatibility media type replaced by the plain one."""
    if "vnd.elasticsearch+" not in value:
        return value
    kind = value.split("vnd.elasticsearch+", 1)[1].split(";", 1)[0].strip()
    return _PLAIN.get(kind, value)


class PlainJsonNode(Urllib3HttpNode):
    """A urllib3 node that sends plain JSON content types (for OpenSearch-compatible servers)."""

    def perform_request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: DefaultType | float | None = DEFAULT,
    ) -> NodeApiResponse:
        """Send the request with the Content-Type made plain."""
        plain = HttpHeaders(headers or {})
        if "content-type" in plain:
            plain["content-type"] = plain_content_type(plain["content-type"])
        return super().perform_request(
            method, target, body=body, headers=plain, request_timeout=request_timeout
        )
