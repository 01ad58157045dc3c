"""Both stores behave the same; SQLite persists and migrates."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moorage.store.base import AlreadyExists, Record, Store, StoreUnavailable
from moorage.store.memory import MemoryStore
from moorage.store.sqlite import SCHEMA_VERSION, SqliteStore, StoreOpenError


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
    with pytest.raises(StoreOpenError, match="newer moorage"):
        SqliteStore(path)


def test_sqlite_creates_a_new_database_in_one_step(tmp_path: Path) -> None:
    path = tmp_path / "moorage.db"
    SqliteStore(path).close()
    # Only the database (and SQLite's own WAL companions) is left: no temporary file.
    assert {p.name for p in tmp_path.iterdir()} <= {
        "moorage.db",
        "moorage.db-wal",
        "moorage.db-shm",
    }
    assert path.stat().st_size > 0


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda path: path.write_bytes(b""), "is empty"),
        (
            lambda path: path.write_bytes(b"not a database at all\n" * 400),
            "damaged or not a database",
        ),
        (lambda path: _truncate_half(path), "damaged"),
    ],
    ids=["emptied", "garbage", "truncated"],
)
def test_sqlite_refuses_a_damaged_file(tmp_path: Path, damage: Any, message: str) -> None:
    path = tmp_path / "moorage.db"
    store = SqliteStore(path)
    for index in range(300):
        store.insert(rec(f"model-{index}", doc="x" * 500))
    store.close()
    damage(path)
    with pytest.raises(StoreOpenError) as raised:
        SqliteStore(path)
    text = str(raised.value)
    assert str(path) in text and "\n" not in text
    assert message in text
    assert "restore it from a backup" in text


def _truncate_half(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def test_sqlite_refuses_a_database_of_another_program(tmp_path: Path) -> None:
    path = tmp_path / "moorage.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE songs (title TEXT)")
    other.commit()
    other.close()
    with pytest.raises(StoreOpenError, match="not a moorage database"):
        SqliteStore(path)
    assert [t for (t,) in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")] == [
        "songs"
    ]


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_sqlite_stops_writing_once_its_file_is_gone(tmp_path: Path, how: str) -> None:
    path = tmp_path / "moorage.db"
    store = SqliteStore(path)
    store.insert(rec("before"))
    if how == "removed":
        path.unlink()
    else:
        # Another database moved over it (as a restore from a backup would).
        other = tmp_path / "other" / "moorage.db"
        SqliteStore(other).close()
        os.replace(other, path)
    with pytest.raises(StoreUnavailable, match=f"was {how}") as raised:
        store.insert(rec("after"))
    assert raised.value.status == 503 and raised.value.code == "ServiceUnavailable"
    assert "restart moorage serve" in raised.value.message
    # Nothing was committed, every later write refuses at once, reads still answer.
    assert store.get("model", "after") is None
    with pytest.raises(StoreUnavailable):
        store.set_tags("arn:before", [("k", "v")])
    with pytest.raises(StoreUnavailable), store.transaction():
        pass
    assert store.get("model", "before") is not None
    assert [r.name for r in store.list_records("model")] == ["before"]
    store.close()
