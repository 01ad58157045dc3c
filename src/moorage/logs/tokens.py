"""Paging tokens of the Logs API: where the next page starts, carried by the caller.

GetLogEvents' tokens are CloudWatch-shaped, ``f/`` or ``b/`` and 56 digits:
the direction and the byte offset of a line boundary in the stream's file
(forwards: the next page starts there; backwards: the previous page ends
there). The same position always gives the same string, so a caller that
polls with ``nextForwardToken`` gets the very token it sent back while
nothing new has arrived, which is how AWS tells the end of a stream.

The other operations' tokens name the last item a page covered (a
position in the merge of streams for FilterLogEvents, the last name or sort
key for the Describe operations), so items that arrive between pages
neither shift nor repeat the rest. They are opaque: a version, then
URL-safe base64 of a small JSON array. A token that does not decode is
``InvalidParameterException`` (:func:`invalid_token`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from moorage.logs.errors import InvalidParameter

_POSITION = re.compile(r"([fb])/([0-9]{56})")
_VERSION = "m1."
FORWARD = "f"
BACKWARD = "b"


def invalid_token() -> InvalidParameter:
    return InvalidParameter("The specified nextToken is invalid.")


@dataclass(frozen=True)
class Position:
    """A GetLogEvents token: a direction and a line boundary of the stream's file."""

    direction: str  # FORWARD or BACKWARD
    offset: int

    def token(self) -> str:
        return f"{self.direction}/{self.offset:056d}"


def parse_position(token: str) -> Position:
    match = _POSITION.fullmatch(token)
    if match is None:
        raise invalid_token()
    return Position(match[1], int(match[2]))


def encode(*fields: Any) -> str:
    """An opaque token holding ``fields`` (JSON values)."""
    raw = json.dumps(list(fields), separators=(",", ":")).encode()
    return _VERSION + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(token: str, *kinds: type) -> list[Any]:
    """The fields of a token made by :func:`encode`, checked against ``kinds``."""
    if not token.startswith(_VERSION) or len(token) > 4096:
        raise invalid_token()
    body = token[len(_VERSION) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        fields = json.loads(raw)
    except (binascii.Error, ValueError):
        raise invalid_token() from None
    if not isinstance(fields, list) or len(fields) != len(kinds):
        raise invalid_token()
    for value, kind in zip(fields, kinds, strict=True):
        # bool is an int to Python; no token field is a bool.
        if not isinstance(value, kind) or isinstance(value, bool):
            raise invalid_token()
    return fields
