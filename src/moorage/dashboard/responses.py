"""Every dashboard answer, with the headers that keep the pages contained.

- ``Content-Security-Policy``: ``default-src 'self'`` — scripts, styles and
  data only from the server itself, no inline script or style, no plugins —
  plus ``frame-ancestors 'none'``, ``base-uri 'none'`` and
  ``form-action 'self'``;
- ``X-Frame-Options: DENY`` (no framing, for browsers without CSP 2);
- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``;
- ``Cache-Control: no-store`` on pages and data (nothing of an endpoint is
  kept on disk by the browser); the static scripts and styles are
  ``no-cache`` (kept, but checked again each time).

JSON errors have the SageMaker JSON form (``__type`` and ``message``).
"""

from __future__ import annotations

import json
from typing import Any

from moorage.api.http import Send, send_response
from moorage.api.json_protocol import error_body

CSP = (
    b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    b"object-src 'none'"
)
_SECURITY = (
    (b"content-security-policy", CSP),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
NO_STORE = (b"cache-control", b"no-store")
REVALIDATE = (b"cache-control", b"no-cache")
JSON_TYPE = b"application/json"
HTML_TYPE = b"text/html; charset=utf-8"


async def send(
    send_: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    *,
    cache: tuple[bytes, bytes] = NO_STORE,
    extra: list[tuple[bytes, bytes]] | None = None,
    head: bool = False,
) -> None:
    headers = [*_SECURITY, cache, *(extra or [])]
    if head:
        # HEAD: the length of the body a GET would get, without the body.
        headers.append((b"content-length", str(len(body)).encode()))
        await send_(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type), *headers],
            }
        )
        await send_({"type": "http.response.body", "body": b""})
        return
    await send_response(send_, status, body, headers, content_type=content_type)


async def send_json(
    send_: Send,
    document: Any,
    *,
    status: int = 200,
    extra: list[tuple[bytes, bytes]] | None = None,
    head: bool = False,
) -> None:
    body = json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
    await send(send_, status, body, JSON_TYPE, extra=extra, head=head)


async def send_error(
    send_: Send,
    status: int,
    code: str,
    message: str,
    *,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(send_, status, error_body(code, message), JSON_TYPE, extra=extra)
