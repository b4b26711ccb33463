"""Where the server keeps its state: one interface, two backends, chosen by `CLEAVR_MCP_DATABASE_URL`.

- unset, or `sqlite:///path` → one SQLite file (default `<data_dir>/server.sqlite3`): zero set-up, one process
  (or several processes sharing one data dir on one machine);
- `postgresql://…` → PostgreSQL, shared by any number of replicas behind a load balancer.

Tools and stores never know which: they talk to `Database` (`execute`, `fetchone`, `fetchall`, `transaction`,
plus `leader` and `notify`/`listen` for the cross-replica parts). SQL is written once with `?` placeholders in the
common subset of both dialects (`INSERT … ON CONFLICT DO NOTHING`, `RETURNING`); the schema and its migrations,
for both dialects, live in `storage/migrations.py`.

Why psycopg 3 + psycopg_pool directly and not SQLAlchemy: the stores are a handful of short hand-written
statements; the things that matter across replicas (advisory locks held on a dedicated session, `SELECT … FOR
UPDATE` across an HTTP request, LISTEN/NOTIFY) are PostgreSQL features that psycopg exposes as they are, and an ORM
would add a large dependency and a second query model without removing any of that code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .base import Database, DatabaseError, Leader, Transaction, redact_url

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["Database", "DatabaseError", "Leader", "Store", "Transaction", "database_for", "open_database",
           "redact_url"]

SQLITE_FILENAME = "server.sqlite3"


def open_database(url: str | None, *, data_dir: Path | None = None) -> Database:
    """A Database for `url` (not connected yet: it connects, and migrates, on first use or `await db.open()`)."""
    if not url or url.startswith("sqlite:"):
        if url and url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
        elif url and url != "sqlite:":
            raise ValueError(f"CLEAVR_MCP_DATABASE_URL {url!r}: write a SQLite URL as sqlite:///absolute/path.sqlite3")
        else:
            if data_dir is None:
                raise ValueError("a data dir is needed for the default SQLite database")
            path = Path(data_dir) / SQLITE_FILENAME
        from .sqlite import SQLiteDatabase

        return SQLiteDatabase(path)
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        from .postgres import PostgresDatabase

        return PostgresDatabase(url.replace("postgresql+psycopg://", "postgresql://", 1))
    raise ValueError(
        f"CLEAVR_MCP_DATABASE_URL must start with postgresql:// or sqlite:/// (got {redact_url(url)!r}); "
        "leave it unset for the default SQLite file in the data dir."
    )


class Store:
    """What every state store shares: a `Database` that is already set up (and shared with the other stores), or
    the path of a SQLite file to open as one (tests and scripts)."""

    def __init__(self, where: Database | Path | str) -> None:
        self.db: Database = where if isinstance(where, Database) else open_database(f"sqlite:///{Path(where)}")

    @property
    def path(self) -> Path | None:
        return getattr(self.db, "path", None)

    async def close(self) -> None:
        await self.db.close()


def database_for(settings: Settings) -> Database:
    url = settings.database_url.get_secret_value() if settings.database_url else None
    return open_database(url, data_dir=settings.ensure_data_dir() if not url else None)


def run_blocking(fn, *args):
    """Run `await fn(*args)` to completion from synchronous code - also from inside a running event loop (a
    thread of its own runs it), for the CLI and for synchronous helpers."""
    import concurrent.futures

    import anyio

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, fn, *args).result()
