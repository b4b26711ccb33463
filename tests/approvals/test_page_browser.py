"""The approval page in a real headless Chromium: the page the server asked to open shows exactly the payload,
Approve writes exactly once, Decline writes nothing, the missing-phone choice works both ways."""

from __future__ import annotations

import os
from decimal import Decimal

from babel.numbers import format_currency

from cleavr_mcp.testing import submission

from .conftest import DOCS


def _facts(page) -> dict[str, str]:
    return {dt.inner_text(): dd.inner_text() for dt, dd in zip(page.locator("dl.facts dt").all(),
                                                               page.locator("dl.facts dd").all())}


def _pending(result) -> None:
    out = result.structured_content
    assert not result.is_error and out["status"] == "approval_pending", result.content[0].text[:400]
    assert out["approval_url"] is None and "web browser" in out["message"]
    assert "http" not in result.content[0].text  # the model never sees the page's address


def test_summary_equals_payload_and_approve_writes_once(desk, opened, browser_page):
    args = {"receivable": submission(desk.demo, number="PAGE-001", amount="5000.00")}
    first = desk.call("submit_receivable", args)
    _pending(first)
    assert desk.writes("submit_receivable") == 0
    browser_page.goto(opened.last())
    facts = _facts(browser_page)
    rec = args["receivable"]
    assert facts["Debtor"] == f"{rec['debtor']['company_name']} (SIRET {rec['debtor']['siret']})"
    assert facts["Invoice(s)"] == "PAGE-001"
    assert facts["Amount incl. tax"] == "€5,000.00"
    assert facts["Issued"] == rec["invoice"]["issue_date"] and facts["Due"] == rec["invoice"]["due_date"]
    assert facts["Commission"] == "15.90 % = €795.00, you receive €4,205.00 (45-89 days)"
    browser_page.get_by_role("button", name="Approve").click()
    assert "Approved" in browser_page.locator(".state").inner_text(timeout=5000)
    done = desk.call("submit_receivable", args)
    assert done.structured_content["status"] == "done", done.content[0].text[:400]
    assert desk.writes("submit_receivable") == 1
    assert [r.confirmed_by for r in desk.audit("submit_receivable") if r.outcome == "done"] == ["page"]
    # the decision is spent: the same call again asks again (and the API would only replay the first write)
    again = desk.call("submit_receivable", args)
    _pending(again)
    assert desk.writes("submit_receivable") == 1
    browser_page.goto(opened.urls[0])
    assert "Approved" in browser_page.locator(".state").inner_text()  # replaying the page changes nothing


def test_decline_writes_nothing(desk, opened, browser_page):
    args = {"receivable": submission(desk.demo, number="PAGE-002")}
    before = desk.stats()["receivables"]["total"]
    _pending(desk.call("submit_receivable", args))
    browser_page.goto(opened.last())
    browser_page.get_by_role("button", name="Decline").click()
    assert "Declined" in browser_page.locator(".state").inner_text()
    result = desk.call("submit_receivable", args)
    assert result.structured_content["status"] == "declined"
    assert desk.stats()["receivables"]["total"] == before and desk.writes("submit_receivable") == 0


def test_missing_phone_entered_phone_is_used(desk, opened, browser_page):
    args = {"receivable": submission(desk.demo, number="PAGE-003", phone=None)}
    _pending(desk.call("submit_receivable", args))
    browser_page.goto(opened.last())
    assert "82%" in browser_page.locator(".note").inner_text()  # the seed's warning
    assert browser_page.get_by_role("button", name="Approve without a phone").is_visible()
    browser_page.get_by_label("Debtor phone").fill("06 11 22 33 44")
    browser_page.get_by_role("button", name="Approve with this phone").click()
    done = desk.call("submit_receivable", args)
    out = done.structured_content
    assert out["status"] == "done" and out["submitted_without_phone"] is False
    rec = desk.get(f"/v1/receivables/{out['receivable']['id']}")
    assert rec["debtor"]["contacts"][0]["phone"] == "+33611223344"


