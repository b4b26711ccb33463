"""Two principals, two CleverInvo accounts, one real HTTP server (#15): A's key opens the sandbox's default
account (the seeded demo book), B's opens an account of its own (created with `Store.create_account`, its book
filled through the CleverInvo API). Each works with its own invoices and clients; the other account's ids are
answered exactly as ids that exist nowhere, nothing is written, and none of the other account's client names,
invoice numbers or amounts reach it (searched in every byte received, both protocol eras)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import anyio
import httpx2
import pytest

from cleavr_mcp.cleavr import wire
from cleavr_mcp.sandbox.cleverinvo import create_cleverinvo_app
from cleavr_mcp.sandbox.cleverinvo.store import DEFAULT_ACCOUNT
from cleavr_mcp.sandbox.cleverinvo.store import Store as CleverInvoStore
from cleavr_mcp.testing import Human

from .world import CALLERS, ERAS, Caller, Recorder, World, changed, connect, leaks, principals_toml, snapshot

pytestmark = pytest.mark.anyio

B_KEY_ENV = "CLEAVR_TENANCY_TEST_B_CLEVERINVO_KEY"
CLEVERINVO_TOOLS = {"list_overdue_invoices", "search_clients", "get_invoice", "recover_invoice", "recover_invoices"}
REQUEST_ID = re.compile(r"req_[0-9a-f]{8,}")
# B's book: names, numbers and amounts that appear nowhere in the demo book (3 x 77.70 + 20 % = 279.72, …).
B_CLIENTS = (
    {"name": "Chorale Fa Dièse", "email": "regie@chorale-fa-diese.example", "phone": "+33 5 61 22 33 44",
     "address": "4 rue des Cordes, 31000 Toulouse"},
    {"name": "Luthier Pizzicato", "email": "atelier@pizzicato.example", "phone": None,
     "address": "9 impasse du Violon, 13001 Marseille"},
)
B_INVOICES = (  # (client index, number, days overdue, line)
    (0, "BEMOL-7001", 75, {"description": "Accord de pianos", "quantity": 3, "unitPrice": "77.70", "taxRate": 20}),
    (1, "BEMOL-7002", 130, {"description": "Cordes en boyau", "quantity": 7, "unitPrice": "13.13", "taxRate": 20}),
)


@dataclass
class Book:
    """One CleverInvo account as the tests see it: its principal, ids, and text that must not reach the other."""

    caller: Caller
    invoice_ids: list[str]
    client_ids: list[str]
    markers: set[str]


def _markers(db_path: Any, account: str) -> tuple[list[str], list[str], set[str]]:
    with sqlite3.connect(db_path) as db:
        invoices = db.execute("SELECT id, invoice_number, total, status FROM ci_invoices WHERE account = ? "
                              "ORDER BY (status = 'OVERDUE') DESC, id", (account,)).fetchall()
        clients = db.execute("SELECT id, name FROM ci_clients WHERE account = ? AND is_active = 1 ORDER BY id",
                             (account,)).fetchall()
    markers = {r[1] for r in invoices} | {r[1] for r in clients}
    # Amounts with cents, such as 1234.56: round ones (5000.00) are also the schemas' examples, a chance match.
    markers |= {r[2] for r in invoices if not r[2].endswith(".00")}
    return [r[0] for r in invoices], [r[0] for r in clients], markers


async def _fill_b(db_path: Any, key: str) -> None:
    """B's book through the CleverInvo API itself (another app on the same file, as a second replica would be)."""
    app = create_cleverinvo_app(db_path, seed=False)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://ci.test") as http:
        ids = []
        for body in B_CLIENTS:
            made = await http.post("/clients", content=wire.dumps(body), headers=headers)
            assert made.status_code == 201, made.text
            ids.append(made.json()["data"]["id"])
        for client, number, overdue, line in B_INVOICES:
            due = date.today() - timedelta(days=overdue)
            body = {"clientId": ids[client], "invoiceNumber": number, "issueDate": (due - timedelta(days=30)).isoformat(),
                    "dueDate": due.isoformat(), "lineItems": [{**line, "unitPrice": Decimal(line["unitPrice"])}]}
            made = await http.post("/invoices", content=wire.dumps(body), headers=headers)
            assert made.status_code == 201, made.text
            sent = await http.put(f"/invoices/{made.json()['data']['id']}", content=wire.dumps({"status": "OVERDUE"}),
                                  headers=headers)
            assert sent.status_code == 200, sent.text
    app.state.store.close()


