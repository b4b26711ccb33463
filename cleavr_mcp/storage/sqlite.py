"""SQLite backend: one file, WAL, one connection shared by the event loop and worker threads (a lock per use).

Several processes may share the file (WAL, BEGIN IMMEDIATE for writes, busy timeout); the poller's leader lease is
an exclusive `flock` on a file next to it, which the kernel frees when the holder dies. There is no cross-process
notification: one process is the whole audience of its subscription bus.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from ..private_files import connect_private_sqlite, create_private_file
from .base import Database, DatabaseError, Leader, Params, Row, Transaction


def _dict_row(cursor: sqlite3.Cursor, row: tuple) -> Row:
    return {col[0]: value for col, value in zip(cursor.description, row)}


def _run(conn: sqlite3.Connection, sql: str, params: Params) -> sqlite3.Cursor:
    try:
        return conn.execute(sql, tuple(params))
    except sqlite3.Error as exc:
        raise DatabaseError(f"SQLite: {exc}") from exc


class _SQLiteTx(Transaction):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int:
        return _run(self._conn, sql, params).rowcount

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return _run(self._conn, sql, params).fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return _run(self._conn, sql, params).fetchall()


class _FileLeader(Leader):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    async def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(create_private_file(self.path), os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class SQLiteDatabase(Database):
    dialect = "sqlite"
    shared = False

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._migrated = False

    def describe(self) -> str:
        return f"SQLite {self.path}"

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            # audit rows and event bodies name debtors: 0600 from the start, -wal and -shm included
            conn = connect_private_sqlite(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            conn.row_factory = _dict_row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn = conn
        return self._conn

    async def open(self) -> None:
        with self._lock:
            self._connect()
            if self._migrated:
                return
        from .migrations import upgrade

        self.applied_now = await upgrade(self, self._raw_transaction)
        self._migrated = True

    async def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
                self._migrated = False

    @asynccontextmanager
    async def _raw_transaction(self) -> AsyncIterator[Transaction]:
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteTx(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        await self._ready()
        with self._lock:
            return _run(self._connect(), sql, params).fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        await self._ready()
        with self._lock:
            return _run(self._connect(), sql, params).fetchall()

    def leader(self, name: str) -> Leader:
        return _FileLeader(self.path.with_name(f"{self.path.name}.{name}.lock"))
