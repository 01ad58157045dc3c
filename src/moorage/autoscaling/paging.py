"""``MaxResults`` and ``NextToken`` of the Describe operations.

A token is the base64 JSON of the operation's name and the sort key of the
last item returned, so items added or removed between pages neither shift
nor repeat the rest. A token from elsewhere (or another operation) is
``InvalidNextTokenException``; ``MaxResults`` outside the operation's range
is ``ValidationException``, with the range in the message.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from moorage import json_limits
from moorage.autoscaling.errors import InvalidNextToken
from moorage.errors import ValidationError

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_token: str | None


def page(
    operation: str,
    items: Sequence[T],
    key: Callable[[T], list[Any]],
    params: Mapping[str, Any],
    *,
    most: int,
) -> Page[T]:
    """``items`` in the order of ``key`` (ascending), cut after the token's position."""
    limit = params.get("MaxResults")
    if limit is None:
        limit = most
    if not 1 <= limit <= most:
        raise ValidationError(f"MaxResults must be between 1 and {most}, not {limit}.")
    token = params.get("NextToken")
    selected = sorted(items, key=key)
    if token is not None:
        last = _decode(operation, token)
        selected = [item for item in selected if _after(key(item), last)]
    chunk = selected[:limit]
    next_token = None
    if len(selected) > limit:
        raw = json.dumps([operation, key(chunk[-1])]).encode()
        next_token = base64.urlsafe_b64encode(raw).decode()
    return Page(chunk, next_token)


def _after(item: list[Any], last: list[Any]) -> bool:
    try:
        return item > last
    except TypeError:
        raise InvalidNextToken("The service cannot decode the NextToken.") from None


def _decode(operation: str, token: str) -> list[Any]:
    try:
        value = json_limits.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidNextToken("The service cannot decode the NextToken.") from None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or value[0] != operation
        or not isinstance(value[1], list)
    ):
        raise InvalidNextToken("The service cannot decode the NextToken.")
    return value[1]
