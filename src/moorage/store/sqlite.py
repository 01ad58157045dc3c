"""SQLite store: WAL journal, synchronous=FULL, schema migrated at open.

One connection, used from the server's event-loop thread (a lock guards the
rare use from worker threads). Each write outside a transaction is its own
committed transaction, so an acknowledged request is on disk before its
response is sent.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from moorage.store.base import AlreadyExists, Record

# Each entry migrates the schema from version i to i + 1.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE resources (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        created REAL NOT NULL,
        modified REAL NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE TABLE tags (
        arn TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (arn, key)
    );
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


class SqliteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        self._depth = 0
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"the data dir was written by a newer moorage (schema {version} > {SCHEMA_VERSION})"
            )
        for index in range(version, SCHEMA_VERSION):
            with self.transaction():
                for statement in MIGRATIONS[index].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={index + 1}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")

    def get(self, kind: str, name: str) -> Record | None:
        with self._lock:
            row = self._db.execute(
                "SELECT kind, name, arn, created, modified, doc FROM resources"
                " WHERE kind = ? AND key = ?",
                (kind, name.lower()),
            ).fetchone()
        return _record(row) if row else None

    def insert(self, record: Record) -> None:
        with self.transaction():
            try:
                self._db.execute(
                    "INSERT INTO resources (kind, key, name, arn, created, modified, doc)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    _row(record),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"{record.kind} {record.name}") from None

    def put(self, record: Record) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO resources (kind, key, name, arn, created, modified, doc)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                _row(record),
            )

    def delete(self, kind: str, name: str) -> bool:
        with self.transaction():
            cursor = self._db.execute(
                "DELETE FROM resources WHERE kind = ? AND key = ?", (kind, name.lower())
            )
            return cursor.rowcount > 0

    def list_records(self, kind: str) -> list[Record]:
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, name, arn, created, modified, doc FROM resources"
                " WHERE kind = ? ORDER BY created, key",
                (kind,),
            ).fetchall()
        return [_record(row) for row in rows]

    def get_tags(self, arn: str) -> list[tuple[str, str]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value FROM tags WHERE arn = ? ORDER BY seq", (arn,)
            ).fetchall()
        return [(str(k), str(v)) for k, v in rows]

    def set_tags(self, arn: str, tags: list[tuple[str, str]]) -> None:
        with self.transaction():
            row = self._db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM tags WHERE arn = ?", (arn,)
            ).fetchone()
            seq = int(row[0])
            for key, value in tags:
                seq += 1
                self._db.execute(
                    "INSERT INTO tags (arn, key, value, seq) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
                    (arn, key, value, seq),
                )

    def remove_tags(self, arn: str, keys: list[str]) -> None:
        with self.transaction():
            self._db.executemany(
                "DELETE FROM tags WHERE arn = ? AND key = ?", [(arn, key) for key in keys]
            )

    def drop_tags(self, arn: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM tags WHERE arn = ?", (arn,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _row(record: Record) -> tuple[str, str, str, str, float, float, str]:
    return (
        record.kind,
        record.key,
        record.name,
        record.arn,
        record.created,
        record.modified,
        json.dumps(record.doc, separators=(",", ":")),
    )


def _record(row: tuple[str, str, str, float, float, str]) -> Record:
    kind, name, arn, created, modified, doc = row
    return Record(kind, name, arn, float(created), float(modified), json.loads(doc))
