"""The storage interface every store is written against (SQLite and PostgreSQL implement it)."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Literal

Row = dict[str, Any]
Params = Sequence[Any]


class DatabaseError(Exception):
    """The database refused or could not run a statement (the message names the backend, never the password)."""


class Transaction(abc.ABC):
    """Statements inside one transaction (`?` placeholders in both dialects)."""

    @abc.abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; the number of rows it changed."""

    @abc.abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    @abc.abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...


class Leader(abc.ABC):
    """One holder at a time across every process sharing the database (the poller's leader election).

    `acquire()` is non-blocking: True when this process holds the lease now (it may call it again each pass: a
    held lease is checked, a lost one re-tried). The lease goes with the process: a killed leader's lease is free
    for the next `acquire()` elsewhere."""

    @abc.abstractmethod
    async def acquire(self) -> bool: ...

    @abc.abstractmethod
    async def release(self) -> None: ...


class Database(abc.ABC):
    dialect: Literal["sqlite", "postgresql"]
    #: True when several processes (replicas) may share this database: stores then take cross-process locks.
    shared: bool
    #: the migrations the last `open()` applied (empty when the schema was already current)
    applied_now: list[int] = []

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations (idempotent; also done on first use)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    _migrated: bool = False  # set by open() once the schema is current, cleared by close()

    async def _ready(self) -> None:
        """Connect and migrate on first use (open() is idempotent; this skips its lock once done)."""
        if not self._migrated:
            await self.open()

    @abc.abstractmethod
    def _raw_transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A transaction without the first-use open: the migrations themselves run in these."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A write transaction. SQLite: BEGIN IMMEDIATE (one writer). PostgreSQL: READ COMMITTED; take row locks
        (`FOR UPDATE`) or rely on unique keys where it matters. The body awaits only this transaction's own
        statements (SQLite holds its connection for the whole body)."""
        await self._ready()
        async with self._raw_transaction() as tx:
            yield tx

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    @abc.abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    @abc.abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    @abc.abstractmethod
    def leader(self, name: str) -> Leader: ...

    async def notify(self, channel: str, payload: str) -> None:
        """Tell every other process listening on `channel` (no-op where there are no other processes to tell)."""
        return None

    def listen(self, channel: str) -> AsyncIterator[str | None] | None:
        """Payloads notified on `channel` by any process (None items mark "listening from now on"), or None when
        this backend has no cross-process notifications (SQLite: the in-process bus is the whole audience)."""
        return None

    @abc.abstractmethod
    def describe(self) -> str:
        """What to show an operator (no password)."""

    async def schema_version(self) -> int:
        """The latest migration applied (0 before any): the schema_migrations table that `migrations` keeps."""
        row = await self.fetchone("SELECT MAX(version) AS v FROM schema_migrations")
        return int(row["v"] or 0) if row else 0


def redact_url(url: str) -> str:
    """The URL without its password, for logs and `doctor`."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:****@{netloc}"))
