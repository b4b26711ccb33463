"""SQLite storage of the CleverInvo sandbox: `ci_`-prefixed tables (the file may be shared with the Cleavr
sandbox), one connection per app guarded by a lock, money stored as decimal text."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from ...private_files import connect_private_sqlite
from . import seed as demo

CENT = Decimal("0.01")
ID_ALPHABET = string.ascii_lowercase + string.digits

DEFAULT_ACCOUNT = "default"
"""The account every database has: the seeded demo book, and the key `sandbox_api_key` returns. Other accounts
(`Store.create_account`) hold their own book; as in CleverInvo, an API key belongs to one account and sees only it."""

INVOICES_TABLE = """CREATE TABLE IF NOT EXISTS ci_invoices (
    id TEXT PRIMARY KEY, client_id TEXT NOT NULL REFERENCES ci_clients(id), invoice_number TEXT NOT NULL,
    currency TEXT NOT NULL, issue_date TEXT NOT NULL, due_date TEXT NOT NULL, subtotal TEXT NOT NULL,
    tax_total TEXT NOT NULL, discount_total TEXT NOT NULL, total TEXT NOT NULL, amount_paid TEXT NOT NULL,
    status TEXT NOT NULL, notes TEXT, terms TEXT, sent_via_email INTEGER NOT NULL DEFAULT 0, sent_at TEXT,
    paid_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, account TEXT NOT NULL DEFAULT 'default')"""
TABLES = """
CREATE TABLE IF NOT EXISTS ci_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ci_api_keys (key TEXT PRIMARY KEY, label TEXT NOT NULL, created_at TEXT NOT NULL,
    account TEXT NOT NULL DEFAULT 'default');
CREATE TABLE IF NOT EXISTS ci_clients (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT, address TEXT, tax_id TEXT, phone TEXT, notes TEXT,
    is_active INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    account TEXT NOT NULL DEFAULT 'default');
""" + INVOICES_TABLE + """;
CREATE TABLE IF NOT EXISTS ci_line_items (
    invoice_id TEXT NOT NULL REFERENCES ci_invoices(id) ON DELETE CASCADE, position INTEGER NOT NULL,
    description TEXT NOT NULL, quantity TEXT NOT NULL, unit_price TEXT NOT NULL, tax_rate TEXT NOT NULL,
    amount TEXT NOT NULL, PRIMARY KEY (invoice_id, position));
"""
INDEXES = """
CREATE INDEX IF NOT EXISTS ci_invoices_client ON ci_invoices (client_id);
CREATE INDEX IF NOT EXISTS ci_invoices_status ON ci_invoices (account, status);
CREATE UNIQUE INDEX IF NOT EXISTS ci_invoices_number ON ci_invoices (account, invoice_number);
CREATE INDEX IF NOT EXISTS ci_clients_account ON ci_clients (account);
"""

META_SEEDED = "seeded_on"
META_ISSUER = "issuer"


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_timestamp() -> str:
    return timestamp(datetime.now(UTC))


def new_id() -> str:
    return "clx" + "".join(secrets.choice(ID_ALPHABET) for _ in range(22))


def seed_id(kind: str, key: str, account: str = DEFAULT_ACCOUNT) -> str:
    """Stable ids of seeded rows; another account's seeded copy gets ids of its own (the default's are unchanged)."""
    salt = "" if account == DEFAULT_ACCOUNT else f"{account}:"
    digest = int(hashlib.sha256(f"cleverinvo-seed:{salt}{kind}:{key}".encode()).hexdigest(), 16)
    chars = []
    for _ in range(22):
        digest, rest = divmod(digest, len(ID_ALPHABET))
        chars.append(ID_ALPHABET[rest])
    return "clx" + "".join(chars)


def compute_lines(lines: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Decimal]]:
    """Each line's amount (qty × price, to the cent) and the invoice totals; tax is rounded per line."""
    out = []
    subtotal = tax_total = Decimal("0.00")
    for line in lines:
        amount = money(line["quantity"] * line["unit_price"])
        tax = money(amount * line["tax_rate"] / 100)
        subtotal += amount
        tax_total += tax
        out.append({**line, "amount": amount})
    discount = Decimal("0.00")
    return out, {
        "subtotal": subtotal,
        "tax_total": tax_total,
        "discount_total": discount,
        "total": subtotal + tax_total - discount,
    }


def connect(db_path: Path) -> sqlite3.Connection:
    db_path = Path(db_path)
    conn = connect_private_sqlite(db_path, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    # SQLite's lower() only folds ASCII: search must match "Éclat" with "éclat" as CleverInvo does.
    conn.create_function("casefold", 1, lambda text: text.casefold() if isinstance(text, str) else text,
                         deterministic=True)
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(TABLES)
    _migrate_to_accounts(conn)
    conn.executescript(INDEXES)
    return conn


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}  # noqa: S608 - our table names


