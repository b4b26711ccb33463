"""The event inbox: every Cleavr event this server learnt of, in the state database, until someone handles it.

Two sources write here. Signed webhooks (`source="webhook"`) are stored with their exact verified body; the
poller (`source="poller"`) stores events it *derived* from a status change it saw (`derived=1`), so the model
can tell "Cleavr said" from "we noticed". The event id is the primary de-duplication key: Cleavr signs no
timestamp, so a replayed delivery is recognised only by its id and is stored once - also when two replicas
receive it at the same moment (the id is unique: the second insert does nothing and reports a replay).

`snapshots` is the last known state of each receivable, updated by both sources; the poller derives an event
only when what it sees differs from it, so an event already announced by a webhook is not announced twice.

Each event carries its creditor (`user_id`: the receivable's owner, stored at ingest). What a caller may read,
count or acknowledge is scoped to the creditors of the request's principal (`domain.tenancy.current_principal()`,
or `creditors=` given explicitly); an event whose creditor is unknown is seen only by principals acting for every
creditor, until `set_owner` fills it in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ..cleavr import wire
from ..domain.tenancy import current_principal
from ..storage import Store, Transaction

Source = Literal["webhook", "poller"]
HandledFilter = Literal["unhandled", "handled", "all"]
Creditors = frozenset[str] | None  # the creditors whose events a caller sees; None = every creditor


class _Caller:
    """The default scope: the creditors of the request's principal, read when the query runs."""

    def __repr__(self) -> str:
        return "CALLER"


CALLER: Any = _Caller()


def _creditors(creditors: Creditors | _Caller) -> Creditors:
    return current_principal().user_ids if isinstance(creditors, _Caller) else creditors


def _scope_clause(creditors: Creditors) -> tuple[str | None, list[str]]:
    """SQL restricting events to `creditors` (None: no restriction; an empty set: nothing)."""
    if creditors is None:
        return None, []
    if not creditors:
        return "1 = 0", []
    ordered = sorted(creditors)
    return "user_id IN (" + ", ".join("?" * len(ordered)) + ")", ordered

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
    user_id: str | None = None  # the receivable's owner (the creditor), when known


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


