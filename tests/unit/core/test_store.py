"""Both stores behave the same; SQLite persists and migrates."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from moorage.store.base import AlreadyExists, Record, Store
from moorage.store.memory import MemoryStore
from moorage.store.sqlite import SCHEMA_VERSION, SqliteStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "db")
    yield s
    s.close()


def rec(name: str, created: float = 1.0, **doc: object) -> Record:
    return Record("model", name, f"arn:{name.lower()}", created, created, dict(doc))


def test_insert_get_case_insensitive(store: Store) -> None:
    store.insert(rec("Alpha", x=1))
    got = store.get("model", "ALPHA")
    assert got is not None and got.name == "Alpha" and got.doc == {"x": 1}
    with pytest.raises(AlreadyExists):
        store.insert(rec("alpha"))


def test_put_delete_list(store: Store) -> None:
    store.insert(rec("b", 2.0))
    store.insert(rec("a", 1.0))
    store.put(rec("b", 2.0, y=2))
    assert [r.name for r in store.list_records("model")] == ["a", "b"]
    assert store.get("model", "b").doc == {"y": 2}  # type: ignore[union-attr]
    assert store.delete("model", "A") is True
    assert store.delete("model", "a") is False
    assert store.list_records("endpoint") == []


def test_transaction_rolls_back(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.insert(rec("x"))
        store.set_tags("arn:x", [("k", "v")])
        raise RuntimeError("boom")
    assert store.get("model", "x") is None
    assert store.get_tags("arn:x") == []


def test_tags_keep_order_and_overwrite(store: Store) -> None:
    store.set_tags("arn:a", [("k1", "1"), ("k2", "2")])
    store.set_tags("arn:a", [("k1", "one"), ("k3", "3")])
    assert store.get_tags("arn:a") == [("k1", "one"), ("k2", "2"), ("k3", "3")]
    store.remove_tags("arn:a", ["k2", "missing"])
    assert store.get_tags("arn:a") == [("k1", "one"), ("k3", "3")]
    store.drop_tags("arn:a")
    assert store.get_tags("arn:a") == []


def test_sqlite_persists_and_records_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "db"
    first = SqliteStore(path)
    first.insert(rec("kept"))
    first.close()
    second = SqliteStore(path)
    assert second.get("model", "kept") is not None
    second.close()
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == SCHEMA_VERSION
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_sqlite_refuses_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "db"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer moorage"):
        SqliteStore(path)