def _migrate_to_accounts(conn: sqlite3.Connection) -> None:
    """A database made before accounts existed: every row is the default account's. Invoice numbers were unique
    across the file; they become unique per account, which needs the table rebuilt (SQLite cannot drop a UNIQUE)."""
    for table in ("ci_api_keys", "ci_clients"):
        if "account" not in _columns(conn, table):
            conn.execute(f"ALTER TABLE {table} ADD COLUMN account TEXT NOT NULL DEFAULT 'default'")
    if "account" in _columns(conn, "ci_invoices"):
        return
    conn.execute("PRAGMA foreign_keys=OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        # SQLite's own recipe (new table, copy, drop, rename), so ci_line_items' reference stays on ci_invoices.
        cols = ", ".join(sorted(_columns(conn, "ci_invoices")))
        conn.execute(INVOICES_TABLE.replace("ci_invoices (", "ci_invoices_with_accounts (", 1))
        conn.execute(f"INSERT INTO ci_invoices_with_accounts ({cols}) SELECT {cols} FROM ci_invoices")
        conn.execute("DROP TABLE ci_invoices")
        conn.execute("ALTER TABLE ci_invoices_with_accounts RENAME TO ci_invoices")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("PRAGMA foreign_keys=ON")


class Store:
    def __init__(self, db_path: Path, *, today: date | None = None):
        self.conn = connect(db_path)
        self.today = today or date.today()
        self._lock = threading.RLock()

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: serialised with other connections on the same file)."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple | list = ()) -> sqlite3.Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    # --- keys, issuer, seed -------------------------------------------------------------------------------------
    def ensure_api_key(self) -> str:
        with self.tx() as conn:
            row = conn.execute("SELECT key FROM ci_api_keys WHERE label = 'sandbox'").fetchone()
            if row:
                return row["key"]
            key = "cinv_sandbox_" + secrets.token_hex(16)
            conn.execute("INSERT INTO ci_api_keys (key, label, created_at, account) VALUES (?, 'sandbox', ?, ?)",
                         (key, now_timestamp(), DEFAULT_ACCOUNT))
            return key

    def add_api_key(self, label: str, account: str = DEFAULT_ACCOUNT) -> str:
        """Another key of an existing account (by default the seeded one)."""
        key = "cinv_" + secrets.token_hex(20)
        with self.tx() as conn:
            if account != DEFAULT_ACCOUNT and not conn.execute(
                "SELECT 1 FROM ci_api_keys WHERE account = ?", (account,)
            ).fetchone():
                raise KeyError(f"no CleverInvo sandbox account {account!r}")
            conn.execute("INSERT INTO ci_api_keys (key, label, created_at, account) VALUES (?, ?, ?, ?)",
                         (key, label, now_timestamp(), account))
        return key

    def create_account(self, label: str, *, seed: bool = False) -> tuple[str, str]:
        """A new account with one API key, its book empty or seeded with its own copy of the demo data (ids of
        its own). Returns (account, api_key)."""
        account = "acct_" + secrets.token_hex(8)
        key = "cinv_" + secrets.token_hex(20)
        with self.tx() as conn:
            conn.execute("INSERT INTO ci_api_keys (key, label, created_at, account) VALUES (?, ?, ?, ?)",
                         (key, label, now_timestamp(), account))
        if seed:
            self.seed(account)
        return account, key

    def account_of(self, key: str) -> str | None:
        """The account an API key belongs to (None: not a key)."""
        row = self.one("SELECT account FROM ci_api_keys WHERE key = ?", (key,))
        return row["account"] if row else None

    def key_is_valid(self, key: str) -> bool:
        return self.account_of(key) is not None

    def issuer(self, account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
        """Whose invoices these are (the PDFs' letterhead): the demo company for the default account; another
        account is named by its label only, so its PDFs never show the default account's company."""
        if account == DEFAULT_ACCOUNT:
            row = self.one("SELECT value FROM ci_meta WHERE key = ?", (META_ISSUER,))
            return json.loads(row["value"]) if row else dict(demo.ISSUER)
        row = self.one("SELECT label FROM ci_api_keys WHERE account = ? ORDER BY created_at LIMIT 1", (account,))
        return {"name": row["label"] if row else account}

    def seed(self, account: str = DEFAULT_ACCOUNT) -> bool:
        """Insert the demo data once per account (dates relative to `self.today`). True if it was inserted."""
        marker = META_SEEDED if account == DEFAULT_ACCOUNT else f"{META_SEEDED}:{account}"
        with self.tx() as conn:
            if conn.execute("SELECT 1 FROM ci_meta WHERE key = ?", (marker,)).fetchone():
                return False
            conn.execute("INSERT INTO ci_meta VALUES (?, ?)", (marker, self.today.isoformat()))
            if account == DEFAULT_ACCOUNT:
                conn.execute("INSERT OR REPLACE INTO ci_meta VALUES (?, ?)", (META_ISSUER, json.dumps(demo.ISSUER)))
            created = timestamp(datetime.combine(self.today - timedelta(days=800), time(8, 0), tzinfo=UTC))
            for c in demo.CLIENTS:
                conn.execute(
                    "INSERT INTO ci_clients VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (seed_id("client", c.key, account), c.name, c.email, c.address, c.tax_id, c.phone, c.notes,
                     int(c.active), created, created, account),
                )
            specs = sorted(
                enumerate(demo.INVOICES), key=lambda item: (demo.due_and_issue(item[1], self.today)[1], item[0])
            )
            for number, (index, spec) in enumerate(specs, start=1):
                due, issue = demo.due_and_issue(spec, self.today)
                lines, totals = compute_lines([
                    {"description": d, "quantity": Decimal(q), "unit_price": Decimal(p), "tax_rate": Decimal(r)}
                    for d, q, p, r in spec.lines
                ])
                paid = totals["total"] if spec.paid == "all" else Decimal(spec.paid or "0")
                at = lambda day, hour: timestamp(datetime.combine(day, time(hour, 0), tzinfo=UTC))  # noqa: E731
                sent = spec.status != "DRAFT"
                paid_at = at(due + timedelta(days=(index % 3) * 5 - 4), 15) if spec.status == "PAID" else None
                self._insert_invoice(conn, {
                    "id": seed_id("invoice", str(index), account),
                    "client_id": seed_id("client", spec.client, account),
                    "invoice_number": f"INV-{number:04d}",
                    "currency": spec.currency,
                    "issue_date": issue.isoformat(),
                    "due_date": due.isoformat(),
                    **totals,
                    "amount_paid": money(paid),
                    "status": spec.status,
                    "notes": spec.notes,
                    "terms": spec.terms,
                    "sent_via_email": int(sent),
                    "sent_at": at(issue, 10) if sent else None,
                    "paid_at": paid_at,
                    "created_at": at(issue, 9),
                    "updated_at": paid_at or at(issue, 10 if sent else 9),
                    "account": account,
                }, lines)
            return True

    # --- rows -------------------------------------------------------------------------------------------------
    @staticmethod
    def _insert_invoice(conn: sqlite3.Connection, row: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        cols = list(row)
        conn.execute(
            f"INSERT INTO ci_invoices ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [str(v) if isinstance(v, Decimal) else v for v in row.values()],
        )
        Store._insert_lines(conn, row["id"], lines)

    @staticmethod
    def _insert_lines(conn: sqlite3.Connection, invoice_id: str, lines: list[dict[str, Any]]) -> None:
        conn.execute("DELETE FROM ci_line_items WHERE invoice_id = ?", (invoice_id,))
        for position, line in enumerate(lines):
            conn.execute(
                "INSERT INTO ci_line_items VALUES (?, ?, ?, ?, ?, ?, ?)",
                (invoice_id, position, line["description"], str(line["quantity"]), str(line["unit_price"]),
                 str(line["tax_rate"]), str(line["amount"])),
            )

    def line_items(self, invoice_id: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM ci_line_items WHERE invoice_id = ? ORDER BY position", (invoice_id,))
        return [
            {
                "description": r["description"],
                "quantity": _number(r["quantity"]),
                "unitPrice": Decimal(r["unit_price"]),
                "amount": Decimal(r["amount"]),
                "taxRate": _number(r["tax_rate"]),
            }
            for r in rows
        ]


def _number(text: str) -> Decimal | int:
    """Quantities and rates as typed: 40 stays 40, 5.5 stays 5.5."""
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() and "." not in text else value


def client_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "email": row["email"],
        "address": row["address"],
        "taxId": row["tax_id"],
        "phone": row["phone"],
        "notes": row["notes"],
        "isActive": bool(row["is_active"]),
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def invoice_json(row: sqlite3.Row, *, full: bool = False, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row["id"],
        "clientId": row["client_id"],
        "invoiceNumber": row["invoice_number"],
        "currency": row["currency"],
        "issueDate": row["issue_date"],
        "dueDate": row["due_date"],
    }
    if full:
        out["lineItems"] = lines or []
    out.update({
        "subtotal": Decimal(row["subtotal"]),
        "taxTotal": Decimal(row["tax_total"]),
        "discountTotal": Decimal(row["discount_total"]),
        "total": Decimal(row["total"]),
        "amountPaid": Decimal(row["amount_paid"]),  # sandbox extension
        "status": row["status"],
    })
    if full:
        out.update({
            "notes": row["notes"],
            "terms": row["terms"],
            "sentViaEmail": bool(row["sent_via_email"]),
            "sentAt": row["sent_at"],
            "paidAt": row["paid_at"],
        })
    out["createdAt"] = row["created_at"]
    out["client"] = {"name": row["client_name"], "email": row["client_email"]}
    return out


def sandbox_api_key(db_path: Path) -> str:
    """The sandbox's CleverInvo API key (created on first use, then stable for this database file)."""
    store = Store(db_path)
    try:
        return store.ensure_api_key()
    finally:
        store.close()
