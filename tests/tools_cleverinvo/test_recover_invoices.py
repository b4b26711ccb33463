"""recover_invoices: one confirmation for a filtered set, progress while it runs, one result per invoice, and a
second run that creates nothing new."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import httpx2
import pytest

from cleavr_mcp.cleverinvo import ClientCreate, InvoiceCreate, InvoiceUpdate, LineItemInput

from .conftest import MODES, Human, client, demo_user, receivable_count, sc

pytestmark = pytest.mark.anyio

NOT_SENT_45 = {("Garage Lefèvre", 90), ("Garage Lefèvre", 200), ("Menuiserie Bois d'Or", 400), ("Acme Corp", 120)}


def euros(amount: Decimal) -> str:
    return f"€{amount:,.2f}"


async def preview(c, **filters) -> dict:
    return sc(await c.call_tool("list_overdue_invoices", {"limit": 100, **filters}))


@pytest.mark.parametrize("mode", MODES)
async def test_overdue_45_days_mixed_outcomes_then_nothing_new(server, settings, admin, mode):
    user = demo_user(settings)
    keep_phoneless_out = Human(content={"confirm": True, "proceed_without_phone": False})
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done, total, message):
        progress.append((done, total, message))

    async with client(server, mode, keep_phoneless_out) as c:
        plan = await preview(c, min_days_overdue=45)
        rows = plan["recoverable"]
        with_phone = [r for r in rows if r["has_phone"]]
        result = await c.call_tool("recover_invoices", {"user_id": user}, progress_callback=on_progress)
        assert not result.is_error, result.content
        out = sc(result)

        # One question with the count, the total and the total fee, and the phone box.
        assert len(keep_phoneless_out.asked) == 1
        asked = keep_phoneless_out.asked[0]
        total = sum(Decimal(r["amount_due"]) for r in rows)
        fee = sum(Decimal(r["fee"]) for r in rows)
        assert f"Send {len(rows)} CleverInvo invoice(s) overdue ≥ 45 days" in asked.message
        assert f"Total {euros(total)} still due; commission if all recovered {euros(fee)}" in asked.message
        assert "1 have no debtor phone" in asked.message and "82% to 45%" in asked.message
        assert ("Not sent: 4 that cannot be recovered as they are (1 not in EUR, 3 without a client email)"
                in asked.message)
        assert set(asked.requested_schema["properties"]) == {"confirm", "proceed_without_phone"}

        # Per-invoice results.
        by_outcome: dict[str, list[dict]] = {}
        for r in out["results"]:
            by_outcome.setdefault(r["outcome"], []).append(r)
        assert out["counts"] == {"submitted": len(with_phone), "skipped": 5}
        assert {r["invoice_id"] for r in by_outcome["submitted"]} == {r["invoice_id"] for r in with_phone}
        assert all(r["receivable_id"].startswith("rec_") for r in by_outcome["submitted"])
        skipped = {(r["client"], r["days_overdue"]): r["reason"] for r in by_outcome["skipped"]}
        assert set(skipped) == NOT_SENT_45 | {("Café des Arts", 546)}
        assert "chose not to proceed without one" in skipped[("Café des Arts", 546)]
        assert "EUR only" in skipped[("Acme Corp", 120)]
        assert "no email" in skipped[("Garage Lefèvre", 90)] and "recover_invoice" in skipped[("Garage Lefèvre", 90)]
        assert Decimal(out["submitted_total"]) == sum(Decimal(r["amount_due"]) for r in with_phone)
        assert Decimal(out["submitted_fee"]) == sum(Decimal(r["fee"]) for r in with_phone)
        assert out["message"].startswith(f"Done: {len(with_phone)} submitted, 5 skipped.")
        assert await receivable_count(admin) == len(with_phone)

        # Progress: one step per invoice read, one per batch, ending at the total.
        assert len(progress) == len(with_phone) + 1
        assert [p[0] for p in progress] == list(range(1, len(with_phone) + 2))
        assert {p[1] for p in progress} == {len(with_phone) + 1}
        assert progress[-1][2] == "Sent batch 1 of 1 to Cleavr"

        # Again: nothing new (the phoneless one is asked about again and kept out again).
        again = sc(await c.call_tool("recover_invoices", {"user_id": user}))
        assert again["counts"] == {"already_submitted": len(with_phone), "skipped": 5}
        assert all(r["receivable_id"] for r in again["results"] if r["outcome"] == "already_submitted")
        assert "Send 1 CleverInvo invoice(s)" in keep_phoneless_out.asked[1].message
        assert await receivable_count(admin) == len(with_phone)

    proceed = Human(content={"confirm": True, "proceed_without_phone": True})
    async with client(server, mode, proceed) as c:
        third = sc(await c.call_tool("recover_invoices", {"user_id": user}))
        assert third["counts"] == {"submitted": 1, "already_submitted": len(with_phone), "skipped": 4}
        fourth = sc(await c.call_tool("recover_invoices", {"user_id": user}))
    assert len(proceed.asked) == 1  # nothing left to confirm on the fourth run
    assert fourth["status"] == "done" and fourth["message"].startswith("Nothing to send")
    assert fourth["counts"] == {"already_submitted": len(with_phone) + 1, "skipped": 4}
    assert await receivable_count(admin) == len(rows)


async def test_an_invoice_submitted_outside_is_reported_with_its_receivable(server, settings, admin, seeded):
    """A receivable created for the same invoice number by hand (no CleverInvo metadata): Cleavr's duplicate check
    answers for that item, and the result names the existing receivable."""
    user = demo_user(settings)
    invoice = seeded.pick("Nettoyage Éclat SAS", "OVERDUE", 365)
    from server.conftest import submission

    manual = submission(user, number=invoice.invoice_number, amount="100.00")
    async with client(server, "auto", Human(content={"confirm": True, "proceed_without_phone": True})) as c:
        existing = sc(await c.call_tool("submit_receivable", {"receivable": manual}))["receivable"]["id"]
        out = sc(await c.call_tool("recover_invoices", {"user_id": user, "min_days_overdue": 300}))
        sent = next(r for r in out["results"] if r["outcome"] == "submitted")
        view = sc(await c.call_tool("get_receivable", {"receivable_id": sent["receivable_id"]}))
    assert view["service_description"]["text"] and view["metadata"]["platform_invoice_id"] == sent["invoice_id"]
    result = next(r for r in out["results"] if r["invoice_id"] == invoice.id)
    assert result["outcome"] == "already_submitted" and result["receivable_id"] == existing
    assert "already on active receivable" in result["reason"]
    assert out["counts"]["submitted"] >= 3
    assert await receivable_count(admin) == 1 + out["counts"]["submitted"]


async def test_a_failed_batch_is_reported_and_a_retry_sends_it(server, settings, admin, monkeypatch):
    """The Cleavr API fails the batch (503 on every attempt): each invoice is reported failed with the error, nothing
    is created, and running the tool again sends them."""
    import cleavr_mcp.sandbox as sandbox_pkg

    apps = []
    real_create_app = sandbox_pkg.create_app

    def capture(config):
        apps.append(real_create_app(config))
        return apps[-1]

    monkeypatch.setattr(sandbox_pkg, "create_app", capture)

    async def break_the_next_batch(context, params):
        # Answered between the question and the body (legacy era): the body's first Cleavr call is the batch.
        embedded = apps[-1]
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=embedded), base_url="http://x") as http:
            token = await admin.headers()
            resp = await http.put("/sandbox/faults", json={"next_faults": ["5xx"] * 4}, headers=token)
            assert resp.status_code == 200, resp.text
        return await Human(content={"confirm": True, "proceed_without_phone": True})(context, params)

    user = demo_user(settings)
    async with client(server, "legacy", break_the_next_batch) as c:
        plan = await preview(c, min_days_overdue=360)
        n, blocked = len(plan["recoverable"]), len(plan["not_recoverable"])
        failed = sc(await c.call_tool("recover_invoices", {"user_id": user, "min_days_overdue": 360}))
    assert n >= 3 and failed["counts"] == {"failed": n, "skipped": blocked}
    assert all(r["error_code"] == "SERVICE_UNAVAILABLE" for r in failed["results"] if r["outcome"] == "failed")
    assert "call recover_invoices again" in failed["next_step"]
    assert await receivable_count(admin) == 0

    async with client(server, "legacy", Human(content={"confirm": True, "proceed_without_phone": True})) as c:
        retried = sc(await c.call_tool("recover_invoices", {"user_id": user, "min_days_overdue": 360}))
    assert retried["counts"] == {"submitted": n, "skipped": blocked}
    assert await receivable_count(admin) == n


@pytest.mark.parametrize("mode", MODES)
async def test_token_flow_covers_the_exact_selection(token_server, server, settings, admin, seeded, mode):
    user = demo_user(settings)
    args = {"user_id": user, "min_days_overdue": 180}
    async with client(token_server, mode) as c:
        first = sc(await c.call_tool("recover_invoices", args))
        assert first["status"] == "confirmation_required" and await receivable_count(admin) == 0
        summary = first["confirmation"]["summary"]
        plan = await preview(c, min_days_overdue=180)
        rows = plan["recoverable"]
        assert f"Send {len(rows)} CleverInvo invoice(s) overdue ≥ 180 days" in summary
        token = first["confirmation"]["confirmation_token"]

        # The selection changes (one invoice recovered on its own): the token no longer matches.
        async with client(server, mode, Human()) as other:
            await other.call_tool("recover_invoice", {"invoice_id": rows[0]["invoice_id"], "user_id": user})
        stale = await c.call_tool("recover_invoices", {**args, "confirmation_token": token})
        assert stale.is_error and "CONFIRMATION_INVALID" in stale.content[0].text and "changed" in stale.content[0].text

        fresh = sc(await c.call_tool("recover_invoices", args))["confirmation"]["confirmation_token"]
        done = sc(await c.call_tool("recover_invoices", {**args, "confirmation_token": fresh}))
    # Confirming by token after a summary that names the phoneless ones sends them too.
    assert done["counts"] == {"submitted": len(rows) - 1, "already_submitted": 1,
                              "skipped": len(plan["not_recoverable"])}
    assert any(not r["has_phone"] for r in rows[1:])
    assert await receivable_count(admin) == len(rows)


@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_declined_sends_nothing(server, settings, admin, action):
    async with client(server, "auto", Human(action=action)) as c:
        out = sc(await c.call_tool("recover_invoices", {"user_id": demo_user(settings)}))
    assert out["status"] in ("declined", "cancelled") and "Nothing was sent" in out["message"]
    assert await receivable_count(admin) == 0


async def test_nothing_to_send_asks_nothing(server, settings, admin):
    human = Human()
    async with client(server, "auto", human) as c:
        out = sc(await c.call_tool("recover_invoices", {"user_id": demo_user(settings), "client_search": "Acme"}))
    assert human.asked == [] and out["status"] == "done" and out["message"].startswith("Nothing to send")
    assert [r["outcome"] for r in out["results"]] == ["skipped"] and "EUR only" in out["results"][0]["reason"]
    assert await receivable_count(admin) == 0


async def test_client_data_cleavr_would_refuse_is_listed_and_never_sent(server, settings, admin, seeded):
    ci = seeded.ci
    # CleverInvo's own email check is looser than Cleavr's: this one passes there, not here.
    bad = await ci.create_client(ClientCreate(name="Imprimerie Durand", email="compta..durand@example.com",
                                              phone="01 23 45 67 89", address="4 rue Neuve, 75011 Paris"))
    issued = date.today() - timedelta(days=130)
    draft = await ci.create_invoice(InvoiceCreate(
        client_id=bad.id, invoice_number="INV-T-001", issue_date=issued, due_date=issued + timedelta(days=30),
        line_items=[LineItemInput(description="Affiches", quantity=Decimal(10), unit_price=Decimal("40.00"),
                                  tax_rate=Decimal(20))]))
    await ci.update_invoice(draft.id, InvoiceUpdate(status="OVERDUE"))
    human = Human()
    async with client(server, "auto", human) as c:
        listed = await preview(c, client_search="Durand")
        batch = sc(await c.call_tool("recover_invoices", {"user_id": demo_user(settings), "client_search": "Durand"}))
        single = await c.call_tool("recover_invoice", {"invoice_id": draft.id, "user_id": demo_user(settings)})
    assert listed["recoverable"] == []
    [row] = listed["not_recoverable"]
    assert row["codes"] == ["invalid_data"]
    assert "email" in row["reasons"][0] and "fix it in CleverInvo" in row["reasons"][0]
    assert batch["message"].startswith("Nothing to send") and batch["results"][0]["outcome"] == "skipped"
    assert single.is_error and "NOT_RECOVERABLE" in single.content[0].text and "email" in single.content[0].text
    assert human.asked == []
    assert await receivable_count(admin) == 0


async def test_large_sets_are_mapped_from_the_list_rows(server, settings, monkeypatch):
    """Above FULL_INVOICE_READS invoices the line items are not read one by one (CleverInvo allows 120 calls a
    minute): the receivables go without a service description, and the summary says so."""
    from cleavr_mcp.tools import cleverinvo

    monkeypatch.setattr(cleverinvo, "FULL_INVOICE_READS", 1)
    async with client(server, "auto", Human()) as c:
        out = sc(await c.call_tool("recover_invoices", {"user_id": demo_user(settings), "client_search": "Dupont"}))
        ids = [r["receivable_id"] for r in out["results"] if r["outcome"] == "submitted"]
        views = [sc(await c.call_tool("get_receivable", {"receivable_id": rid})) for rid in ids]
    assert len(ids) == 2 and "no service description" in out["message"]
    assert all(v["service_description"] is None and v["invoice_numbers"] for v in views)
