"""Reading a server's ``GET /moorage/{page}/{endpoint}`` documents, signed.

:func:`fetch_page` is what ``moorage placement`` and ``moorage models``
(:mod:`moorage.clients.placement`, :mod:`moorage.clients.models`) read; a
refusal or an error answer is :class:`PageError` with the server's code and
message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from moorage.auth.signing import Access


class PageError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def fetch_page(
    access: Access, prefix: str, endpoint_name: str, *, timeout_s: float = 30.0
) -> dict[str, Any]:
    """The document at ``prefix`` + the endpoint's name (``prefix`` ends with ``/``)."""
    path = prefix + urllib.parse.quote(endpoint_name, safe="")
    return fetch_document(access.request("GET", path), timeout_s)


def fetch_document(request: urllib.request.Request, timeout_s: float) -> dict[str, Any]:
    """The JSON document a signed request answers; :class:`PageError` if it is refused."""
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            document: dict[str, Any] = json.loads(response.read())
            return document
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read())
        except ValueError:
            error = {}
        raise PageError(
            str(error.get("__type", f"HTTP{exc.code}")), str(error.get("message", exc.reason))
        ) from None
