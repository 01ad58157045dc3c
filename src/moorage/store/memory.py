"""An in-memory store with the same behaviour as the SQLite one, for tests."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moorage.store.base import AlreadyExists, Record, RecordQuery, sort_value


class MemoryStore:
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], Record] = {}
        self._tags: dict[str, dict[str, str]] = {}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        records = dict(self._records)
        tags = copy.deepcopy(self._tags)
        try:
            yield
        except BaseException:
            self._records, self._tags = records, tags
            raise

    def get(self, kind: str, name: str) -> Record | None:
        return self._records.get((kind, name.lower()))

    def insert(self, record: Record) -> None:
        if (record.kind, record.key) in self._records:
            raise AlreadyExists(f"{record.kind} {record.name}")
        self._records[(record.kind, record.key)] = record

    def put(self, record: Record) -> None:
        self._records[(record.kind, record.key)] = record

    def delete(self, kind: str, name: str) -> bool:
        return self._records.pop((kind, name.lower()), None) is not None

    def list_records(self, kind: str) -> list[Record]:
        found = [r for (k, _), r in self._records.items() if k == kind]
        return sorted(found, key=lambda r: (r.created, r.key))

    def query_records(self, kind: str, query: RecordQuery) -> list[Record]:
        selected = [r for r in self.list_records(kind) if _matches(r, query)]

        def position(record: Record) -> tuple[Any, str]:
            return (sort_value(record, query.order_by), record.key)

        selected.sort(key=position, reverse=query.descending)
        if query.after is not None:
            after = query.after
            if query.descending:
                selected = [r for r in selected if position(r) < after]
            else:
                selected = [r for r in selected if position(r) > after]
        page = selected[: query.limit]
        fields = query.doc_fields
        if fields is None:
            return page
        return [r.with_doc({f: r.doc[f] for f in fields if f in r.doc}, r.modified) for r in page]

    def get_tags(self, arn: str) -> list[tuple[str, str]]:
        return list(self._tags.get(arn, {}).items())

    def set_tags(self, arn: str, tags: list[tuple[str, str]]) -> None:
        self._tags.setdefault(arn, {}).update(tags)

    def remove_tags(self, arn: str, keys: list[str]) -> None:
        current = self._tags.get(arn, {})
        for key in keys:
            current.pop(key, None)

    def drop_tags(self, arn: str) -> None:
        self._tags.pop(arn, None)

    def close(self) -> None:
        pass


def _matches(record: Record, query: RecordQuery) -> bool:
    if query.name_contains is not None and query.name_contains.lower() not in record.key:
        return False
    for value, low, high in (
        (record.created, query.created_after, query.created_before),
        (record.modified, query.modified_after, query.modified_before),
    ):
        if (low is not None and not value > low) or (high is not None and not value < high):
            return False
    for condition in query.equals:
        field = record.doc.get(condition.field)
        if not isinstance(field, str):
            return False
        if condition.ignore_case:
            if field.lower() != condition.value.lower():
                return False
        elif field != condition.value:
            return False
    return True
