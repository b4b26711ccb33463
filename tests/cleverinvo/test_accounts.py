"""Several CleverInvo accounts in one sandbox, keyed by API key as in CleverInvo: a key sees its own account's book
only, and another account's client or invoice id is answered exactly as a missing one (404, same body)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import httpx2
import pytest

from cleavr_mcp.sandbox.cleverinvo.store import DEFAULT_ACCOUNT, Store

from .conftest import TODAY

pytestmark = pytest.mark.anyio

LINE = {"description": "Tuning de piano", "quantity": 3, "unitPrice": Decimal("77.70"), "taxRate": 20}


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def absent_like(real: str) -> str:
    """An id of the same shape that exists in no account."""
    return real[:-4] + ("zzzz" if not real.endswith("zzzz") else "yyyy")


async def test_a_second_account_is_empty_and_sees_nothing_of_the_first(http_sandbox):
    _, key_b = http_sandbox.sub.state.store.create_account("Pianos Bémol")
    a, b = headers(http_sandbox.api_key), headers(key_b)
    base = http_sandbox.base_url
    async with httpx2.AsyncClient(timeout=10) as http:
        a_invoices = (await http.get(f"{base}/invoices", params={"limit": 100}, headers=a)).json()
        a_clients = (await http.get(f"{base}/clients", params={"limit": 100}, headers=a)).json()
        assert (a_invoices["total"], a_clients["total"]) == (40, 11)  # the default account, as before
        for path in ("/invoices", "/clients", "/invoices?search=INV", "/clients?search=Martin"):
            got = (await http.get(base + path, headers=b)).json()
            assert (got["data"], got["total"]) == ([], 0), path

        # B's own book: the same invoice number as one of A's is allowed (numbers are unique per account).
        client = (await http.post(f"{base}/clients", json={"name": "Chorale Fa Dièse", "email": "fa@diese.example"},
                                  headers=b)).json()["data"]
        number = a_invoices["data"][0]["invoiceNumber"]
        made = await http.post(f"{base}/invoices", headers=b, content=httpx2_json({
            "clientId": client["id"], "invoiceNumber": number, "issueDate": "2026-01-01", "dueDate": "2026-01-31",
            "lineItems": [LINE]}))
        assert made.status_code == 201, made.text
        b_invoice = made.json()["data"]["id"]
        assert (await http.get(f"{base}/invoices/{b_invoice}", headers=b)).json(parse_float=Decimal)["data"]["total"] == Decimal("279.72")

        # Each account's ids, asked with the other's key, are answered byte for byte as missing ones.
        probes = [("GET", "/invoices/{}"), ("GET", "/invoices/{}/pdf"), ("PUT", "/invoices/{}"),
                  ("DELETE", "/invoices/{}"), ("GET", "/clients/{}"), ("PUT", "/clients/{}"), ("DELETE", "/clients/{}")]
        a_invoice, a_client = a_invoices["data"][0]["id"], a_clients["data"][0]["id"]
        for key, invoice_id, client_id in ((b, a_invoice, a_client), (a, b_invoice, client["id"])):
            for method, template in probes:
                real = invoice_id if "invoices" in template else client_id
                body = {"name": "x"} if method == "PUT" else None
                foreign = await http.request(method, base + template.format(real), headers=key, json=body)
                missing = await http.request(method, base + template.format(absent_like(real)), headers=key,
                                             json=body)
                assert foreign.status_code == missing.status_code == 404, (method, template, foreign.text)
                assert foreign.content == missing.content and dict(foreign.headers).keys() == missing.headers.keys()
            # Nor can another account's client be invoiced or filtered on.
            bad = await http.post(f"{base}/invoices", headers=key, content=httpx2_json({
                "clientId": client_id, "invoiceNumber": "X-1", "issueDate": "2026-01-01", "dueDate": "2026-01-31",
                "lineItems": [LINE]}))
            assert bad.status_code == 400 and "clientId" in bad.json()["error"]
            filtered = (await http.get(f"{base}/invoices", params={"clientId": client_id}, headers=key)).json()
            assert filtered["total"] == 0

        # Nothing of the probes was written: A's book is as it was, B's too.
        assert (await http.get(f"{base}/invoices", params={"limit": 100}, headers=a)).json() == a_invoices
        assert (await http.get(f"{base}/invoices/{b_invoice}", headers=b)).json()["data"]["invoiceNumber"] == number
        pdf = await http.get(f"{base}/invoices/{b_invoice}/pdf", headers=b)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def httpx2_json(body: dict) -> bytes:
    from cleavr_mcp.cleavr import wire

    return wire.dumps(body)


async def test_a_seeded_second_account_has_its_own_copy_and_plan_limits_count_per_account(make_http_sandbox):
    box = make_http_sandbox(plan={"max_clients": 12})
    store: Store = box.sub.state.store
    _, key_b = store.create_account("Copie", seed=True)
    async with httpx2.AsyncClient(timeout=10) as http:
        a = (await http.get(f"{box.base_url}/invoices", params={"limit": 100},
                            headers=headers(box.api_key))).json()["data"]
        b = (await http.get(f"{box.base_url}/invoices", params={"limit": 100}, headers=headers(key_b))).json()["data"]
        assert len(a) == len(b) == 40
        assert {i["invoiceNumber"] for i in a} == {i["invoiceNumber"] for i in b}  # the same demo book…
        assert not {i["id"] for i in a} & {i["id"] for i in b}  # …under ids of its own
        # 11 active clients each; the plan allows 12 per account, so each may add exactly one.
        for key in (box.api_key, key_b):
            first = await http.post(f"{box.base_url}/clients", json={"name": "Nouveau"}, headers=headers(key))
            second = await http.post(f"{box.base_url}/clients", json={"name": "Encore"}, headers=headers(key))
            assert (first.status_code, second.status_code) == (201, 403), second.text
    assert store.seed(store.account_of(key_b)) is False  # once per account


async def test_the_control_endpoint_creates_an_account_with_its_key(tmp_path):
    from tests.sandbox.conftest import make_config, open_sandbox

    box = await open_sandbox(make_config(tmp_path, cleverinvo=True))
    try:
        made = await box.post("/sandbox/cleverinvo/accounts", {"label": "Compte B"})
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["api_key"].startswith("cinv_") and body["base_path"] == "/cleverinvo/api/v1"
        listed = await box.http.get("/cleverinvo/api/v1/clients", headers=headers(body["api_key"]))
        assert listed.status_code == 200 and listed.json()["total"] == 0
        wrong = await box.post("/sandbox/cleverinvo/accounts", {"label": ""})
        assert wrong.status_code == 400 and box.error(wrong)["field"] == "label"
        unauthenticated = await box.http.post("/sandbox/cleverinvo/accounts", json={"label": "x"})
        assert unauthenticated.status_code == 401
    finally:
        await box.http.aclose()
        await box.app.state.sandbox.aclose()
        box.app.state.sandbox.close()


def test_a_database_from_before_accounts_is_migrated_into_the_default_account(tmp_path):
    db = tmp_path / "old.sqlite3"
    old = sqlite3.connect(db)
    old.executescript("""
        CREATE TABLE ci_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE ci_api_keys (key TEXT PRIMARY KEY, label TEXT NOT NULL, created_at TEXT NOT NULL);
        CREATE TABLE ci_clients (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT, address TEXT, tax_id TEXT,
            phone TEXT, notes TEXT, is_active INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL);
        CREATE TABLE ci_invoices (id TEXT PRIMARY KEY, client_id TEXT NOT NULL REFERENCES ci_clients(id),
            invoice_number TEXT NOT NULL UNIQUE, currency TEXT NOT NULL, issue_date TEXT NOT NULL,
            due_date TEXT NOT NULL, subtotal TEXT NOT NULL, tax_total TEXT NOT NULL, discount_total TEXT NOT NULL,
            total TEXT NOT NULL, amount_paid TEXT NOT NULL, status TEXT NOT NULL, notes TEXT, terms TEXT,
            sent_via_email INTEGER NOT NULL DEFAULT 0, sent_at TEXT, paid_at TEXT, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL);
        CREATE TABLE ci_line_items (invoice_id TEXT NOT NULL REFERENCES ci_invoices(id) ON DELETE CASCADE,
            position INTEGER NOT NULL, description TEXT NOT NULL, quantity TEXT NOT NULL, unit_price TEXT NOT NULL,
            tax_rate TEXT NOT NULL, amount TEXT NOT NULL, PRIMARY KEY (invoice_id, position));
        INSERT INTO ci_api_keys VALUES ('cinv_sandbox_old', 'sandbox', '2026-01-01T00:00:00.000Z');
        INSERT INTO ci_clients VALUES ('clxold', 'Ancien Client', NULL, NULL, NULL, NULL, NULL, 1, 't', 't');
        INSERT INTO ci_invoices VALUES ('clxinv', 'clxold', 'INV-0001', 'EUR', '2026-01-01', '2026-01-31', '10.00',
            '2.00', '0.00', '12.00', '0.00', 'OVERDUE', NULL, NULL, 1, NULL, NULL, 't', 't');
        INSERT INTO ci_line_items VALUES ('clxinv', 0, 'x', '1', '10.00', '20', '10.00');
    """)
    old.close()
    store = Store(db, today=TODAY)
    try:
        assert store.account_of("cinv_sandbox_old") == DEFAULT_ACCOUNT
        row = store.one("SELECT account, invoice_number FROM ci_invoices WHERE id = 'clxinv'")
        assert tuple(row) == (DEFAULT_ACCOUNT, "INV-0001")
        assert len(store.line_items("clxinv")) == 1
        account, _ = store.create_account("Nouveau")
        with store.tx() as conn:  # the same number in another account: allowed now
            store._insert_invoice(conn, {**dict(store.one("SELECT * FROM ci_invoices WHERE id = 'clxinv'")),
                                         "id": "clxinv2", "account": account}, [])
        fks = store.query("PRAGMA foreign_key_list(ci_line_items)")
        assert [r["table"] for r in fks] == ["ci_invoices"]
        assert store.query("PRAGMA foreign_key_check") == []
        with store.tx() as conn:  # cascade still works through the rebuilt table
            conn.execute("DELETE FROM ci_invoices WHERE id = 'clxinv'")
        assert store.line_items("clxinv") == []
    finally:
        store.close()
