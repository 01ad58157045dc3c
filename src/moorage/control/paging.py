"""Listing with SageMaker's filters, sorting and NextToken paging.

The token is opaque to callers: the base64 JSON of the sort key and name of
the last item returned, so paging stays correct while items are added or
removed between calls (an offset would skip or repeat items).

The store's resources page in the store (:func:`page_records`): filters,
order, position and limit go into one query, so a page costs the same with
ten records or ten thousand, and only the page's records are decoded.
:func:`page` does the same over items already in memory.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from moorage import json_limits
from moorage.errors import ValidationError
from moorage.store.base import COLUMNS, Equals, Record, RecordQuery, Store, sort_value

T = TypeVar("T")

DEFAULT_MAX_RESULTS = 10


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_token: str | None


@dataclass(frozen=True)
class Listing(Generic[T]):
    """How to see an item for listing purposes."""

    name: Callable[[T], str]
    sort_keys: dict[str, Callable[[T], Any]]
    default_sort: str


def encode_token(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def decode_token(token: str) -> list[Any]:
    try:
        value = json_limits.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValidationError(
            "Invalid pagination token: the NextToken is not one moorage issued."
        ) from None
    if not isinstance(value, list) or len(value) != 2:
        raise ValidationError("Invalid pagination token: the NextToken is not one moorage issued.")
    return value


def in_time_window(value: float, after: float | None, before: float | None) -> bool:
    if after is not None and not value > after:
        return False
    return before is None or value < before


def page(items: Sequence[T], listing: Listing[T], params: dict[str, Any]) -> Page[T]:
    """Filter by NameContains, sort by SortBy/SortOrder, and cut one page."""
    needle = params.get("NameContains")
    selected = [
        item for item in items if needle is None or needle.lower() in listing.name(item).lower()
    ]
    sort_by = params.get("SortBy", listing.default_sort)
    key_fn = listing.sort_keys.get(sort_by, listing.sort_keys[listing.default_sort])
    descending = params.get("SortOrder", "Descending") == "Descending"

    def key(item: T) -> tuple[Any, str]:
        return (key_fn(item), listing.name(item).lower())

    selected.sort(key=key, reverse=descending)
    token = params.get("NextToken")
    if token:
        last = tuple(decode_token(token))
        if descending:
            selected = [item for item in selected if list(key(item)) < list(last)]
        else:
            selected = [item for item in selected if list(key(item)) > list(last)]
    limit = int(params.get("MaxResults") or DEFAULT_MAX_RESULTS)
    chunk = selected[:limit]
    next_token = encode_token(list(key(chunk[-1]))) if len(selected) > limit else None
    return Page(chunk, next_token)


def _position(token: str) -> tuple[Any, str]:
    value, key = decode_token(token)
    if not isinstance(key, str) or not isinstance(value, (str, int, float)):
        raise ValidationError("Invalid pagination token: the NextToken is not one moorage issued.")
    return value, key


def page_records(
    store: Store,
    kind: str,
    params: dict[str, Any],
    sort_columns: dict[str, str],
    default_sort: str = "CreationTime",
    equals: tuple[Equals, ...] = (),
    doc_fields: tuple[str, ...] | None = None,
) -> Page[Record]:
    """One page of ``kind``'s records for a List call's ``params``.

    ``sort_columns`` maps each ``SortBy`` value to what the store sorts by
    (``"created"``, ``"key"`` or a doc field); ``NameContains``, the
    ``CreationTime``/``LastModifiedTime`` windows, ``SortOrder``,
    ``NextToken`` and ``MaxResults`` are read from ``params``. With
    ``doc_fields``, the records' docs hold only those fields (and the one
    sorted by).
    """
    order_by = sort_columns.get(params.get("SortBy", default_sort), sort_columns[default_sort])
    token = params.get("NextToken")
    limit = int(params.get("MaxResults") or DEFAULT_MAX_RESULTS)
    query = RecordQuery(
        name_contains=params.get("NameContains"),
        created_after=params.get("CreationTimeAfter"),
        created_before=params.get("CreationTimeBefore"),
        modified_after=params.get("LastModifiedTimeAfter"),
        modified_before=params.get("LastModifiedTimeBefore"),
        equals=equals,
        order_by=order_by,
        descending=params.get("SortOrder", "Descending") == "Descending",
        after=_position(token) if token else None,
        limit=limit + 1,
    )
    if doc_fields is not None and order_by not in COLUMNS and order_by not in doc_fields:
        doc_fields = (*doc_fields, order_by)
    records = store.query_records(kind, replace(query, doc_fields=doc_fields))
    chunk = records[:limit]
    next_token = (
        encode_token([sort_value(chunk[-1], order_by), chunk[-1].key])
        if len(records) > limit
        else None
    )
    return Page(chunk, next_token)