def _b_with_its_own_account(text: str) -> str:
    """The world's principals file, with B given its own CleverInvo account (A keeps the default one)."""
    blocks = text.split("[[principals]]")
    for i, block in enumerate(blocks):
        if '\nname = "B"\n' in block:
            blocks[i] = block.rstrip("\n") + f'\ncleverinvo_api_key_env = "{B_KEY_ENV}"\n\n'
    return "[[principals]]".join(blocks)


@pytest.fixture(scope="module")
def books(world: World) -> dict[str, Book]:
    db_path = world.settings.sandbox_db_path
    store = CleverInvoStore(db_path)
    try:
        account_b, key_b = store.create_account("Compte B")
    finally:
        store.close()
    anyio.run(_fill_b, db_path, key_b)
    os.environ[B_KEY_ENV] = key_b
    caller_b = dataclasses.replace(CALLERS["B"], cleverinvo=True)
    principals = world.settings.principals_file
    principals.write_text(_b_with_its_own_account(principals_toml(CALLERS.values(), world.creditors)))
    later = time.time() + 5  # a new mtime the server cannot miss, even on a coarse clock
    os.utime(principals, (later, later))
    out = {}
    for name, caller, account in (("A", CALLERS["A"], DEFAULT_ACCOUNT), ("B", caller_b, account_b)):
        invoice_ids, client_ids, markers = _markers(db_path, account)
        out[name] = Book(caller, invoice_ids, client_ids, markers)
    assert {n for _, n, _, _ in B_INVOICES} <= out["B"].markers and "279.72" not in out["A"].markers
    anyio.run(_until_b_sees_cleverinvo, world, caller_b)
    yield out
    os.environ.pop(B_KEY_ENV, None)


async def _until_b_sees_cleverinvo(world: World, caller: Caller) -> None:
    deadline = time.monotonic() + 10  # the file is re-read at most once a second
    while True:
        async with connect(world, caller, "auto") as client:
            if CLEVERINVO_TOOLS <= {t.name for t in (await client.list_tools()).tools}:
                return
        assert time.monotonic() < deadline, "the server never picked up B's CleverInvo account"
        await anyio.sleep(0.3)


def absent_like(real: str) -> str:
    """An id shaped like `real` (same prefix, same length) that no account holds."""
    return real[:-6] + ("qqqqqq" if not real.endswith("qqqqqq") else "wwwwww")


def canonical(result: Any, swap: dict[str, str] | None = None) -> bytes:
    text = json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=True)
    text = REQUEST_ID.sub("req_…", text)
    for old, new in (swap or {}).items():
        text = text.replace(old, new)
    return text.encode()