def test_missing_phone_proceed_without(desk, opened, browser_page):
    args = {"receivable": submission(desk.demo, number="PAGE-004", phone=None)}
    _pending(desk.call("submit_receivable", args))
    browser_page.goto(opened.last())
    browser_page.get_by_role("button", name="Approve with this phone").click()  # empty phone: asked again
    assert "valid phone" in browser_page.get_by_role("alert").inner_text()
    assert desk.writes("submit_receivable") == 0
    browser_page.get_by_role("button", name="Approve without a phone").click()
    out = desk.call("submit_receivable", args).structured_content
    assert out["status"] == "done" and out["submitted_without_phone"] is True
    assert desk.writes("submit_receivable") == 1


def test_french_and_phone_width(desk, opened, chromium_browser, tmp_path):
    args = {"receivable": submission(desk.demo, number="PAGE-005", phone=None)}
    _pending(desk.call("submit_receivable", args))
    shots = DOCS if os.environ.get("CLEAVR_MCP_SCREENSHOTS") else tmp_path
    for name, viewport, locale in (("desktop", {"width": 1280, "height": 900}, "en-GB"),
                                   ("phone", {"width": 390, "height": 844}, "fr-FR")):
        context = chromium_browser.new_context(viewport=viewport, locale=locale, device_scale_factor=1)
        page = context.new_page()
        response = page.goto(opened.last())
        assert response.headers["x-frame-options"] == "DENY"
        assert "script-src 'none'" in response.headers["content-security-policy"]
        # the stylesheet passed the CSP (its hash matches): the Approve button is styled, not a grey default
        colour = page.evaluate("getComputedStyle(document.querySelector('button.approve')).backgroundColor")
        assert colour == "rgb(10, 107, 45)", colour
        if locale == "fr-FR":
            assert page.locator("html").get_attribute("lang") == "fr"
            assert page.get_by_role("button", name="Valider sans téléphone").is_visible()
            # money and the tier in French, as Babel (CLDR) writes them: narrow no-break space between thousands,
            # no-break space before € and %
            facts = _facts(page)
            assert facts["Montant TTC"] == format_currency(Decimal("5000"), "EUR", locale="fr") == "5\u202f000,00\u00a0€"
            assert facts["Commission"] == ("15,90\u00a0% = 795,00\u00a0€, vous recevez 4\u202f205,00\u00a0€ "
                                           "(45 à 89 jours)")
            assert "Sans téléphone" in page.locator(".note").inner_text()
            # nothing overflows a phone screen sideways
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.screenshot(path=str(shots / f"approval-page-{name}.png"), full_page=True)
        context.close()
    assert Decimal("0") == Decimal(desk.writes("submit_receivable"))


def test_a_batch_is_approved_in_one_click(desk, opened, browser_page):
    items = [submission(desk.demo, number=f"BATCH-{i}", amount=amount, phone=None if i == 2 else "06 12 34 56 78")
             for i, amount in enumerate(("1200.00", "800.00", "500.00"))]
    _pending(desk.call("submit_receivables_batch", {"receivables": items}))
    browser_page.goto(opened.last())
    facts = _facts(browser_page)
    assert facts["Receivables"] == "3" and facts["Total"] == "€2,500.00"
    rows = [[c.inner_text() for c in r.locator("td").all()] for r in browser_page.locator("tbody tr").all()]
    assert [(r[2], r[3]) for r in rows] == [("BATCH-0", "€1,200.00"), ("BATCH-1", "€800.00"), ("BATCH-2", "€500.00")]
    assert [r[5] for r in rows] == ["✓", "✓", "—"]
    browser_page.get_by_role("button", name="Approve").click()  # one click for the whole batch
    out = desk.call("submit_receivables_batch", {"receivables": items}).structured_content
    assert out["status"] == "done" and out["counts"] == {"submitted": 2, "skipped": 1}
    assert desk.writes("submit_receivables_batch") == 1


