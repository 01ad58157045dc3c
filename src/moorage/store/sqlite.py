"""SQLite store: WAL journal, synchronous=FULL, schema migrated at open.

One connection, used from the server's event-loop thread (a lock guards the
rare use from worker threads). Each write outside a transaction is its own
committed transaction, so an acknowledged request is on disk before its
response is sent.

Opening refuses, with :class:`StoreOpenError` (one line: what is wrong,
which file, what to do), a file that is empty, damaged (``PRAGMA
quick_check``), not a moorage database, or of a newer schema. A new database
is built under a temporary name and renamed into place, so an empty or
half-made ``moorage.db`` is never ours and always means damage.

The file's ``(st_dev, st_ino)`` is kept from open. Every write transaction
checks, before and after its COMMIT, that the path still names that file:
once it does not (the file was deleted or replaced, and SQLite would go on
writing into the unlinked inode, all lost at the next start), every write
raises :class:`~moorage.store.base.StoreUnavailable` and the cause is logged
once. Reads go on answering from the open file.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from moorage.store.base import COLUMNS, AlreadyExists, Record, RecordQuery, StoreUnavailable

log = logging.getLogger(__name__)

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
    # List operations page in SQL: in creation order by default, or filtered by status.
    """
    CREATE INDEX resources_by_created ON resources (kind, created, key);
    CREATE INDEX resources_by_status
        ON resources (kind, json_extract(doc, '$.status'), created, key);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
_TABLES = frozenset({"resources", "tags"})
# What a user can do about a database that cannot be read.
_RECOVER = (
    "restore it from a backup, or move it away (with any -wal and -shm files beside it) "
    "to start with no resources"
)


