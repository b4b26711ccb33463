"""recover_invoice: the human sees the debtor, the amount and the quote, supplies what is missing, and an invoice
becomes at most one receivable — with elicitation (both eras) and with the token fallback."""

from __future__ import annotations

from decimal import Decimal

import pytest

from .conftest import MODES, Human, client, demo_user, quote_text, receivable_count, sc

pytestmark = pytest.mark.anyio


def euros(amount: Decimal) -> str:
    return f"€{amount:,.2f}"


@pytest.mark.parametrize("mode", MODES)
async def test_asks_with_the_quote_then_submits(server, settings, admin, seeded, mode):
    invoice = seeded.pick("Boulangerie Martin SARL", "OVERDUE", 60)
    human = Human()
    async with client(server, mode, human) as c:
        result = await c.call_tool("recover_invoice", {"invoice_id": invoice.id, "user_id": demo_user(settings)})
        assert not result.is_error, result.content
        out = sc(result)
        full = sc(await c.call_tool("get_receivable", {"receivable_id": out["receivable"]["id"]}))
    assert out["status"] == "done" and out["idempotent_replay"] is False and out["submitted_without_phone"] is False
    quote = quote_text(invoice.total, invoice.issue_date)
    assert out["commission_summary"] == quote
    assert len(human.asked) == 1
    message = human.asked[0].message
    for expected in ("Boulangerie Martin SARL (SIRET 52398741000025)", invoice.invoice_number, euros(invoice.total),
                     "60 days overdue", quote, "compta@boulangerie-martin.example", "+33612345678"):
        assert expected in message, expected
    assert set(human.asked[0].requested_schema["properties"]) == {"confirm"}

    assert Decimal(full["amount"]) == invoice.total and full["invoice_numbers"] == [invoice.invoice_number]
    assert full["metadata"]["platform_invoice_id"] == invoice.id and full["metadata"]["source"] == "cleverinvo"
    assert full["contacts"][0]["phone"] == "+33612345678"
    assert full["service_description"]["text"] == "Développement site vitrine"
    assert await receivable_count(admin) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_recovering_twice_returns_the_first_receivable(server, settings, admin, seeded, mode):
    invoice = seeded.pick("Hôtel Beau Rivage", "OVERDUE", 150)
    args = {"invoice_id": invoice.id, "user_id": demo_user(settings)}
    human = Human()
    async with client(server, mode, human) as c:
        first = sc(await c.call_tool("recover_invoice", args))
        second = sc(await c.call_tool("recover_invoice", args))
    async with client(server, mode) as no_form:  # not even a confirmation is needed to be told it exists
        third = sc(await no_form.call_tool("recover_invoice", args))
    assert first["idempotent_replay"] is False
    for again in (second, third):
        assert again["status"] == "done" and again["idempotent_replay"] is True
        assert again["receivable"]["id"] == first["receivable"]["id"]
        assert "already submitted" in again["message"] and "Nothing new was sent" in again["message"]
    assert len(human.asked) == 1
    assert await receivable_count(admin) == 1


async def test_partially_paid_amount_is_shown_and_can_be_corrected(server, settings, admin, seeded):
    invoice = seeded.pick("Dupont & Fils SAS", "PARTIALLY_PAID", 95)
    assert (invoice.total, invoice.amount_paid) == (Decimal("5100.00"), Decimal("2000.00"))
    args = {"invoice_id": invoice.id, "user_id": demo_user(settings)}

    too_much = Human(content={"confirm": True, "amount_due": "6000"})
    async with client(server, "auto", too_much) as c:
        refused = await c.call_tool("recover_invoice", args)
    text = refused.content[0].text
    assert refused.is_error and "VALIDATION_ERROR" in text and "amount_due" in text and "Environment: sandbox" in text
    assert await receivable_count(admin) == 0

    human = Human(content={"confirm": True, "amount_due": "3 000,00 €"})
    async with client(server, "auto", human) as c:
        out = sc(await c.call_tool("recover_invoice", args))
        full = sc(await c.call_tool("get_receivable", {"receivable_id": out["receivable"]["id"]}))
    asked = human.asked[0]
    assert asked.requested_schema["properties"]["amount_due"]["default"] == "3100.00"
    assert "CleverInvo says €2,000.00 of €5,100.00 was paid, so €3,100.00 is still due" in asked.message
    assert quote_text(Decimal("3100.00"), invoice.issue_date) in asked.message
    assert out["amount_recovered"] == "3000.00" and Decimal(full["amount"]) == Decimal("3000.00")
    assert full["metadata"]["amount_paid"] == "2100.00" and full["metadata"]["invoice_total"] == "5100.00"
    assert any(n.startswith("Partially paid: recovering the 3 000.00 EUR") for n in out["notes"])