def test_evidence_shows_names_sizes_and_sha256(desk, opened, browser_page):
    import base64
    import hashlib

    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Signed delivery receipt")
    data = bytes(pdf.output())
    rec = desk.portal.call(lambda: desk.admin.post("/v1/receivables", submission(desk.demo, number="EVID-1",
                                                                                  phone="+33612345678"),
                                                   **{"Idempotency-Key": "EVID-1"}))["id"]
    desk.portal.call(lambda: desk.admin.advance(rec, "start_recovery"))
    desk.portal.call(lambda: desk.admin.advance(rec, "dispute", reason="service_not_delivered",
                                                debtor_message="Never delivered.", evidence_requested=[]))
    args = {"receivable_id": rec, "statement": "Delivered and signed for.",
            "documents": [{"type": "delivery_confirmation", "filename": "receipt.pdf",
                           "content_base64": base64.b64encode(data).decode()}]}
    _pending(desk.call("submit_evidence", args))
    browser_page.goto(opened.last())
    assert browser_page.locator('[data-file="name"]').inner_text() == "receipt.pdf"
    assert browser_page.locator('[data-file="size"]').inner_text() == f"{len(data):,} B"
    assert browser_page.locator('[data-file="sha256"]').inner_text() == hashlib.sha256(data).hexdigest()[:16]
    browser_page.get_by_role("button", name="Approve").click()
    assert desk.call("submit_evidence", args).structured_content["status"] == "done"
    assert desk.writes("submit_evidence") == 1


def _overdue(desk, client: str, days: int) -> dict:
    rows = desk.call("list_overdue_invoices", {"min_days_overdue": 0, "limit": 100}).structured_content["recoverable"]
    return next(r for r in rows if r["client"] == client and r["days_overdue"] == days)


def test_recover_invoice_page_in_french(desk, opened, chromium_browser):
    """A partially paid CleverInvo invoice: its notes (what was paid, what Cleavr would recover, the mapping's
    notes), the amounts and the tier are all in French; the English page says the same in English."""
    row = _overdue(desk, "Dupont & Fils SAS", 95)
    _pending(desk.call("recover_invoice", {"invoice_id": row["invoice_id"], "user_id": desk.demo}))
    pages = {}
    for locale in ("fr-FR", "en-GB"):
        context = chromium_browser.new_context(locale=locale)
        page = context.new_page()
        page.goto(opened.last())
        pages[locale] = (_facts(page), [n.inner_text() for n in page.locator(".note").all()])
        context.close()
    (fr_facts, fr_notes), (en_facts, en_notes) = pages["fr-FR"], pages["en-GB"]
    assert en_facts["Amount incl. tax"] == "€5,100.00" and fr_facts["Montant TTC"] == "5\u202f100,00\u00a0€"
    assert en_notes[:2] == ["Partially paid: CleverInvo says €2,000.00 of €5,100.00 was paid, so €3,100.00 is "
                            "still due.", "Amount Cleavr would recover: €3,100.00."]
    assert fr_notes[:2] == ["Paiement partiel : selon CleverInvo, 2\u202f000,00\u00a0€ sur 5\u202f100,00\u00a0€ ont été "
                            "payés ; il reste donc 3\u202f100,00\u00a0€ à payer.",
                            "Montant que Cleavr recouvrerait : 3\u202f100,00\u00a0€."]
    assert len(fr_notes) == len(en_notes) and fr_notes != en_notes
    assert all(fr != en for fr, en in zip(fr_notes, en_notes)), "a note has no French"
    assert en_facts["Commission"].endswith("(90-179 days)") and fr_facts["Commission"].endswith("(90 à 179 jours)")
    assert "vous recevez" in fr_facts["Commission"]
    assert desk.writes("recover_invoice") == 0


def test_recover_invoices_page_in_french(desk, opened, chromium_browser):
    """The batch page: totals and rows in French money, the fee as a French rate, the notes in French."""
    _pending(desk.call("recover_invoices", {"user_id": desk.demo, "client_search": "Caf"}))
    context = chromium_browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(opened.last())
    facts = _facts(page)
    rows = [[c.inner_text() for c in r.locator("td").all()] for r in page.locator("tbody tr").all()]
    notes = [n.inner_text() for n in page.locator(".note").all()]
    context.close()
    assert facts["Total"].endswith("\u00a0€") and "," in facts["Total"]
    assert {r[1] for r in rows} == {"Café des Arts"} and all(r[2].endswith(",00\u00a0€") for r in rows)
    assert all(r[4].endswith("\u00a0%") and "," in r[4] for r in rows), rows
    assert notes and all("have no debtor phone" not in n and "Not sent" not in n for n in notes), notes
    assert any(n.startswith(f"{len(rows)} sans téléphone du débiteur.") for n in notes), (rows, notes)
