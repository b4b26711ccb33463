"""The approval ledger's storage: the `approvals` table of the state database (`cleavr_mcp.storage`: SQLite in the
data dir, or PostgreSQL shared by replicas; the schema is migration 2 in storage/migrations.py).

Every state change is a conditional UPDATE whose row count says whether this caller won: two concurrent clicks or
two concurrent tool calls cannot both succeed - also on two replicas (READ COMMITTED re-checks the condition after
the other transaction commits).

The public approval id is a capability: only its SHA-256 is stored, so a copy of the database approves nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ...domain.approval import View
from ...storage import Store
from .model import PendingWrite

_COLUMNS = ("id_sha256, tool, principal, payload_sha256, payload, view, channel, state, answers, created_at, "
            "expires_at, decided_at, used_at")


def id_digest(approval_id: str) -> str:
    return hashlib.sha256(approval_id.encode()).hexdigest()


class ApprovalStore(Store):
    """The ledger of pending writes (see server/approvals/model.py)."""

    async def insert(self, write: PendingWrite) -> None:
        await self.db.execute(
            f"INSERT INTO approvals ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (id_digest(write.id), write.tool, write.principal, write.payload_sha256,
             json.dumps(write.payload, ensure_ascii=False, sort_keys=True), write.view.to_json(), write.channel,
             write.state, json.dumps(write.answers), write.created_at, write.expires_at, None, None))

    def _row(self, row: dict[str, Any] | None, approval_id: str = "") -> PendingWrite | None:
        if row is None:
            return None
        return PendingWrite(id=approval_id, tool=row["tool"], principal=row["principal"],
                            payload_sha256=row["payload_sha256"], payload=json.loads(row["payload"]),
                            view=View.from_json(row["view"]), channel=row["channel"], state=row["state"],
                            answers=json.loads(row["answers"] or "{}"), created_at=row["created_at"],
                            expires_at=row["expires_at"], decided_at=row["decided_at"], used_at=row["used_at"])

    async def get(self, approval_id: str) -> PendingWrite | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM approvals WHERE id_sha256 = ?", (id_digest(approval_id),))
        return self._row(row, approval_id)

    async def latest(self, tool: str, principal: str, payload_sha256: str) -> tuple[str, PendingWrite] | None:
        """The newest approval for exactly this write (its id digest, and the record without its public id)."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM approvals WHERE tool = ? AND principal = ? AND payload_sha256 = ? "
            "ORDER BY created_at DESC LIMIT 1", (tool, principal, payload_sha256))
        if row is None:
            return None
        found = self._row(row)
        assert found is not None
        return row["id_sha256"], found

    async def decide(self, approval_id: str, state: str, answers: dict[str, Any], now: float) -> bool:
        """pending → approved/declined, once, before expiry. False when someone else decided first, or too late."""
        changed = await self.db.execute(
            "UPDATE approvals SET state = ?, answers = ?, decided_at = ? "
            "WHERE id_sha256 = ? AND state = 'pending' AND expires_at > ?",
            (state, json.dumps(answers), now, id_digest(approval_id), now))
        return changed == 1

    async def decide_by_digest(self, id_sha256: str, state: str, now: float) -> bool:
        changed = await self.db.execute(
            "UPDATE approvals SET state = ?, decided_at = ? WHERE id_sha256 = ? AND state = 'pending'",
            (state, now, id_sha256))
        return changed == 1

    async def consume(self, id_sha256: str, from_state: str, now: float) -> bool:
        """approved/declined → used, once: the decision is spent by exactly one tool call."""
        changed = await self.db.execute(
            "UPDATE approvals SET state = 'used', used_at = ? WHERE id_sha256 = ? AND state = ? AND expires_at > ?",
            (now, id_sha256, from_state, now))
        return changed == 1
