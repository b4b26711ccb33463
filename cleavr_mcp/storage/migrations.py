"""The schema, as numbered migrations for both dialects, in one place.

Why a migrations table and not Alembic: Alembic sits on SQLAlchemy, which nothing else here uses; the schema is a
dozen tables written in plain SQL for two dialects. `schema_migrations` records each applied version; `upgrade()`
applies the missing ones in order, each in its own transaction with its row, so a crash leaves a clean version.
Replicas starting at once are serialised (PostgreSQL: an advisory transaction lock; SQLite: BEGIN IMMEDIATE), and
a database newer than this code is refused rather than used.

Adding a migration: append a `Migration` with the next number and the SQL for both dialects; never edit one that
has shipped. `cleavr-mcp db upgrade` applies them; so does every start.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Database, Transaction

MIGRATION_LOCK_KEY = 0x636C6D6D  # "clmm": the advisory lock id serialising migrations across replicas


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]


_APPROVALS = """id_sha256 TEXT PRIMARY KEY, tool TEXT NOT NULL, principal TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL, payload TEXT NOT NULL, view TEXT NOT NULL, channel TEXT NOT NULL,
    state TEXT NOT NULL, answers TEXT NOT NULL DEFAULT '{{}}', created_at {real} NOT NULL, expires_at {real} NOT NULL,
    decided_at {real}, used_at {real}"""

# Each event's creditor (user_id) is what the inbox filters on for a principal acting for some creditors only. The
# poller saw every receivable's owner, so snapshots keep it (a webhook's receivable is then resolved locally). Rows
# stored before this with no owner get one from another event of the same receivable; the rest stay NULL, which
# only principals acting for every creditor see, until resolved lazily from the receivable. Same SQL in both.
_EVENTS_BY_CREDITOR = (
    "ALTER TABLE snapshots ADD COLUMN user_id TEXT",
    "CREATE INDEX IF NOT EXISTS events_by_creditor ON events (user_id, handled_at, seq)",
    """UPDATE events SET user_id = (SELECT known.user_id FROM events known WHERE known.receivable_id = events.receivable_id
           AND known.user_id IS NOT NULL ORDER BY known.seq LIMIT 1)
       WHERE user_id IS NULL AND receivable_id IS NOT NULL""",
)

_SIGNIN_CODES = """code_sha256 TEXT PRIMARY KEY, principal TEXT NOT NULL, created_at {real} NOT NULL,
    expires_at {real} NOT NULL, used_at {real}"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1, "server state: spent confirmations, audit log, event inbox, snapshots, meta, OAuth tokens",
        sqlite=(
            """CREATE TABLE IF NOT EXISTS spent_confirmations (
                nonce TEXT PRIMARY KEY, tool TEXT NOT NULL, spent_at REAL NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS audit (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, tool TEXT NOT NULL,
                environment TEXT NOT NULL, user_id TEXT, payload_sha256 TEXT NOT NULL, confirmed_by TEXT NOT NULL,
                outcome TEXT NOT NULL, result_id TEXT, replayed INTEGER NOT NULL DEFAULT 0, error_code TEXT)""",
            # Append-only: rows can be added, never changed or removed.
            """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
               BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
            """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
               BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
            """CREATE TABLE IF NOT EXISTS events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
                receivable_id TEXT, user_id TEXT, source TEXT NOT NULL, derived INTEGER NOT NULL DEFAULT 0,
                created_at TEXT, received_at REAL NOT NULL, body TEXT NOT NULL, handled_at REAL, handled_note TEXT)""",
            "CREATE INDEX IF NOT EXISTS events_unhandled ON events (handled_at, seq)",
            "CREATE INDEX IF NOT EXISTS events_receivable ON events (receivable_id, seq)",
            """CREATE TABLE IF NOT EXISTS snapshots (
                receivable_id TEXT PRIMARY KEY, status TEXT NOT NULL, partial_paid TEXT, as_of TEXT NOT NULL,
                seen_at REAL NOT NULL)""",
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE IF NOT EXISTS oauth_tokens (
                name TEXT PRIMARY KEY, access_token TEXT, refresh_token TEXT, expires_at REAL, issued_at REAL,
                scope TEXT, seeded_from TEXT, generation INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL)""",
        ),
        postgresql=(
            """CREATE TABLE IF NOT EXISTS spent_confirmations (
                nonce TEXT PRIMARY KEY, tool TEXT NOT NULL, spent_at DOUBLE PRECISION NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS audit (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at DOUBLE PRECISION NOT NULL, tool TEXT NOT NULL,
                environment TEXT NOT NULL, user_id TEXT, payload_sha256 TEXT NOT NULL, confirmed_by TEXT NOT NULL,
                outcome TEXT NOT NULL, result_id TEXT, replayed INTEGER NOT NULL DEFAULT 0, error_code TEXT)""",
            """CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$""",
            """CREATE OR REPLACE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
               FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
            """CREATE TABLE IF NOT EXISTS events (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
                receivable_id TEXT, user_id TEXT, source TEXT NOT NULL, derived INTEGER NOT NULL DEFAULT 0,
                created_at TEXT, received_at DOUBLE PRECISION NOT NULL, body TEXT NOT NULL,
                handled_at DOUBLE PRECISION, handled_note TEXT)""",
            "CREATE INDEX IF NOT EXISTS events_unhandled ON events (handled_at, seq)",
            "CREATE INDEX IF NOT EXISTS events_receivable ON events (receivable_id, seq)",
            """CREATE TABLE IF NOT EXISTS snapshots (
                receivable_id TEXT PRIMARY KEY, status TEXT NOT NULL, partial_paid TEXT, as_of TEXT NOT NULL,
                seen_at DOUBLE PRECISION NOT NULL)""",
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE IF NOT EXISTS oauth_tokens (
                name TEXT PRIMARY KEY, access_token TEXT, refresh_token TEXT, expires_at DOUBLE PRECISION,
                issued_at DOUBLE PRECISION, scope TEXT, seeded_from TEXT, generation BIGINT NOT NULL DEFAULT 0,
                updated_at DOUBLE PRECISION NOT NULL)""",
        ),
    ),
    Migration(
        2, "approval ledger: pending writes and their single-use decisions",
        sqlite=(
            "CREATE TABLE IF NOT EXISTS approvals (" + _APPROVALS.format(real="REAL") + ")",
            "CREATE INDEX IF NOT EXISTS approvals_by_write ON approvals (tool, principal, payload_sha256, created_at)",
        ),
        postgresql=(
            "CREATE TABLE IF NOT EXISTS approvals (" + _APPROVALS.format(real="DOUBLE PRECISION") + ")",
            "CREATE INDEX IF NOT EXISTS approvals_by_write ON approvals (tool, principal, payload_sha256, created_at)",
        ),
    ),
    Migration(
        3, "event inbox by creditor: each receivable's owner in snapshots, events indexed by creditor, owners filled in",
        sqlite=_EVENTS_BY_CREDITOR,
        postgresql=_EVENTS_BY_CREDITOR,
    ),
    Migration(
        4, "tenancy: the principal on every audit row, users granted to principals, owners of ids",
        sqlite=(
            "ALTER TABLE audit ADD COLUMN principal TEXT",
            "CREATE INDEX IF NOT EXISTS audit_by_principal ON audit (principal, seq)",
            """CREATE TABLE IF NOT EXISTS principal_users (
                principal TEXT NOT NULL, user_id TEXT NOT NULL, granted_at REAL NOT NULL,
                PRIMARY KEY (principal, user_id))""",
            # Whose creditor an id belongs to (a receivable's or an extraction's owner never changes): cached.
            """CREATE TABLE IF NOT EXISTS id_owners (
                kind TEXT NOT NULL, id TEXT NOT NULL, user_id TEXT NOT NULL, seen_at REAL NOT NULL,
                PRIMARY KEY (kind, id))""",
        ),
        postgresql=(
            "ALTER TABLE audit ADD COLUMN IF NOT EXISTS principal TEXT",
            "CREATE INDEX IF NOT EXISTS audit_by_principal ON audit (principal, seq)",
            """CREATE TABLE IF NOT EXISTS principal_users (
                principal TEXT NOT NULL, user_id TEXT NOT NULL, granted_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (principal, user_id))""",
            """CREATE TABLE IF NOT EXISTS id_owners (
                kind TEXT NOT NULL, id TEXT NOT NULL, user_id TEXT NOT NULL, seen_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (kind, id))""",
        ),
    ),
    Migration(
        5, "approval page sign-in: one-time codes (digests) bound to a principal, and code attempts",
        sqlite=(
            "CREATE TABLE IF NOT EXISTS approval_signin_codes (" + _SIGNIN_CODES.format(real="REAL") + ")",
            "CREATE TABLE IF NOT EXISTS approval_signin_attempts (attempt TEXT NOT NULL, scope TEXT NOT NULL, at REAL NOT NULL)",
            "CREATE INDEX IF NOT EXISTS approval_signin_attempts_by_scope ON approval_signin_attempts (scope, at)",
        ),
        postgresql=(
            "CREATE TABLE IF NOT EXISTS approval_signin_codes ("
            + _SIGNIN_CODES.format(real="DOUBLE PRECISION") + ")",
            "CREATE TABLE IF NOT EXISTS approval_signin_attempts (attempt TEXT NOT NULL, scope TEXT NOT NULL, "
            "at DOUBLE PRECISION NOT NULL)",
            "CREATE INDEX IF NOT EXISTS approval_signin_attempts_by_scope ON approval_signin_attempts (scope, at)",
        ),
    ),
)

LATEST = MIGRATIONS[-1].version

_TABLE = {
    "sqlite": "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
              "applied_at REAL NOT NULL)",
    "postgresql": "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                  "applied_at DOUBLE PRECISION NOT NULL)",
}


class SchemaTooNewError(RuntimeError):
    pass


async def _applied(tx: Transaction) -> set[int]:
    return {row["version"] for row in await tx.fetchall("SELECT version FROM schema_migrations")}


async def upgrade(db: Database, raw_transaction) -> list[int]:
    """Apply the missing migrations; the versions applied now. `raw_transaction` is the backend's transaction
    opener that does not itself trigger migrations."""
    applied_now: list[int] = []
    async with raw_transaction() as tx:
        if db.dialect == "postgresql":
            await tx.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK_KEY,))
        await tx.execute(_TABLE[db.dialect])
        done = await _applied(tx)
    newer = [v for v in done if v > LATEST]
    if newer:
        raise SchemaTooNewError(
            f"The database schema is at version {max(newer)} but this cleavr-mcp knows up to {LATEST}: "
            "upgrade cleavr-mcp on this replica (replicas sharing a database must run the same version).")
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        async with raw_transaction() as tx:
            if db.dialect == "postgresql":
                await tx.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK_KEY,))
            if migration.version in await _applied(tx):  # another replica applied it while we waited
                continue
            for statement in getattr(migration, db.dialect):
                await tx.execute(statement)
            await tx.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                             (migration.version, migration.name, time.time()))
        applied_now.append(migration.version)
    return applied_now

