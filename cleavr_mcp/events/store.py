"""The event inbox: every Cleavr event this server learnt of, in SQLite in the data dir, until someone handles it.

Two sources write here. Signed webhooks (`source="webhook"`) are stored with their exact verified body; the
poller (`source="poller"`) stores events it *derived* from a status change it saw (`derived=1`), so the model
can tell "Cleavr said" from "we noticed". The event id is the primary de-duplication key: Cleavr signs no
timestamp, so a replayed delivery is recognised only by its id and is stored once.

`snapshots` is the last known state of each receivable, updated by both sources; the poller derives an event
only when what it sees differs from it, so an event already announced by a webhook is not announced twice.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ..cleavr import wire
from ..private_files import connect_private_sqlite

Source = Literal["webhook", "poller"]
HandledFilter = Literal["unhandled", "handled", "all"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    receivable_id TEXT,
    user_id TEXT,
    source TEXT NOT NULL,
    derived INTEGER NOT NULL DEFAULT 0,
    created_at TEXT,
    received_at REAL NOT NULL,
    body TEXT NOT NULL,
    handled_at REAL,
    handled_note TEXT
);
CREATE INDEX IF NOT EXISTS events_unhandled ON events (handled_at, seq);
CREATE INDEX IF NOT EXISTS events_receivable ON events (receivable_id, seq);
CREATE TABLE IF NOT EXISTS snapshots (
    receivable_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    partial_paid TEXT,
    as_of TEXT NOT NULL,
    seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    id: str
    type: str
    receivable_id: str | None
    user_id: str | None
    source: Source
    derived: bool
    created_at: datetime | None
    received_at: datetime
    handled_at: datetime | None
    handled_note: str | None
    data: dict[str, Any]

    @property
    def handled(self) -> bool:
        return self.handled_at is not None


@dataclass(frozen=True)
class Snapshot:
    receivable_id: str
    status: str
    partial_paid: str | None
    as_of: str


@dataclass(frozen=True)
class AckResult:
    acknowledged: list[str]  # now handled (were unhandled)
    already_handled: list[str]
    unknown: list[str]


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _type_clause(types: Iterable[str]) -> tuple[str, list[str]]:
    """`receivable.*` → prefix match, `*` → everything, otherwise exact (the sandbox's wildcard rules)."""
    parts, args = [], []
    for pattern in types:
        if pattern == "*":
            return "", []
        if pattern.endswith(".*"):
            parts.append("type LIKE ? ESCAPE '\\'")
            args.append(pattern[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        else:
            parts.append("type = ?")
            args.append(pattern)
    return ("(" + " OR ".join(parts) + ")") if parts else "", args


class EventInbox:
    """One SQLite file; safe to share between the event loop, worker threads and other processes (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # event bodies name debtors: 0600 from the start, -wal and -shm included
        self._db = connect_private_sqlite(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- events -------------------------------------------------------------------------------------------
    def record(
        self,
        *,
        event_id: str,
        event_type: str,
        body: str,
        source: Source,
        derived: bool = False,
        receivable_id: str | None = None,
        user_id: str | None = None,
        created_at: str | None = None,
        snapshot: Snapshot | None = None,
    ) -> StoredEvent | None:
        """Store one event (committed before this returns). None when its id was stored before: a replay.

        `snapshot`, when given, is what the event says about its receivable; it is saved in the same
        transaction unless a newer state is already known."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO events (id, type, receivable_id, user_id, source, derived, created_at, "
                "received_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (event_id, event_type, receivable_id, user_id, source, int(derived), created_at, time.time(), body),
            )
            if cursor.rowcount == 0:
                return None
            if snapshot is not None:
                self._save_snapshot(db, snapshot)
            self._pair_status_change(db, event_id)
            row = db.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        return self._row(row)

    @staticmethod
    def _pair_status_change(db: sqlite3.Connection, event_id: str) -> None:
        """Cleavr sends `receivable.status_changed` next to the specific event of the same change (a dispute sends
        both status_changed → disputed and receivable.disputed). The specific one carries the details, so its
        twin is filed as handled: the model sees one thing to act on per change. Twins: same receivable, the
        status the specific event implies, created within a minute of each other."""
        from .actions import EVENT_FOR_STATUS

        row = db.execute("SELECT type, receivable_id, created_at, json_extract(body, '$.data.to') AS to_status "
                         "FROM events WHERE id = ?", (event_id,)).fetchone()
        if row is None or not row["receivable_id"] or not row["created_at"]:
            return
        specific = {str(event.value): str(status.value) for status, event in EVENT_FOR_STATUS.items()}
        near = "ABS(julianday(created_at) - julianday(?)) * 86400 <= 60"
        now = time.time()
        if row["type"] == "receivable.status_changed":
            twin_type = next((t for t, s in specific.items() if s == row["to_status"]), None)
            if twin_type and db.execute(f"SELECT 1 FROM events WHERE receivable_id = ? AND type = ? AND {near}",
                                        (row["receivable_id"], twin_type, row["created_at"])).fetchone():
                db.execute("UPDATE events SET handled_at = ?, handled_note = ? WHERE id = ? AND handled_at IS NULL",
                           (now, f"covered by the {twin_type} event", event_id))
        elif row["type"] in specific:
            db.execute(
                "UPDATE events SET handled_at = ?, handled_note = ? WHERE receivable_id = ? AND handled_at IS NULL "
                f"AND type = 'receivable.status_changed' AND json_extract(body, '$.data.to') = ? AND {near}",
                (now, f"covered by the {row['type']} event", row["receivable_id"], specific[row["type"]],
                 row["created_at"]))

    def get(self, event_id: str) -> StoredEvent | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        return self._row(row) if row else None

    def list(
        self,
        *,
        handled: HandledFilter = "all",
        types: Iterable[str] = (),
        receivable_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[StoredEvent], int]:
        """(events, total matching): unhandled first, then newest first."""
        where, args = self._where(handled=handled, types=types, receivable_id=receivable_id)
        sql_where = (" WHERE " + " AND ".join(where)) if where else ""
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM events{sql_where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT * FROM events{sql_where} ORDER BY (handled_at IS NOT NULL), seq DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [self._row(r) for r in rows], total

    def count(self, *, handled: HandledFilter = "all", receivable_id: str | None = None) -> int:
        where, args = self._where(handled=handled, types=(), receivable_id=receivable_id)
        with self._lock:
            return self._db.execute(
                "SELECT COUNT(*) FROM events" + ((" WHERE " + " AND ".join(where)) if where else ""), args
            ).fetchone()[0]

    @staticmethod
    def _where(*, handled: HandledFilter, types: Iterable[str], receivable_id: str | None) -> tuple[list[str], list]:
        where: list[str] = []
        args: list[Any] = []
        if handled == "unhandled":
            where.append("handled_at IS NULL")
        elif handled == "handled":
            where.append("handled_at IS NOT NULL")
        clause, type_args = _type_clause(types)
        if clause:
            where.append(clause)
            args += type_args
        if receivable_id:
            where.append("receivable_id = ?")
            args.append(receivable_id)
        return where, args

    def ack(self, event_ids: Iterable[str] = (), *, receivable_id: str | None = None,
            note: str | None = None) -> AckResult:
        """Mark events handled: the given ids, and/or every unhandled event of `receivable_id`."""
        ids = list(dict.fromkeys(event_ids))
        acknowledged, already, unknown = [], [], []
        now = time.time()
        with self._tx() as db:
            for event_id in ids:
                row = db.execute("SELECT handled_at FROM events WHERE id = ?", (event_id,)).fetchone()
                if row is None:
                    unknown.append(event_id)
                elif row["handled_at"] is not None:
                    already.append(event_id)
                else:
                    db.execute("UPDATE events SET handled_at = ?, handled_note = ? WHERE id = ?", (now, note, event_id))
                    acknowledged.append(event_id)
            if receivable_id:
                rows = db.execute("SELECT id FROM events WHERE receivable_id = ? AND handled_at IS NULL ORDER BY seq",
                                  (receivable_id,)).fetchall()
                db.execute("UPDATE events SET handled_at = ?, handled_note = ? WHERE receivable_id = ? "
                           "AND handled_at IS NULL", (now, note, receivable_id))
                acknowledged += [r["id"] for r in rows]
        return AckResult(acknowledged=acknowledged, already_handled=already, unknown=unknown)

    def receivable_ids(self, *, handled: HandledFilter = "unhandled", limit: int = 100) -> list[str]:
        """Receivables named by events, most recent first (for completions)."""
        where, args = self._where(handled=handled, types=(), receivable_id=None)
        where.append("receivable_id IS NOT NULL")
        with self._lock:
            rows = self._db.execute(
                f"SELECT receivable_id, MAX(seq) AS last FROM events WHERE {' AND '.join(where)} "
                "GROUP BY receivable_id ORDER BY last DESC LIMIT ?", [*args, limit]).fetchall()
        return [r["receivable_id"] for r in rows]

    # --- snapshots (the poller's memory) ---------------------------------------------------------------------
    def snapshot(self, receivable_id: str) -> Snapshot | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM snapshots WHERE receivable_id = ?", (receivable_id,)).fetchone()
        return Snapshot(row["receivable_id"], row["status"], row["partial_paid"], row["as_of"]) if row else None

    def save_snapshot(self, snapshot: Snapshot) -> None:
        with self._tx() as db:
            self._save_snapshot(db, snapshot)

    @staticmethod
    def _save_snapshot(db: sqlite3.Connection, snapshot: Snapshot) -> None:
        row = db.execute("SELECT as_of FROM snapshots WHERE receivable_id = ?", (snapshot.receivable_id,)).fetchone()
        if row is not None:
            known, incoming = _parse_time(row["as_of"]), _parse_time(snapshot.as_of)
            if known and incoming and incoming < known:
                return  # a late delivery of an older change: keep the newer state
        db.execute(
            "INSERT INTO snapshots (receivable_id, status, partial_paid, as_of, seen_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(receivable_id) DO UPDATE SET status = excluded.status, partial_paid = excluded.partial_paid, "
            "as_of = excluded.as_of, seen_at = excluded.seen_at",
            (snapshot.receivable_id, snapshot.status, snapshot.partial_paid, snapshot.as_of, time.time()),
        )

    def observe(
        self, seen: Snapshot, derive: Callable[[Snapshot | None, Snapshot], list[dict[str, Any]]]
    ) -> list[StoredEvent]:
        """What the poller saw of one receivable. In one transaction: compare with the last known state (which a
        webhook may have just updated), store the events `derive(previous, seen)` returns, save `seen`."""
        stored: list[StoredEvent] = []
        with self._tx() as db:
            row = db.execute("SELECT * FROM snapshots WHERE receivable_id = ?", (seen.receivable_id,)).fetchone()
            previous = Snapshot(row["receivable_id"], row["status"], row["partial_paid"], row["as_of"]) if row else None
            for event in derive(previous, seen):
                cursor = db.execute(
                    "INSERT OR IGNORE INTO events (id, type, receivable_id, user_id, source, derived, created_at, "
                    "received_at, body) VALUES (?, ?, ?, ?, 'poller', 1, ?, ?, ?)",
                    (event["id"], event["type"], seen.receivable_id, event.get("user_id"), event.get("created_at"),
                     time.time(), wire.dumps(event).decode()),
                )
                if cursor.rowcount:
                    stored.append(self._row(db.execute("SELECT * FROM events WHERE id = ?", (event["id"],)).fetchone()))
            self._save_snapshot(db, seen)
        return stored

    # --- meta ----------------------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       (key, value))

    # --- rows ----------------------------------------------------------------------------------------------
    @staticmethod
    def _row(row: sqlite3.Row) -> StoredEvent:
        try:
            envelope = wire.loads(row["body"].encode())
        except (ValueError, UnicodeDecodeError):
            envelope = {}
        data = envelope.get("data") if isinstance(envelope, dict) else None
        return StoredEvent(
            seq=row["seq"], id=row["id"], type=row["type"], receivable_id=row["receivable_id"], user_id=row["user_id"],
            source=row["source"], derived=bool(row["derived"]), created_at=_parse_time(row["created_at"]),
            received_at=_ts(row["received_at"]), handled_at=_ts(row["handled_at"]), handled_note=row["handled_note"],
            data=data if isinstance(data, dict) else {},
        )
