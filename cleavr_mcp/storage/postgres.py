"""PostgreSQL backend: psycopg 3 with its async connection pool, shared by any number of replicas.

- Statements are written with `?` (the SQLite style); here they become psycopg's `%s`.
- `transaction()` is READ COMMITTED; stores make it exactly-once with unique keys (`INSERT … ON CONFLICT DO
  NOTHING` tells the second replica it lost) or row locks (`SELECT … FOR UPDATE`).
- `leader(name)` is a session advisory lock held on a connection of its own: when the holder dies, PostgreSQL
  ends its session and frees the lock, and the next replica's `acquire()` gets it.
- `notify`/`listen` are NOTIFY/LISTEN on a dedicated connection (reconnecting after a failure).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from .base import Database, DatabaseError, Leader, Params, Row, Transaction, redact_url

logger = logging.getLogger("cleavr_mcp.storage")

POOL_MIN = 1
POOL_MAX = 10


def _sql(sql: str, params: Params) -> str:
    if not params:
        return sql
    return sql.replace("%", "%%").replace("?", "%s")


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock id for a name."""
    return int.from_bytes(hashlib.sha256(f"cleavr-mcp/{name}".encode()).digest()[:8], "big", signed=True)


class _PgTx(Transaction):
    def __init__(self, conn) -> None:
        self._conn = conn

    async def _run(self, sql: str, params: Params):
        import psycopg

        try:
            return await self._conn.execute(_sql(sql, params), tuple(params) or None)
        except psycopg.Error as exc:
            raise DatabaseError(f"PostgreSQL: {exc}") from exc

    async def execute(self, sql: str, params: Params = ()) -> int:
        return (await self._run(sql, params)).rowcount

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return await (await self._run(sql, params)).fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await (await self._run(sql, params)).fetchall()


class _AdvisoryLeader(Leader):
    def __init__(self, db: PostgresDatabase, name: str) -> None:
        self._db = db
        self.key = lock_key(name)
        self._conn = None

    async def acquire(self) -> bool:
        import psycopg

        if self._conn is not None:
            try:  # still our session? (a restarted server or a dropped connection took the lock with it)
                await self._conn.execute("SELECT 1")
                return True
            except psycopg.Error:
                await self.release()
        try:
            conn = await psycopg.AsyncConnection.connect(self._db.url, autocommit=True)
        except psycopg.Error as exc:
            logger.warning("leader election: cannot connect to PostgreSQL (%s)", type(exc).__name__)
            return False
        row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))).fetchone()
        if row and row[0]:
            self._conn = conn
            return True
        await conn.close()
        return False

    async def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.close()  # ending the session frees the advisory lock
            except Exception:  # noqa: BLE001 - already gone
                pass


class PostgresDatabase(Database):
    dialect = "postgresql"
    shared = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool = None
        self._open_lock: anyio.Lock | None = None
        self._migrated = False

    def describe(self) -> str:
        return f"PostgreSQL {redact_url(self.url)}"

    async def open(self) -> None:
        if self._migrated:
            return
        if self._open_lock is None:
            self._open_lock = anyio.Lock()
        async with self._open_lock:
            if self._migrated:
                return
            try:
                from psycopg.rows import dict_row
                from psycopg_pool import AsyncConnectionPool
            except ImportError:
                raise DatabaseError("CLEAVR_MCP_DATABASE_URL is a PostgreSQL URL but psycopg is not installed: "
                                    "pip install 'cleavr-mcp[postgres]'.") from None
            if self._pool is None:
                pool = AsyncConnectionPool(self.url, min_size=POOL_MIN, max_size=POOL_MAX, open=False,
                                           kwargs={"autocommit": True, "row_factory": dict_row})
                try:
                    await pool.open(wait=True, timeout=15)
                except Exception as exc:
                    await pool.close()
                    raise DatabaseError(f"Cannot connect to {self.describe()}: {type(exc).__name__}. Check "
                                        "CLEAVR_MCP_DATABASE_URL and that the server is up.") from None
                self._pool = pool
            from .migrations import upgrade

            self.applied_now = await upgrade(self, self._raw_transaction)
            self._migrated = True

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        self._migrated = False

    @asynccontextmanager
    async def _raw_transaction(self) -> AsyncIterator[Transaction]:
        assert self._pool is not None
        async with self._pool.connection() as conn, conn.transaction():
            yield _PgTx(conn)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        await self._ready()
        async with self._pool.connection() as conn:
            return await _PgTx(conn).fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        await self._ready()
        async with self._pool.connection() as conn:
            return await _PgTx(conn).fetchall(sql, params)

    async def execute(self, sql: str, params: Params = ()) -> int:
        await self._ready()
        async with self._pool.connection() as conn:  # autocommit: one statement is its own transaction
            return await _PgTx(conn).execute(sql, params)

    def leader(self, name: str) -> Leader:
        return _AdvisoryLeader(self, name)

    async def notify(self, channel: str, payload: str) -> None:
        await self.execute("SELECT pg_notify(?, ?)", (channel, payload))

    async def listen(self, channel: str) -> AsyncIterator[str | None]:
        """Payloads on `channel`, forever; None each time LISTEN is (re)established (so a caller knows it is
        hearing from then on); reconnects after a pause when the connection drops."""
        import psycopg
        from psycopg import sql

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    yield None
                    async for notice in conn.notifies():
                        yield notice.payload
            except psycopg.Error as exc:
                logger.warning("LISTEN %s: connection lost (%s); reconnecting", channel, type(exc).__name__)
                await anyio.sleep(1.0)
