"""The approval ledger's storage: one table next to the server's other state (the data dir's server.sqlite3).

Kept to the same shape as `server.store.ServerStore` (a connection, a lock, small methods, portable SQL with `?`
placeholders) so it moves to another backend the same way. Every state change is a conditional UPDATE whose row
count says whether this caller won: two concurrent clicks or two concurrent tool calls cannot both succeed.

The public approval id is a capability: only its SHA-256 is stored, so a copy of the database approves nothing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from ...domain.approval import View
from .model import PendingWrite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id_sha256 TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    principal TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    payload TEXT NOT NULL,
    view TEXT NOT NULL,
    channel TEXT NOT NULL,
    state TEXT NOT NULL,
    answers TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    decided_at REAL,
    used_at REAL
);
CREATE INDEX IF NOT EXISTS approvals_by_write ON approvals (tool, principal, payload_sha256, created_at);
"""

_COLUMNS = ("id_sha256, tool, principal, payload_sha256, payload, view, channel, state, answers, created_at, "
            "expires_at, decided_at, used_at")


def id_digest(approval_id: str) -> str:
    return hashlib.sha256(approval_id.encode()).hexdigest()


class ApprovalStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def insert(self, write: PendingWrite) -> None:
        with self._lock:
            self._db.execute(
                f"INSERT INTO approvals ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (id_digest(write.id), write.tool, write.principal, write.payload_sha256,
                 json.dumps(write.payload, ensure_ascii=False, sort_keys=True), write.view.to_json(), write.channel,
                 write.state, json.dumps(write.answers), write.created_at, write.expires_at, None, None))

    def _row(self, row: tuple | None, approval_id: str = "") -> PendingWrite | None:
        if row is None:
            return None
        return PendingWrite(id=approval_id, tool=row[1], principal=row[2], payload_sha256=row[3],
                            payload=json.loads(row[4]), view=View.from_json(row[5]), channel=row[6], state=row[7],
                            answers=json.loads(row[8] or "{}"), created_at=row[9], expires_at=row[10],
                            decided_at=row[11], used_at=row[12])

    def get(self, approval_id: str) -> PendingWrite | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM approvals WHERE id_sha256 = ?",
                                   (id_digest(approval_id),)).fetchone()
        return self._row(row, approval_id)

    def latest(self, tool: str, principal: str, payload_sha256: str) -> tuple[str, PendingWrite] | None:
        """The newest approval for exactly this write (its id digest, and the record without its public id)."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM approvals WHERE tool = ? AND principal = ? AND payload_sha256 = ? "
                "ORDER BY created_at DESC LIMIT 1", (tool, principal, payload_sha256)).fetchone()
        if row is None:
            return None
        found = self._row(row)
        assert found is not None
        return row[0], found

    def decide(self, approval_id: str, state: str, answers: dict[str, Any], now: float) -> bool:
        """pending → approved/declined, once, before expiry. False when someone else decided first, or too late."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE approvals SET state = ?, answers = ?, decided_at = ? "
                "WHERE id_sha256 = ? AND state = 'pending' AND expires_at > ?",
                (state, json.dumps(answers), now, id_digest(approval_id), now))
        return cursor.rowcount == 1

    def decide_by_digest(self, id_sha256: str, state: str, now: float) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE approvals SET state = ?, decided_at = ? WHERE id_sha256 = ? AND state = 'pending'",
                (state, now, id_sha256))
        return cursor.rowcount == 1

    def consume(self, id_sha256: str, from_state: str, now: float) -> bool:
        """approved/declined → used, once: the decision is spent by exactly one tool call."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE approvals SET state = 'used', used_at = ? WHERE id_sha256 = ? AND state = ? AND expires_at > ?",
                (now, id_sha256, from_state, now))
        return cursor.rowcount == 1
