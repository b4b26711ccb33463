"""The sandbox's SQLite database: schema, transactions, ids, clock.

One connection per app, shared by the event loop and any thread (uvicorn may serve from a background thread), guarded
by a re-entrant lock. Writes run in `BEGIN IMMEDIATE` transactions, so two apps (or processes) on the same file are
serialised by SQLite itself; everything a request changes commits together or not at all.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ..cleavr import wire
from ..cleavr.contract import IdPrefix
from ..private_files import connect_private_sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS oauth_clients (
    client_id TEXT PRIMARY KEY, client_secret TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS oauth_codes (
    code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL, scope TEXT NOT NULL,
    code_challenge TEXT, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS access_tokens (
    token_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, scope TEXT NOT NULL, expires_at REAL NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, scope TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, email_norm TEXT NOT NULL UNIQUE, status TEXT NOT NULL, onboarding_token TEXT NOT NULL,
    created_us INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS receivables (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), status TEXT NOT NULL,
    created_us INTEGER NOT NULL, created_date TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS receivables_order ON receivables (created_us DESC, id DESC);
CREATE INDEX IF NOT EXISTS receivables_user ON receivables (user_id, status);
CREATE TABLE IF NOT EXISTS invoice_numbers (
    receivable_id TEXT NOT NULL REFERENCES receivables(id), user_id TEXT NOT NULL, number TEXT NOT NULL,
    PRIMARY KEY (receivable_id, number));
CREATE INDEX IF NOT EXISTS invoice_numbers_user ON invoice_numbers (user_id, number);
CREATE TABLE IF NOT EXISTS extractions (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_us INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT, receivable_id TEXT NOT NULL, type TEXT NOT NULL, filename TEXT NOT NULL,
    size_bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, description TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    client_id TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
    body BLOB NOT NULL, receivable_id TEXT, created_at REAL NOT NULL, PRIMARY KEY (client_id, key));
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, created_at TEXT NOT NULL,
    receivable_id TEXT, user_id TEXT, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, events TEXT NOT NULL, description TEXT,
    created_at TEXT NOT NULL, created_us INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS deliveries (
    event_id TEXT NOT NULL, webhook_id TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL, last_status INTEGER, last_error TEXT,
    delivered_at TEXT, PRIMARY KEY (event_id, webhook_id));
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at);
"""

META_CLIENT_ID = "client_id"
META_DEMO_USER = "demo_user_id"


def new_id(prefix: str, nbytes: int = 10) -> str:
    return f"{prefix}{secrets.token_hex(nbytes)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with `Z`, to the second (the contract's timestamp form)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def today() -> date:
    return utcnow().date()


class Store:
    """The database of one sandbox. Use `write()` for every change and `read()` for consistent multi-row reads."""

    def __init__(self, db_path: Path) -> None:
        self.path = Path(db_path)
        self._lock = threading.RLock()
        # holds the sandbox client secret: 0600 from the start, -wal and -shm included
        self.conn = connect_private_sqlite(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=10000")
        with self._lock:
            self.conn.executescript(SCHEMA)
        self._ensure_client()

    # --- transactions --------------------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: commits when the block ends, rolls back everything if it raises."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException as exc:
                # An error that must keep its side effects (e.g. a burnt OAuth code) says so explicitly.
                self.conn.execute("COMMIT" if getattr(exc, "commit_before_raising", False) else "ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            finally:
                self.conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    # --- meta ----------------------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def _ensure_client(self) -> None:
        # First start: mint the sandbox platform credentials. Later starts (or a second app on the file) reuse them.
        with self.write() as db:
            if db.execute("SELECT 1 FROM meta WHERE key = ?", (META_CLIENT_ID,)).fetchone():
                return
            client_id = new_id(IdPrefix.CLIENT_ID_TEST, 8)
            secret = f"{IdPrefix.CLIENT_SECRET_TEST}{secrets.token_urlsafe(24)}"
            db.execute(
                "INSERT INTO oauth_clients (client_id, client_secret, created_at) VALUES (?, ?, ?)",
                (client_id, secret, iso(utcnow())),
            )
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (META_CLIENT_ID, client_id))

    def credentials(self) -> tuple[str, str]:
        with self._lock:
            row = self.conn.execute(
                "SELECT c.client_id, c.client_secret FROM oauth_clients c JOIN meta m ON m.value = c.client_id "
                "WHERE m.key = ?",
                (META_CLIENT_ID,),
            ).fetchone()
        return row["client_id"], row["client_secret"]


def dump_doc(doc: Any) -> str:
    return wire.dumps(doc).decode()


def load_doc(text: str | bytes) -> Any:
    return wire.loads(text)


def monotonic() -> float:
    return time.monotonic()