class EventInbox(Store):
    """The inbox tables of a state database. `EventInbox(path)` opens the SQLite file at `path`."""

    # --- events -------------------------------------------------------------------------------------------
    async def record(
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
        async with self.db.transaction() as tx:
            inserted = await tx.execute(
                "INSERT INTO events (id, type, receivable_id, user_id, source, derived, created_at, received_at, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (event_id, event_type, receivable_id, user_id, source, int(derived), created_at, time.time(), body),
            )
            if inserted == 0:
                return None
            if snapshot is not None:
                await self._save_snapshot(tx, snapshot)
            await self._pair_status_change(tx, event_id)
            row = await tx.fetchone("SELECT * FROM events WHERE id = ?", (event_id,))
        return self._row(row)

    @staticmethod
    async def _pair_status_change(tx: Transaction, event_id: str) -> None:
        """Cleavr sends `receivable.status_changed` next to the specific event of the same change (a dispute sends
        both status_changed → disputed and receivable.disputed). The specific one carries the details, so its
        twin is filed as handled: the model sees one thing to act on per change. Twins: same receivable, the
        status the specific event implies, created within a minute of each other (compared here, in Python, so
        the SQL stays the same in both dialects and an odd timestamp never fails the insert)."""
        from .actions import EVENT_FOR_STATUS

        row = await tx.fetchone("SELECT type, receivable_id, created_at, body FROM events WHERE id = ?", (event_id,))
        if row is None or not row["receivable_id"] or not row["created_at"]:
            return
        at = _parse_time(row["created_at"])
        if at is None:
            return
        specific = {str(event.value): str(status.value) for status, event in EVENT_FOR_STATUS.items()}

        def near(other: str | None) -> bool:
            when = _parse_time(other)
            return when is not None and abs((when - at).total_seconds()) <= 60

        now = time.time()
        if row["type"] == "receivable.status_changed":
            twin_type = next((t for t, s in specific.items() if s == _to_status(row["body"])), None)
            if twin_type is None:
                return
            twins = await tx.fetchall("SELECT created_at FROM events WHERE receivable_id = ? AND type = ?",
                                      (row["receivable_id"], twin_type))
            if any(near(t["created_at"]) for t in twins):
                await tx.execute("UPDATE events SET handled_at = ?, handled_note = ? WHERE id = ? AND handled_at IS NULL",
                                 (now, f"covered by the {twin_type} event", event_id))
        elif row["type"] in specific:
            candidates = await tx.fetchall(
                "SELECT id, created_at, body FROM events WHERE receivable_id = ? AND handled_at IS NULL "
                "AND type = 'receivable.status_changed'", (row["receivable_id"],))
            for twin in candidates:
                if _to_status(twin["body"]) == specific[row["type"]] and near(twin["created_at"]):
                    await tx.execute("UPDATE events SET handled_at = ?, handled_note = ? WHERE id = ?",
                                     (now, f"covered by the {row['type']} event", twin["id"]))

    async def get(self, event_id: str, *, creditors: Creditors | _Caller = None) -> StoredEvent | None:
        """One event by id, whoever's it is (the server's own lookups); `creditors=CALLER` for a caller's read."""
        clause, args = _scope_clause(_creditors(creditors))
        row = await self.db.fetchone("SELECT * FROM events WHERE id = ?" + (f" AND {clause}" if clause else ""),
                                     (event_id, *args))
        return self._row(row) if row else None

    async def list(
        self,
        *,
        handled: HandledFilter = "all",
        types: Iterable[str] = (),
        receivable_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
        creditors: Creditors | _Caller = CALLER,
    ) -> tuple[list[StoredEvent], int]:
        """(events, total matching): unhandled first, then newest first; only `creditors`' events."""
        where, args = self._where(handled=handled, types=types, receivable_id=receivable_id, creditors=creditors)
        sql_where = (" WHERE " + " AND ".join(where)) if where else ""
        total = (await self.db.fetchone(f"SELECT COUNT(*) AS n FROM events{sql_where}", args))["n"]
        rows = await self.db.fetchall(
            f"SELECT * FROM events{sql_where} ORDER BY (handled_at IS NOT NULL), seq DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return [self._row(r) for r in rows], int(total)

    async def count(self, *, handled: HandledFilter = "all", receivable_id: str | None = None,
                    creditors: Creditors | _Caller = CALLER) -> int:
        where, args = self._where(handled=handled, types=(), receivable_id=receivable_id, creditors=creditors)
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS n FROM events" + ((" WHERE " + " AND ".join(where)) if where else ""), args)
        return int(row["n"])

    @staticmethod
    def _where(*, handled: HandledFilter, types: Iterable[str], receivable_id: str | None,
               creditors: Creditors | _Caller) -> tuple[list[str], list]:
        where: list[str] = []
        args: list[Any] = []
        scope, scope_args = _scope_clause(_creditors(creditors))
        if scope:
            where.append(scope)
            args += scope_args
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

    async def ack(self, event_ids: Iterable[str] = (), *, receivable_id: str | None = None,
                  note: str | None = None, creditors: Creditors | _Caller = CALLER) -> AckResult:
        """Mark events handled: the given ids, and/or every unhandled event of `receivable_id`, of `creditors`
        only (another creditor's event is `unknown`, as one that does not exist). Each event is acknowledged once,
        whichever replica is asked (the update is conditional on `handled_at IS NULL`)."""
        ids = list(dict.fromkeys(event_ids))
        acknowledged, already, unknown = [], [], []
        now = time.time()
        scope, scope_args = _scope_clause(_creditors(creditors))
        scoped = f" AND {scope}" if scope else ""
        async with self.db.transaction() as tx:
            for event_id in ids:
                changed = await tx.execute(
                    "UPDATE events SET handled_at = ?, handled_note = ? WHERE id = ? AND handled_at IS NULL" + scoped,
                    (now, note, event_id, *scope_args))
                if changed:
                    acknowledged.append(event_id)
                elif await tx.fetchone("SELECT 1 AS x FROM events WHERE id = ?" + scoped, (event_id, *scope_args)):
                    already.append(event_id)
                else:
                    unknown.append(event_id)
            if receivable_id:
                rows = await tx.fetchall(
                    "UPDATE events SET handled_at = ?, handled_note = ? WHERE receivable_id = ? AND handled_at IS NULL"
                    + scoped + " RETURNING id, seq", (now, note, receivable_id, *scope_args))
                acknowledged += [r["id"] for r in sorted(rows, key=lambda r: r["seq"])]
        return AckResult(acknowledged=acknowledged, already_handled=already, unknown=unknown)

    async def receivable_ids(self, *, handled: HandledFilter = "unhandled", limit: int = 100,
                             creditors: Creditors | _Caller = CALLER) -> list[str]:
        """Receivables named by `creditors`' events, most recent first (for completions)."""
        where, args = self._where(handled=handled, types=(), receivable_id=None, creditors=creditors)
        where.append("receivable_id IS NOT NULL")
        rows = await self.db.fetchall(
            f"SELECT receivable_id, MAX(seq) AS last FROM events WHERE {' AND '.join(where)} "
            "GROUP BY receivable_id ORDER BY last DESC LIMIT ?", [*args, limit])
        return [r["receivable_id"] for r in rows]

    # --- owners ------------------------------------------------------------------------------------------------
    async def known_owner(self, receivable_id: str) -> str | None:
        """The receivable's creditor as this inbox knows it (its snapshot, or another of its events)."""
        row = await self.db.fetchone("SELECT user_id FROM snapshots WHERE receivable_id = ? AND user_id IS NOT NULL",
                                     (receivable_id,))
        if row is None:
            row = await self.db.fetchone("SELECT user_id FROM events WHERE receivable_id = ? AND user_id IS NOT NULL "
                                         "ORDER BY seq LIMIT 1", (receivable_id,))
        return row["user_id"] if row else None

    async def unowned_receivables(self, limit: int = 20) -> list[str]:
        """Receivables whose events have no creditor yet (stored before owners were recorded, or unresolved)."""
        rows = await self.db.fetchall(
            "SELECT receivable_id, MAX(seq) AS last FROM events WHERE user_id IS NULL AND receivable_id IS NOT NULL "
            "GROUP BY receivable_id ORDER BY last DESC LIMIT ?", (limit,))
        return [r["receivable_id"] for r in rows]

    async def set_owner(self, receivable_id: str, user_id: str) -> int:
        """Record the receivable's creditor on its events that have none (an owner never changes); how many."""
        async with self.db.transaction() as tx:
            changed = await tx.execute("UPDATE events SET user_id = ? WHERE receivable_id = ? AND user_id IS NULL",
                                       (user_id, receivable_id))
            await tx.execute("UPDATE snapshots SET user_id = ? WHERE receivable_id = ? AND user_id IS NULL",
                             (user_id, receivable_id))
        return changed

    # --- snapshots (the poller's memory) ---------------------------------------------------------------------
    async def snapshot(self, receivable_id: str) -> Snapshot | None:
        row = await self.db.fetchone("SELECT * FROM snapshots WHERE receivable_id = ?", (receivable_id,))
        return _snapshot(row) if row else None

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        async with self.db.transaction() as tx:
            await self._save_snapshot(tx, snapshot)

    @staticmethod
    async def _save_snapshot(tx: Transaction, snapshot: Snapshot) -> None:
        row = await tx.fetchone("SELECT as_of FROM snapshots WHERE receivable_id = ?", (snapshot.receivable_id,))
        if row is not None:
            known, incoming = _parse_time(row["as_of"]), _parse_time(snapshot.as_of)
            if known and incoming and incoming < known:
                return  # a late delivery of an older change: keep the newer state
        await tx.execute(
            "INSERT INTO snapshots (receivable_id, status, partial_paid, as_of, seen_at, user_id) "
            "VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (receivable_id) DO UPDATE SET status = excluded.status, partial_paid = excluded.partial_paid, "
            "as_of = excluded.as_of, seen_at = excluded.seen_at, "
            "user_id = COALESCE(excluded.user_id, snapshots.user_id)",
            (snapshot.receivable_id, snapshot.status, snapshot.partial_paid, snapshot.as_of, time.time(),
             snapshot.user_id),
        )

    async def observe(
        self, seen: Snapshot, derive: Callable[[Snapshot | None, Snapshot], list[dict[str, Any]]]
    ) -> list[StoredEvent]:
        """What the poller saw of one receivable. In one transaction: compare with the last known state (which a
        webhook may have just updated), store the events `derive(previous, seen)` returns, save `seen`."""
        stored: list[StoredEvent] = []
        async with self.db.transaction() as tx:
            row = await tx.fetchone("SELECT * FROM snapshots WHERE receivable_id = ?", (seen.receivable_id,))
            previous = _snapshot(row) if row else None
            for event in derive(previous, seen):
                inserted = await tx.execute(
                    "INSERT INTO events (id, type, receivable_id, user_id, source, derived, created_at, "
                    "received_at, body) VALUES (?, ?, ?, ?, 'poller', 1, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    (event["id"], event["type"], seen.receivable_id, event.get("user_id") or seen.user_id,
                     event.get("created_at"),
                     time.time(), wire.dumps(event).decode()),
                )
                if inserted:
                    stored.append(self._row(await tx.fetchone("SELECT * FROM events WHERE id = ?", (event["id"],))))
            await self._save_snapshot(tx, seen)
        return stored

    # --- meta (the poller's cursors) -------------------------------------------------------------------------
    async def meta(self, key: str) -> str | None:
        row = await self.db.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return row["value"] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        await self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value))

    # --- rows ----------------------------------------------------------------------------------------------
    @staticmethod
    def _row(row: dict[str, Any]) -> StoredEvent:
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


def _snapshot(row: dict[str, Any]) -> Snapshot:
    return Snapshot(row["receivable_id"], row["status"], row["partial_paid"], row["as_of"], row.get("user_id"))


def _to_status(body: str) -> str | None:
    try:
        envelope = wire.loads(body.encode())
    except (ValueError, UnicodeDecodeError):
        return None
    data = envelope.get("data") if isinstance(envelope, dict) else None
    to = data.get("to") if isinstance(data, dict) else None
    return to if isinstance(to, str) else None
