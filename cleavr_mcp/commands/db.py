"""`cleavr-mcp db upgrade|status`: the state database's schema (the server also upgrades it on every start)."""

from __future__ import annotations

import argparse
import sys


def add_db_parser(sub) -> None:
    db = sub.add_parser("db", help="the state database (CLEAVR_MCP_DATABASE_URL): apply migrations, show the version")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="apply pending schema migrations (replicas also do it on start)"
                      ).set_defaults(func=run_upgrade)
    db_sub.add_parser("status", help="where the state is kept and its schema version").set_defaults(func=run_status)


def _run(action) -> int:
    from ..config import Settings
    from ..storage import DatabaseError, database_for, run_blocking
    from ..storage.migrations import SchemaTooNewError

    settings = Settings()

    async def go() -> str:
        db = database_for(settings)
        try:
            return await action(db)
        finally:
            await db.close()

    try:
        print(run_blocking(go))
    except (DatabaseError, SchemaTooNewError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def run_upgrade(args: argparse.Namespace) -> int:
    from ..storage.migrations import LATEST

    async def action(db) -> str:
        await db.open()  # applies what is missing (serialised across replicas)
        now = await db.schema_version()
        if not db.applied_now:
            return f"{db.describe()}: schema at version {now} (latest {LATEST}); nothing to apply"
        return f"{db.describe()}: applied migration(s) {', '.join(map(str, db.applied_now))}; schema at version {now}"

    return _run(action)


def run_status(args: argparse.Namespace) -> int:
    from ..storage.migrations import LATEST

    async def action(db) -> str:
        await db.open()
        return f"{db.describe()}: schema version {await db.schema_version()} (this cleavr-mcp: {LATEST})"

    return _run(action)