def text_of(result: Any) -> str:
    return str(result.structured_content) + "".join(getattr(c, "text", "") for c in result.content)


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("name, other_name", [("B", "A"), ("A", "B")])
async def test_each_principal_works_its_own_cleverinvo_account_and_never_sees_the_others(
    world: World, books: dict[str, Book], era: str, name: str, other_name: str
) -> None:
    mine, other = books[name], books[other_name]
    user_id = world.own(mine.caller).user_id
    recorder = Recorder()
    human = Human(action="decline")  # own writes reach their question; declining keeps the world as seeded
    problems: list[str] = []
    async with connect(world, mine.caller, era, human=human, recorder=recorder) as client:
        assert CLEVERINVO_TOOLS <= {t.name for t in (await client.list_tools()).tools}

        # Own ids work.
        overdue = await client.call_tool("list_overdue_invoices", {})
        listed = {r["invoice_id"] for r in overdue.structured_content["recoverable"]}
        assert not overdue.is_error and listed and listed <= set(mine.invoice_ids), text_of(overdue)
        clients = await client.call_tool("search_clients", {})
        assert not clients.is_error and clients.structured_content["clients"], text_of(clients)
        assert {c["client_id"] for c in clients.structured_content["clients"]} <= set(mine.client_ids)
        own_invoice = sorted(listed)[0]
        got = await client.call_tool("get_invoice", {"invoice_id": own_invoice})
        assert not got.is_error and got.structured_content["invoice_id"] == own_invoice, text_of(got)
        asked = len(human.asked)
        declined = await client.call_tool("recover_invoice", {"invoice_id": own_invoice, "user_id": user_id})
        assert len(human.asked) == asked + 1, text_of(declined)  # reached its approval question
        asked = len(human.asked)
        await client.call_tool("recover_invoices", {"user_id": user_id, "min_days_overdue": 0})
        assert len(human.asked) == asked + 1

        # The other account's ids: answered as ids that exist nowhere, nothing asked, nothing written.
        asked = len(human.asked)
        for foreign_invoice in other.invoice_ids[:3]:
            missing = absent_like(foreign_invoice)
            for tool, args in (("get_invoice", {"invoice_id": "{}"}),
                               ("recover_invoice", {"invoice_id": "{}", "user_id": user_id})):
                before = snapshot(world)
                foreign_result = await client.call_tool(tool, {k: v.format(foreign_invoice) for k, v in args.items()})
                middle = snapshot(world)
                missing_result = await client.call_tool(tool, {k: v.format(missing) for k, v in args.items()})
                problems += [f"{tool} on a foreign invoice wrote {t}" for t in changed(before, middle)]
                problems += [f"{tool} on a missing invoice wrote {t}" for t in changed(middle, snapshot(world))]
                if not foreign_result.is_error:
                    problems.append(f"{tool} answered the other account's invoice: {text_of(foreign_result)[:300]}")
                if canonical(foreign_result, {foreign_invoice: missing}) != canonical(missing_result):
                    problems.append(f"{tool}: the other account's invoice is answered unlike a missing one:\n"
                                    f"  foreign: {canonical(foreign_result, {foreign_invoice: missing})[:500]!r}\n"
                                    f"  missing: {canonical(missing_result)[:500]!r}")
        # Searches by the other account's numbering find nothing, exactly as a numbering no one uses.
        prefix = sorted(m for m in other.markers if re.fullmatch(r"[A-Z]+-\d+", m))[0][:-2]
        nobody = "ZQZQ-" + prefix.split("-")[1]
        for tool, args in (("list_overdue_invoices", {}),
                           ("recover_invoices", {"user_id": user_id, "min_days_overdue": 0})):
            found = await client.call_tool(tool, {**args, "client_search": prefix})
            none = await client.call_tool(tool, {**args, "client_search": nobody})
            if canonical(found, {prefix: nobody}) != canonical(none):
                problems.append(f"{tool} searching {prefix!r} answers unlike a search for {nobody!r}:\n"
                                f"  {canonical(found, {prefix: nobody})[:500]!r}\n  {canonical(none)[:500]!r}")
        if len(human.asked) != asked:
            problems.append(f"the other account's data was taken to an approval question: {human.asked[asked:]}")

    problems += leaks(recorder, other.markers, {*other.invoice_ids, *other.client_ids})
    assert not problems, f"{name} ({era}):\n- " + "\n- ".join(problems)


async def test_a_recovered_invoice_of_bs_own_account_becomes_bs_receivable(world: World, books: dict[str, Book]):
    b = books["B"]
    user_id = world.own(b.caller).user_id
    invoice_id = b.invoice_ids[0]
    human = Human(content=lambda schema: {k: True for k, v in schema["properties"].items()
                                          if v.get("type") == "boolean"})
    async with connect(world, b.caller, "auto", human=human) as client:
        done = await client.call_tool("recover_invoice", {"invoice_id": invoice_id, "user_id": user_id})
        assert not done.is_error, text_of(done)
        assert done.structured_content["invoice_number"] in {n for _, n, _, _ in B_INVOICES}
        receivable_id = done.structured_content["receivable"]["id"]
        again = await client.call_tool("get_invoice", {"invoice_id": invoice_id})
    assert again.structured_content.get("receivable_id") == receivable_id
    with sqlite3.connect(world.settings.sandbox_db_path) as db:
        doc = json.loads(db.execute("SELECT doc FROM receivables WHERE id = ?", (receivable_id,)).fetchone()[0])
    assert doc["user_id"] == user_id and doc["metadata"]["platform_invoice_id"] == invoice_id
    # A's account holds no such invoice: for A it is an id that exists nowhere.
    async with connect(world, books["A"].caller, "auto") as client:
        foreign = await client.call_tool("get_invoice", {"invoice_id": invoice_id})
        missing = await client.call_tool("get_invoice", {"invoice_id": absent_like(invoice_id)})
    assert foreign.is_error and canonical(foreign, {invoice_id: absent_like(invoice_id)}) == canonical(missing)

