"""The server's own small SQLite file (in the data dir): spent confirmation tokens and the append-only audit log."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..private_files import connect_private_sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spent_confirmations (
    nonce TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    spent_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    tool TEXT NOT NULL,
    environment TEXT NOT NULL,
    user_id TEXT,
    payload_sha256 TEXT NOT NULL,
    confirmed_by TEXT NOT NULL,
    outcome TEXT NOT NULL,
    result_id TEXT,
    replayed INTEGER NOT NULL DEFAULT 0,
    error_code TEXT
);
-- Append-only: rows can be added, never changed or removed.
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"""


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: float
    tool: str
    environment: str
    user_id: str | None
    payload_sha256: str
    confirmed_by: str
    outcome: str
    result_id: str | None
    replayed: bool
    error_code: str | None

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at))}


class ServerStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = connect_private_sqlite(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def spend_confirmation(self, nonce: str, tool: str) -> bool:
        """Mark a confirmation token spent; False when it was spent already (a replay)."""
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO spent_confirmations (nonce, tool, spent_at) VALUES (?, ?, ?)", (nonce, tool, time.time())
                )
            except sqlite3.IntegrityError:
                return False
        return True

    def append_audit(
        self,
        *,
        tool: str,
        environment: str,
        user_id: str | None,
        payload_sha256: str,
        confirmed_by: str,
        outcome: str,
        result_id: str | None = None,
        replayed: bool = False,
        error_code: str | None = None,
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO audit (at, tool, environment, user_id, payload_sha256, confirmed_by, outcome, result_id,"
                " replayed, error_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), tool, environment, user_id, payload_sha256, confirmed_by, outcome, result_id,
                 int(replayed), error_code),
            )

    def audit_rows(self, since: float | None = None) -> Iterator[AuditRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, at, tool, environment, user_id, payload_sha256, confirmed_by, outcome, result_id, replayed,"
                " error_code FROM audit WHERE at >= ? ORDER BY seq",
                (since or 0,),
            ).fetchall()
        for row in rows:
            yield AuditRow(*row[:9], bool(row[9]), row[10])


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