class StoreOpenError(Exception):
    """The database cannot be used; the message is one line, fit for the command line."""


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._lost: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not os.path.lexists(path):
                _create(path)
            self._identity = _identity(path)
            size = os.path.getsize(path)
        except OSError as exc:
            raise StoreOpenError(
                f"the database file {path} cannot be opened: {exc.strerror or exc}"
            ) from None
        if size == 0:
            raise StoreOpenError(
                f"the database file {path} is empty (0 bytes): it was truncated; {_RECOVER}"
            )
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreOpenError(f"the database file {path} cannot be opened: {exc}") from None
        try:
            self._open()
        except BaseException:
            self._db.close()
            raise

    def _open(self) -> None:
        path = self.path
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            (check,) = self._db.execute("PRAGMA quick_check(1)").fetchone()
            if check != "ok":
                raise StoreOpenError(f"the database file {path} is damaged ({check}); {_RECOVER}")
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            tables = {
                str(row[0])
                for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.DatabaseError as exc:
            raise StoreOpenError(_unreadable(path, exc)) from None
        if version > SCHEMA_VERSION:
            raise StoreOpenError(
                f"the database file {path} was written by a newer moorage (schema version "
                f"{version}; this moorage reads up to {SCHEMA_VERSION}): upgrade moorage, or "
                "start it with another --data-dir"
            )
        if (version == 0 and tables) or (version > 0 and not _TABLES.issubset(tables)):
            raise StoreOpenError(
                f"the database file {path} is not a moorage database (its tables are "
                f"{', '.join(sorted(tables)) or 'missing'}); {_RECOVER}"
            )
        try:
            self._migrate(version)
        except sqlite3.DatabaseError as exc:
            raise StoreOpenError(_unreadable(path, exc)) from None

    def _migrate(self, version: int) -> None:
        for index in range(version, SCHEMA_VERSION):
            with self.transaction():
                _apply(self._db, index)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outer = self._depth == 0
            if outer:
                if self._lost is not None:
                    raise StoreUnavailable(self._lost)
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
                if outer:
                    # Nothing is committed into a file that is no longer ours.
                    self._check_file()
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")
                # The file may have gone between the check and the commit:
                # then the write is not acknowledged either.
                self._check_file()

    def _check_file(self) -> None:
        try:
            current: tuple[int, int] | None = _identity(self.path)
        except FileNotFoundError:
            current = None
        except OSError as exc:
            # Cannot tell (permissions changed?): refuse this write, decide next time.
            raise StoreUnavailable(
                f"The database file {self.path} cannot be checked ({exc.strerror or exc}); "
                "the change was not saved."
            ) from None
        if current == self._identity:
            return
        what = "removed" if current is None else "replaced by another file"
        self._lost = (
            f"The database file {self.path} was {what} while the server was running, so "
            "changes can no longer be saved; restart moorage serve (resources created since "
            "its start may be lost). Reads still answer until then."
        )
        log.error("%s", self._lost)
        raise StoreUnavailable(self._lost)

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

    def query_records(self, kind: str, query: RecordQuery) -> list[Record]:
        sql, args = _select(kind, query)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        fields = query.doc_fields
        if fields is None:
            return [_record(row) for row in rows]
        return [
            Record(
                kind,
                str(row[1]),
                str(row[2]),
                float(row[3]),
                float(row[4]),
                {
                    f: v
                    for f, v in zip(fields, row[5 : 5 + len(fields)], strict=True)
                    if v is not None
                },
            )
            for row in rows
        ]

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


def _doc_field(name: str) -> str:
    """The SQL for a top-level doc field (names come from code, never from callers)."""
    if not name.isidentifier():
        raise ValueError(f"not a doc field name: {name!r}")
    return f"json_extract(doc, '$.{name}')"


def _select(kind: str, query: RecordQuery) -> tuple[str, list[Any]]:
    """The SELECT for one page of ``query``, with its parameters."""
    where = ["kind = ?"]
    args: list[Any] = [kind]
    if query.name_contains is not None:
        where.append("instr(key, ?) > 0")
        args.append(query.name_contains.lower())
    for column, op, bound in (
        ("created", ">", query.created_after),
        ("created", "<", query.created_before),
        ("modified", ">", query.modified_after),
        ("modified", "<", query.modified_before),
    ):
        if bound is not None:
            where.append(f"{column} {op} ?")
            args.append(bound)
    for condition in query.equals:
        field = _doc_field(condition.field)
        if condition.ignore_case:
            where.append(f"lower({field}) = ?")
            args.append(condition.value.lower())
        else:
            where.append(f"{field} = ?")
            args.append(condition.value)
    order = query.order_by if query.order_by in COLUMNS else _doc_field(query.order_by)
    direction = "DESC" if query.descending else "ASC"
    if query.after is not None:
        where.append(f"({order}, key) {'<' if query.descending else '>'} (?, ?)")
        args.extend(query.after)
    if query.doc_fields is None:
        columns = "doc"
    else:
        # Each field on its own (json_extract of a string field gives the string).
        columns = ", ".join(_doc_field(f) for f in query.doc_fields) or "NULL"
    sql = (
        f"SELECT kind, name, arn, created, modified, {columns} FROM resources"
        f" WHERE {' AND '.join(where)} ORDER BY {order} {direction}, key {direction} LIMIT ?"
    )
    args.append(query.limit)
    return sql, args


def _identity(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


def _apply(db: sqlite3.Connection, index: int) -> None:
    """Migration ``index`` (from version ``index`` to ``index + 1``), inside a transaction."""
    for statement in MIGRATIONS[index].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(f"PRAGMA user_version={index + 1}")


def _create(path: Path) -> None:
    """A new database at the current schema, built beside ``path`` and renamed into place.

    The caller holds the data dir's lock, so a leftover temporary file is
    from a start that died and can go.
    """
    temp = path.with_name(path.name + "-new")
    for leftover in (temp, temp.with_name(temp.name + "-journal")):
        with suppress(FileNotFoundError):
            leftover.unlink()
    db = sqlite3.connect(str(temp), isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=FULL")
        db.execute("BEGIN IMMEDIATE")
        for index in range(SCHEMA_VERSION):
            _apply(db, index)
        db.execute("COMMIT")
    finally:
        db.close()
    fd = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _unreadable(path: Path, exc: sqlite3.Error) -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return f"the database file {path} is damaged or not a database ({text}); {_RECOVER}"
    return (
        f"the database file {path} cannot be used ({text}); check its permissions and the "
        "free space on its disk"
    )


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
