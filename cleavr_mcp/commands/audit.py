"""`cleavr-mcp audit [--since 2026-11-01|24h] [--json]`: the server's append-only record of write attempts."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, date, datetime

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, *, now: float | None = None) -> float:
    """'24h', '7d', '30m' (ago), or an ISO date/datetime (a date means its midnight UTC) → epoch seconds."""
    now = time.time() if now is None else now
    if match := _RELATIVE.match(text):
        return now - float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since takes a date (2026-11-01), a datetime, or a duration (24h, 7d, 30m); "
                         f"got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def run(args) -> int:
    import sys

    from rich.console import Console

    from ..config import Settings

    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(highlight=False, width=220)
    settings = Settings()
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from ..toolkit.store import read_audit

    found = read_audit(settings, since, getattr(args, "principal", None))
    if found is None:
        if args.json:
            return 0
        path = settings.data_dir / "server.sqlite3"
        console.print(f"No audit log yet ({path} does not exist): no write has been attempted on this machine.")
        return 0
    path, rows = found
    if args.tool:
        rows = [r for r in rows if r.tool == args.tool]
    if args.limit:
        rows = rows[-args.limit:]
    if args.json:
        for row in rows:
            sys.stdout.write(json.dumps(row.as_dict(), sort_keys=True) + "\n")
        return 0
    if not rows:
        console.print("No audit rows" + (f" since {args.since}" if args.since else "")
                      + (f" of principal {args.principal}" if getattr(args, "principal", None) else "") + f" in {path}.")
        return 0
    from rich.table import Table

    table = Table(title=f"Write attempts ({len(rows)}) — {path}", title_justify="left")
    for column in ("#", "time (UTC)", "principal", "tool", "env", "user", "confirmed by", "outcome", "result",
                   "replay", "error", "payload"):
        table.add_column(column, no_wrap=column in ("time (UTC)", "payload"))
    styles = {"done": "green", "failed": "red", "refused": "yellow", "confirmation_required": "cyan"}
    for row in rows:
        table.add_row(
            str(row.seq),
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row.at)),
            row.principal or "",
            row.tool,
            row.environment,
            row.user_id or "",
            row.confirmed_by,
            f"[{styles.get(row.outcome, 'white')}]{row.outcome}[/]",
            row.result_id or "",
            "yes" if row.replayed else "",
            row.error_code or "",
            row.payload_sha256[:12],
        )
    console.print(table)
    return 0