async def test_a_missing_phone_is_asked_for_or_waived_by_the_human(server, settings, admin, seeded):
    recent = seeded.pick("Café des Arts", "OVERDUE", 30)
    old = seeded.pick("Café des Arts", "OVERDUE", 546)
    user = demo_user(settings)

    neither = Human(content={"confirm": True, "phone": "", "proceed_without_phone": False})
    async with client(server, "auto", neither) as c:
        declined = sc(await c.call_tool("recover_invoice", {"invoice_id": recent.id, "user_id": user}))
    assert declined["status"] == "declined" and "Nothing was sent" in declined["message"]
    assert {"phone", "proceed_without_phone", "confirm"} == set(neither.asked[0].requested_schema["properties"])
    assert "82% to 45%" in neither.asked[0].message
    assert await receivable_count(admin) == 0

    bad_phone = Human(content={"confirm": True, "phone": "12", "proceed_without_phone": False})
    async with client(server, "auto", bad_phone) as c:
        refused = await c.call_tool("recover_invoice", {"invoice_id": recent.id, "user_id": user})
    assert refused.is_error and "not a valid number" in refused.content[0].text

    phone = Human(content={"confirm": True, "phone": "04 78 12 34 56", "proceed_without_phone": False})
    proceed = Human(content={"confirm": True, "phone": "", "proceed_without_phone": True})
    async with client(server, "auto", phone) as c:
        with_phone = sc(await c.call_tool("recover_invoice", {"invoice_id": recent.id, "user_id": user}))
        full = sc(await c.call_tool("get_receivable", {"receivable_id": with_phone["receivable"]["id"]}))
    async with client(server, "auto", proceed) as c:
        without = sc(await c.call_tool("recover_invoice", {"invoice_id": old.id, "user_id": user}))
    assert full["contacts"][0]["phone"] == "+33478123456" and with_phone["submitted_without_phone"] is False
    assert without["status"] == "done" and without["submitted_without_phone"] is True
    assert await receivable_count(admin) == 2


async def test_a_missing_email_is_asked_for(server, settings, seeded):
    invoice = seeded.pick("Garage Lefèvre", "OVERDUE", 90)
    human = Human(content={"confirm": True, "email": "compta@garage-lefevre.example"})
    async with client(server, "auto", human) as c:
        out = sc(await c.call_tool("recover_invoice", {"invoice_id": invoice.id, "user_id": demo_user(settings)}))
        full = sc(await c.call_tool("get_receivable", {"receivable_id": out["receivable"]["id"]}))
    assert "email" in human.asked[0].requested_schema["required"]
    assert "No debtor email" in human.asked[0].message
    assert full["contacts"][0] == {"name": None, "email": "compta@garage-lefevre.example", "phone": "+33478123456",
                                   "level": 0}
    assert "SIRET 39845612900046" in human.asked[0].message


@pytest.mark.parametrize(("mode", "action", "status"), [
    ("auto", "decline", "declined"), ("auto", "cancel", "cancelled"), ("auto", "unticked", "declined"),
    ("legacy", "decline", "declined")])
async def test_no_confirmation_means_nothing_is_sent(server, settings, admin, seeded, mode, action, status):
    invoice = seeded.pick("Boulangerie Martin SARL", "OVERDUE", 60)
    human = Human(content={"confirm": False}) if action == "unticked" else Human(action=action)
    async with client(server, mode, human) as c:
        result = await c.call_tool("recover_invoice", {"invoice_id": invoice.id, "user_id": demo_user(settings)})
    assert not result.is_error
    assert sc(result)["status"] == status and "Nothing was sent" in sc(result)["message"]
    assert await receivable_count(admin) == 0


@pytest.mark.parametrize("mode", MODES)
async def test_token_flow_without_elicitation(token_server, settings, admin, seeded, mode):
    invoice = seeded.pick("Cabinet Rousseau Avocats", "OVERDUE", 364)
    args = {"invoice_id": invoice.id, "user_id": demo_user(settings)}
    async with client(token_server, mode) as c:
        first = sc(await c.call_tool("recover_invoice", args))
        assert first["status"] == "confirmation_required"
        token = first["confirmation"]["confirmation_token"]
        assert quote_text(invoice.total, invoice.issue_date) in first["confirmation"]["summary"]
        assert await receivable_count(admin) == 0

        changed = await c.call_tool("recover_invoice", {**args, "debtor_phone": "0611223344",
                                                        "confirmation_token": token})
        assert changed.is_error and "changed" in changed.content[0].text

        done = sc(await c.call_tool("recover_invoice", {**args, "confirmation_token": token}))
        assert done["status"] == "done" and done["idempotent_replay"] is False
        again = sc(await c.call_tool("recover_invoice", {**args, "confirmation_token": token}))
        assert again["idempotent_replay"] is True and again["receivable"]["id"] == done["receivable"]["id"]
    assert await receivable_count(admin) == 1


