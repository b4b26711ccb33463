"""The server's own state: spent confirmation tokens and the append-only audit log, in the state database
(`cleavr_mcp.storage`: SQLite in the data dir by default, PostgreSQL when replicas share it)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..domain.tenancy import current_principal
from ..storage import Database, Store, open_database


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
    principal: str | None = None  # who asked (domain.tenancy); None on rows written before tenancy

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at))}


_AUDIT_COLUMNS = ("seq, at, tool, environment, user_id, payload_sha256, confirmed_by, outcome, result_id, replayed,"
                  " error_code, principal")


class ServerStore(Store):
    """Spent confirmations and the audit log. `ServerStore(path)` is the SQLite file at `path`;
    `ServerStore(database)` uses a database that is already set up (and shared with the other stores)."""

    async def spend_confirmation(self, nonce: str, tool: str) -> bool:
        """Mark a confirmation token spent; False when it was spent already (a replay), on any replica: the
        nonce is the primary key, so of two replicas redeeming at once exactly one insert lands."""
        changed = await self.db.execute(
            "INSERT INTO spent_confirmations (nonce, tool, spent_at) VALUES (?, ?, ?) ON CONFLICT (nonce) DO NOTHING",
            (nonce, tool, time.time()))
        return changed == 1

    async def append_audit(
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
        principal: str | None = None,
    ) -> None:
        """One audit row; `principal` defaults to the principal of the current request (domain.tenancy)."""
        if principal is None:
            principal = current_principal().name
        await self.db.execute(
            "INSERT INTO audit (at, tool, environment, user_id, payload_sha256, confirmed_by, outcome, result_id,"
            " replayed, error_code, principal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (time.time(), tool, environment, user_id, payload_sha256, confirmed_by, outcome, result_id,
             int(replayed), error_code, principal),
        )

    async def audit_rows(self, since: float | None = None, principal: str | None = None) -> list[AuditRow]:
        if principal is not None:
            rows = await self.db.fetchall(
                f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE at >= ? AND principal = ? ORDER BY seq",
                (since or 0, principal))
        else:
            rows = await self.db.fetchall(f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE at >= ? ORDER BY seq",
                                          (since or 0,))
        return list(_audit_rows(rows))

    # --- tenancy: users granted to principals, owners of ids ------------------------------------------------
    async def grant_user(self, principal: str, user_id: str) -> None:
        """A user created by `principal` (create_users) joins its creditors, on every replica."""
        await self.db.execute(
            "INSERT INTO principal_users (principal, user_id, granted_at) VALUES (?, ?, ?) "
            "ON CONFLICT (principal, user_id) DO NOTHING", (principal, user_id, time.time()))

    async def granted_users(self, principal: str) -> frozenset[str]:
        rows = await self.db.fetchall("SELECT user_id FROM principal_users WHERE principal = ?", (principal,))
        return frozenset(row["user_id"] for row in rows)

    async def remember_owner(self, kind: str, id_: str, user_id: str) -> None:
        await self.db.execute(
            "INSERT INTO id_owners (kind, id, user_id, seen_at) VALUES (?, ?, ?, ?) ON CONFLICT (kind, id) DO NOTHING",
            (kind, id_, user_id, time.time()))

    async def owner_of(self, kind: str, id_: str) -> str | None:
        row = await self.db.fetchone("SELECT user_id FROM id_owners WHERE kind = ? AND id = ?", (kind, id_))
        return row["user_id"] if row else None


def _audit_rows(rows: list[dict[str, Any]]) -> Iterator[AuditRow]:
    for row in rows:
        yield AuditRow(**{**row, "replayed": bool(row["replayed"])})


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def read_audit(settings: Any, since: float | None = None,
               principal: str | None = None) -> tuple[str, list[AuditRow]] | None:
    """For the CLI (no event loop running): (where, rows) from the configured state database; None when the
    default SQLite file does not exist yet (nothing was ever written)."""
    from ..storage import SQLITE_FILENAME, database_for, run_blocking

    if settings.database_url is None and not (settings.data_dir / SQLITE_FILENAME).exists():
        return None

    async def read() -> tuple[str, list[AuditRow]]:
        db = database_for(settings)
        try:
            return db.describe(), await ServerStore(db).audit_rows(since, principal)
        finally:
            await db.close()

    return run_blocking(read)


def audit_rows_in(where: Database | Path | str) -> list[AuditRow]:
    """Every audit row of a state database or SQLite file, from synchronous code (tests, scripts)."""
    from ..storage import run_blocking

    async def read() -> list[AuditRow]:
        store = ServerStore(open_database(where) if isinstance(where, str) and "://" in where else where)
        try:
            return await store.audit_rows()
        finally:
            await store.close()

    return run_blocking(read)
