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

    def get_tags(self, arn: str) -> list[tuple[str, str]]: ...

    def set_tags(self, arn: str, tags: list[tuple[str, str]]) -> None:
        """Add or overwrite the given tags."""
        ...

    def remove_tags(self, arn: str, keys: list[str]) -> None: ...

    def drop_tags(self, arn: str) -> None: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...
