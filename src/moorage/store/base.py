"""The store interface: resources as JSON documents, plus tags by ARN.

Every resource kind (model, endpoint-config, endpoint, deployment, alarm, ...)
is a :class:`Record` keyed by ``(kind, lower-cased name)``; its ``doc`` is the
JSON form written by the resource's own module. Writes inside
``transaction()`` commit together; outside one, each write commits (and is
durable) before it returns. A store that can no longer make writes durable
raises :class:`StoreUnavailable` from every write (reads go on answering).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from moorage.errors import ServiceUnavailable


class AlreadyExists(Exception):
    """A record with the same kind and name is already stored."""


class StoreUnavailable(ServiceUnavailable):
    """Writes can no longer be made durable (e.g. the database file was removed).

    A :class:`~moorage.errors.ServiceError`, so an API call that tries to
    write answers 503 ``ServiceUnavailable`` with this message; background
    loops skip their pass quietly, since the store has logged the cause once.
    """


@dataclass(frozen=True)
class Record:
    kind: str
    name: str
    arn: str
    created: float
    modified: float
    doc: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.name.lower()

    def with_doc(self, doc: Mapping[str, Any], modified: float) -> Record:
        return replace(self, doc=doc, modified=modified)


@dataclass(frozen=True)
class Equals:
    """A condition on a top-level string field of the record's doc."""

    field: str
    value: str
    ignore_case: bool = False


@dataclass(frozen=True)
class RecordQuery:
    """One page of a kind's records, filtered and sorted by the store itself.

    ``order_by`` is ``"created"``, ``"modified"``, ``"key"`` (the lower-cased
    name) or a top-level doc field; ties are broken by the key, so the order
    is total. ``after`` is the position ``(sort value, key)`` of the last
    record of the previous page: the page starts past it in the chosen order,
    which stays right while records are added or removed between pages.
    Time bounds are exclusive, as SageMaker's ``CreationTimeAfter`` and
    ``CreationTimeBefore`` are.
    """

    name_contains: str | None = None
    created_after: float | None = None
    created_before: float | None = None
    modified_after: float | None = None
    modified_before: float | None = None
    equals: tuple[Equals, ...] = ()
    order_by: str = "created"
    descending: bool = True
    after: tuple[Any, str] | None = None
    limit: int = 10
    # The doc's top-level scalar fields the caller reads (None: the whole doc).
    # A page that shows a few fields does not pay for decoding whole documents.
    doc_fields: tuple[str, ...] | None = None


COLUMNS = frozenset({"created", "modified", "key"})


def sort_value(record: Record, order_by: str) -> Any:
    """The value ``record`` is sorted by under ``order_by``."""
    if order_by in COLUMNS:
        return getattr(record, order_by)
    return record.doc.get(order_by)


class Store(Protocol):
    def get(self, kind: str, name: str) -> Record | None: ...

    def insert(self, record: Record) -> None:
        """Add a new record; :class:`AlreadyExists` if the name is taken."""
        ...

    def put(self, record: Record) -> None:
        """Insert or replace."""
        ...

    def delete(self, kind: str, name: str) -> bool: ...

    def list_records(self, kind: str) -> list[Record]: ...

    def query_records(self, kind: str, query: RecordQuery) -> list[Record]:
        """Up to ``query.limit`` records of ``kind`` matching ``query``, in its order."""
        ...

    def get_tags(self, arn: str) -> list[tuple[str, str]]: ...

    def set_tags(self, arn: str, tags: list[tuple[str, str]]) -> None:
        """Add or overwrite the given tags."""
        ...

    def remove_tags(self, arn: str, keys: list[str]) -> None: ...

    def drop_tags(self, arn: str) -> None: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...