async def test_token_flow_cannot_confirm_a_missing_email(token_server, settings, admin, seeded):
    invoice = seeded.pick("Garage Lefèvre", "VIEWED", 200)
    args = {"invoice_id": invoice.id, "user_id": demo_user(settings)}
    async with client(token_server) as c:
        refused = await c.call_tool("recover_invoice", args)
        assert refused.is_error and "DEBTOR_EMAIL_NEEDED" in refused.content[0].text
        assert "ask the user" in refused.content[0].text.lower() and "debtor_email" in refused.content[0].text

        with_email = {**args, "debtor_email": "garage@lefevre.example"}
        first = sc(await c.call_tool("recover_invoice", with_email))
        assert first["status"] == "confirmation_required"
        assert "garage@lefevre.example" in first["confirmation"]["summary"]
        token = first["confirmation"]["confirmation_token"]
        done = sc(await c.call_tool("recover_invoice", {**with_email, "confirmation_token": token}))
        full = sc(await c.call_tool("get_receivable", {"receivable_id": done["receivable"]["id"]}))
    assert full["contacts"][0]["email"] == "garage@lefevre.example"
    assert await receivable_count(admin) == 1


async def test_what_cannot_be_recovered_is_refused_before_asking(server, settings, admin, seeded):
    user = demo_user(settings)
    human = Human()
    async with client(server, "auto", human) as c:
        usd = await c.call_tool("recover_invoice", {"invoice_id": seeded.pick("Acme Corp", "OVERDUE").id,
                                                    "user_id": user})
        paid = await c.call_tool("recover_invoice", {"invoice_id": seeded.pick("Dupont & Fils SAS", "PAID").id,
                                                     "user_id": user})
        not_due = await c.call_tool("recover_invoice", {"invoice_id": seeded.pick("Dupont & Fils SAS", "SENT").id,
                                                        "user_id": user})
        unknown = await c.call_tool("recover_invoice", {"invoice_id": "clxnope", "user_id": user})
    assert usd.is_error and "NOT_RECOVERABLE" in usd.content[0].text and "EUR only" in usd.content[0].text
    assert paid.is_error and "already paid" in paid.content[0].text
    assert not_due.is_error and "not yet due" in not_due.content[0].text
    assert "list_overdue_invoices" in usd.content[0].text
    assert unknown.is_error and "CLEVERINVO_NOT_FOUND" in unknown.content[0].text
    assert human.asked == []
    assert await receivable_count(admin) == 0


async def test_a_creditor_not_onboarded_gets_the_onboarding_link(server, seeded):
    invoice = seeded.pick("Boulangerie Martin SARL", "OVERDUE", 60)
    human = Human()
    async with client(server, "auto", human) as c:
        created = sc(await c.call_tool("create_user", {"user": {"email": "new.creditor@example.fr",
                                                                "company": {"name": "New Creditor SAS"}}}))
        refused = await c.call_tool("recover_invoice", {"invoice_id": invoice.id, "user_id": created["user_id"]})
    assert refused.is_error and "USER_NOT_ONBOARDED" in refused.content[0].text
    assert human.asked == []


async def test_an_amount_given_by_the_model_is_shown_and_bounded(server, token_server, settings, admin, seeded):
    invoice = seeded.pick("Librairie Papillon", "OVERDUE", 250)
    args = {"invoice_id": invoice.id, "user_id": demo_user(settings)}
    human = Human()
    async with client(server, "auto", human) as c:
        too_much = await c.call_tool("recover_invoice", {**args, "amount_due": str(invoice.total + 1)})
        assert too_much.is_error and "more than the invoice total" in too_much.content[0].text
        assert human.asked == []
    async with client(token_server) as c:  # token flow: the summary must show the reduced amount
        first = sc(await c.call_tool("recover_invoice", {**args, "amount_due": "500.00"}))
        summary = first["confirmation"]["summary"]
        assert f"Payments: CleverInvo says €0.00 of {euros(invoice.total)} was paid" in summary
        assert "Amount Cleavr would recover: €500.00." in summary
        assert quote_text(Decimal("500.00"), invoice.issue_date) in summary
        token = first["confirmation"]["confirmation_token"]
        done = sc(await c.call_tool("recover_invoice", {**args, "amount_due": "500.00", "confirmation_token": token}))
    assert done["amount_recovered"] == "500.00"
    assert await receivable_count(admin) == 1


async def test_contact_arguments_are_checked_before_asking(server, settings, admin, seeded):
    invoice = seeded.pick("Café des Arts", "OVERDUE", 30)
    args = {"invoice_id": invoice.id, "user_id": demo_user(settings)}
    human = Human()
    async with client(server, "auto", human) as c:
        bad_email = await c.call_tool("recover_invoice", {**args, "debtor_email": "not-an-email"})
        bad_phone = await c.call_tool("recover_invoice", {**args, "debtor_phone": "123"})
        good = sc(await c.call_tool("recover_invoice", {**args, "debtor_phone": "+33 4 72 00 00 00"}))
    assert bad_email.is_error and "debtor_email" in bad_email.content[0].text
    assert bad_phone.is_error and "debtor_phone" in bad_phone.content[0].text
    assert len(human.asked) == 1 and "+33472000000" in human.asked[0].message
    assert set(human.asked[0].requested_schema["properties"]) == {"confirm"}  # the phone is no longer missing
    assert good["status"] == "done" and good["submitted_without_phone"] is False
    assert await receivable_count(admin) == 1
