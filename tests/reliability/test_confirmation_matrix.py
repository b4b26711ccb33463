"""Fault matrix for confirmations: every risky tool × every way a confirmation can go → a write happens exactly when
a human confirmed.

Outcomes through elicitation (both protocol eras): accept with the box ticked (write), accept unticked, decline,
cancel (no write). Through the token flow (a client that cannot ask, on a server that opted in to
CLEAVR_MCP_CONFIRM_CHANNEL=model-token; the default approval page has its own matrix in tests/approvals): the first call (no write, a token), a forged
token, a token for changed arguments, an expired token, a token of another tool (no write), the valid token (write)
and the same token replayed (no second write).

"Write" is observed from outside the server: the sandbox's own counts (receivables by status, events) and the
server's audit log (rows with outcome "done" for the tool). Both must move for a confirmed write and stay still
otherwise.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitResult

from cleavr_mcp.cleverinvo import CleverInvoClient
from cleavr_mcp.cleverinvo.models import ClientCreate, InvoiceCreate, InvoiceUpdate, LineItemInput
from cleavr_mcp.config import Settings
from cleavr_mcp.sandbox import SandboxConfig
from cleavr_mcp.sandbox.cleverinvo import MOUNT_PATH, sandbox_api_key
from cleavr_mcp.sandbox.testing import demo_user_id
from cleavr_mcp.server.app import build_server
from cleavr_mcp.testing import embedded_admin
from cleavr_mcp.toolkit.store import audit_rows_in

from .conftest import bench

RISKY = ["submit_receivable", "submit_receivables_batch", "cancel_receivable", "submit_evidence",
         "handle_partial_payment", "recover_invoice", "recover_invoices"]
ELICITATION = ["accept", "accept_unticked", "decline", "cancel"]
TOKENS = ["first_call", "forged", "changed_payload", "expired", "other_tool", "valid_then_replayed"]
_numbers = itertools.count(1)


class ScriptedHuman:
    """Answers every form the way the current case says (ticks every box on accept unless told not to)."""

    def __init__(self) -> None:
        self.action = "accept"
        self.tick = True
        self.asked = 0

    async def __call__(self, context, params) -> ElicitResult:
        self.asked += 1
        if self.action != "accept":
            return ElicitResult(action=self.action)
        content: dict[str, Any] = {}
        for name, prop in (params.requested_schema or {}).get("properties", {}).items():
            if prop.get("type") == "boolean":
                content[name] = self.tick
            elif "default" in prop:
                content[name] = prop["default"]  # what the form proposes (e.g. the amount still due)
            elif "phone" in name:
                content[name] = "+33612345678"
            elif "email" in name:
                content[name] = "debtor@example.com"
        return ElicitResult(action="accept", content=content)


def _tiny_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Delivery receipt - signed")
    return bytes(pdf.output())


@dataclass
class World:
    settings: Settings
    portal: Any
    admin: Any
    human: ScriptedHuman
    asking: dict[str, Client]  # mode -> client that can elicit
    silent: Client  # no elicitation capability: token flow
    expired: Client  # a server whose tokens expire the moment they are minted
    demo: str
    cleverinvo: Any  # the CleverInvo sandbox's API (same SQLite file as the server's embedded sandbox)

    def call(self, client: Client, tool: str, args: dict):
        return self.portal.call(client.call_tool, tool, args)

    def fingerprint(self, receivable_id: str | None = None) -> tuple:
        """The sandbox's counts, and the receivable itself when the call targets one (a decision may change
        only its own fields)."""
        stats = self.portal.call(self.admin.get, "/sandbox/stats")
        target = self.portal.call(self.admin.get, f"/v1/receivables/{receivable_id}") if receivable_id else None
        return (stats["receivables"]["total"], tuple(sorted(stats["receivables"]["by_status"].items())),
                stats["events"], repr(target))

    def done_rows(self, tool: str) -> int:
        rows = audit_rows_in(Path(self.settings.data_dir) / "server.sqlite3")
        # a replay (the API answered an earlier identical write) is audited as done + replayed: not a new write
        return sum(1 for row in rows if row.tool == tool and row.outcome == "done" and not row.replayed)

    def advance(self, rec_id: str, body: dict) -> None:
        self.portal.call(self.admin.post, f"/sandbox/receivables/{rec_id}/advance", body)

    def new_receivable(self, status: str = "pending") -> str:
        """A receivable created through the tools by a consenting human, moved on with the sandbox's test clock."""
        human = self.human.action, self.human.tick
        self.human.action, self.human.tick = "accept", True
        try:
            result = self.call(self.asking["auto"], "submit_receivable",
                               {"receivable": bench.receivable_args(self.demo, f"MX-SETUP-{next(_numbers)}")})
        finally:
            self.human.action, self.human.tick = human
        assert not result.is_error, result.content
        rec_id = result.structured_content["receivable"]["id"]
        if status in ("disputed", "partially_paid"):
            self.advance(rec_id, {"action": "start_recovery"})
        if status == "disputed":
            self.advance(rec_id, {"action": "dispute", "reason": "service_not_delivered",
                                  "debtor_message": "Never delivered.", "evidence_requested": []})
        if status == "partially_paid":
            self.advance(rec_id, {"action": "partial_payment", "paid_amount": "300.00"})
        return rec_id

    def new_overdue_invoice(self) -> tuple[str, str]:
        """A CleverInvo client of its own with one invoice 60 days overdue, added to the sandbox's book through its
        API: every recover_invoice(s) case gets targets no other case approved, declined or wrote (client name,
        invoice id)."""
        n = next(_numbers)
        name = f"Matrix Debtor {n:04d} SARL"  # ASCII, and no name is a substring of another: client_search finds one
        issued = date.today() - timedelta(days=90)

        async def add() -> str:
            ci = self.cleverinvo
            client = await ci.create_client(ClientCreate(name=name, email=f"compta{n}@matrix-debtor.example",
                                                         phone="06 12 34 56 78", address="4 rue Neuve, 75011 Paris"))
            draft = await ci.create_invoice(InvoiceCreate(
                client_id=client.id, invoice_number=f"MX-CI-{n:04d}", issue_date=issued,
                due_date=issued + timedelta(days=30),
                line_items=[LineItemInput(description="Conseil (jours)", quantity=Decimal(2),
                                          unit_price=Decimal("650.00"), tax_rate=Decimal(20))]))
            await ci.update_invoice(draft.id, InvoiceUpdate(status="OVERDUE"))
            return draft.id

        return name, self.portal.call(add)


# Per tool: (arguments for a fresh target, the same call with one harmless change). `write` says whether the case
# may write (kept for the callers' readability: every target is fresh now, CleverInvo ones included).
def _args(world: World, tool: str, *, write: bool) -> tuple[dict, dict]:
    n = next(_numbers)
    _current_target["receivable_id"] = None
    if tool == "submit_receivable":
        args = {"receivable": bench.receivable_args(world.demo, f"MX-{n}")}
        changed = {"receivable": bench.receivable_args(world.demo, f"MX-{n}", amount="1300.00")}
    elif tool == "submit_receivables_batch":
        args = {"receivables": [bench.receivable_args(world.demo, f"MXB-{n}-{i}") for i in range(2)]}
        changed = {"receivables": args["receivables"][:1]}
    elif tool == "cancel_receivable":
        rec = world.new_receivable()
        _current_target["receivable_id"] = rec
        args = {"receivable_id": rec, "reason": "paid_directly", "notes": "Paid by transfer"}
        changed = {**args, "reason": "business_decision"}
    elif tool == "submit_evidence":
        rec = world.new_receivable("disputed")
        _current_target["receivable_id"] = rec
        doc = {"type": "delivery_confirmation", "content_base64": base64.b64encode(_tiny_pdf()).decode(),
               "filename": "receipt.pdf"}
        args = {"receivable_id": rec, "statement": "Delivered and signed for.", "documents": [doc]}
        changed = {**args, "statement": "Delivered, signed, and paid in part."}
    elif tool == "handle_partial_payment":
        rec = world.new_receivable("partially_paid")
        _current_target["receivable_id"] = rec
        args = {"receivable_id": rec, "action": "continue_recovery"}
        changed = {**args, "action": "mark_complete"}
    elif tool == "recover_invoice":
        _, invoice = world.new_overdue_invoice()
        args = {"invoice_id": invoice, "user_id": world.demo}
        changed = {**args, "debtor_email": "other@example.com"}
    else:  # recover_invoices
        name, _ = world.new_overdue_invoice()
        args = {"user_id": world.demo, "client_search": name, "min_days_overdue": 0}
        changed = {**args, "min_days_overdue": 1}
    return args, changed


@pytest.fixture(scope="module")
def world(portal, tmp_path_factory) -> World:
    base = tmp_path_factory.mktemp("matrix")
    # ~500 CleverInvo calls in a minute (fresh targets, then the tools reading them): above the plan's 120 a minute
    # the client would pace the run (tests/cleverinvo prove that pacing); not what this matrix is about.
    settings = Settings(_env_file=None, data_dir=base / "data", allowed_roots=[base],
                        cleverinvo_rate_limit_per_minute=100_000)
    server = build_server(settings)
    # The token cases run on the explicit opt-in (CLEAVR_MCP_CONFIRM_CHANNEL=model-token): by default a client that
    # cannot elicit gets the approval page instead (tests/approvals/test_attack_matrix.py covers that channel).
    token_server = build_server(settings.model_copy(update={"confirm_channel": "model-token"}))
    expired_server = build_server(settings.model_copy(update={"confirmation_ttl_seconds": -60,
                                                              "confirm_channel": "model-token"}))
    human = ScriptedHuman()
    managers = {
        "auto": Client(server, mode="auto", elicitation_callback=human),
        "legacy": Client(server, mode="legacy", elicitation_callback=human),
        "silent": Client(token_server, mode="auto"),
        "expired": Client(expired_server, mode="auto"),
    }
    entered = {name: portal.wrap_async_context_manager(cm) for name, cm in managers.items()}
    opened: dict[str, Client] = {}
    admin = embedded_admin(settings)
    try:  # every client opened is closed again, whatever fails: the portal cannot stop with a session open
        for name, cm in entered.items():
            opened[name] = cm.__enter__()
        # The server's first call seeds the sandbox; the matrix then adds its CleverInvo targets through the API.
        portal.call(opened["auto"].call_tool, "list_overdue_invoices", {"min_days_overdue": 0, "limit": 1})
        key = sandbox_api_key(SandboxConfig.from_settings(settings).db_path)
        cleverinvo = CleverInvoClient(admin.http, api_key=key, base_url="http://admin.local" + MOUNT_PATH,
                                      limiter=None)
        yield World(settings, portal, admin, human, {"auto": opened["auto"], "legacy": opened["legacy"]},
                    opened["silent"], opened["expired"], demo_user_id(settings.sandbox_db_path), cleverinvo)
    finally:
        portal.call(admin.aclose)
        for name in reversed(list(opened)):
            entered[name].__exit__(None, None, None)


_current_target: dict[str, str | None] = {"receivable_id": None}


def _observe(world: World, tool: str, action: Callable[[], Any]) -> tuple[Any, bool, int]:
    """Run `action`; return its result, whether the sandbox changed, and how many audited writes it added."""
    target = _current_target["receivable_id"]
    before, done_before = world.fingerprint(target), world.done_rows(tool)
    result = action()
    return result, world.fingerprint(target) != before, world.done_rows(tool) - done_before


def _refused(result, reason: str) -> None:
    text = result.content[0].text
    assert result.is_error and "CONFIRMATION_INVALID" in text and f"({reason})" in text, text[:400]
    assert bench.is_clear_error(result)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("outcome", ELICITATION)
@pytest.mark.parametrize("tool", RISKY)
def test_elicitation_outcomes(world, tool, outcome, mode):
    write = outcome == "accept"
    args, _ = _args(world, tool, write=write)
    world.human.action = "accept" if outcome.startswith("accept") else outcome
    world.human.tick = outcome != "accept_unticked"
    asked = world.human.asked
    try:
        result, changed, audited = _observe(world, tool, lambda: world.call(world.asking[mode], tool, args))
    finally:
        world.human.action, world.human.tick = "accept", True
    assert world.human.asked > asked, "the human was never asked"
    if write:
        assert not result.is_error and result.structured_content["status"] == "done", result.content[0].text[:400]
        assert changed and audited == 1
    else:
        assert not changed and audited == 0, result.content[0].text[:400]
        expected = {"decline": "declined", "cancel": "cancelled", "accept_unticked": "declined"}[outcome]
        assert result.structured_content["status"] == expected, result.content[0].text[:400]


def _token(result) -> str:
    out = result.structured_content
    assert not result.is_error and out["status"] == "confirmation_required", result.content[0].text[:400]
    return out["confirmation"]["confirmation_token"]


@pytest.mark.parametrize("case", TOKENS)
@pytest.mark.parametrize("tool", RISKY)
def test_token_flow_outcomes(world, tool, case):
    write = case == "valid_then_replayed"
    args, changed_args = _args(world, tool, write=write)
    client = world.expired if case == "expired" else world.silent
    first, changed, audited = _observe(world, tool, lambda: world.call(client, tool, args))
    token = _token(first)  # nothing was sent: the summary is for the human
    assert not changed and audited == 0
    if case == "first_call":
        assert first.structured_content["confirmation"]["summary"]
        return
    if case == "forged":
        prefix, body, mac = token.split(".")
        forged = f"{prefix}.{body}.{('A' if mac[0] != 'A' else 'B')}{mac[1:]}"
        result, changed, audited = _observe(world, tool, lambda: world.call(client, tool, {**args, "confirmation_token": forged}))
        _refused(result, "forged")
    elif case == "changed_payload":
        result, changed, audited = _observe(
            world, tool, lambda: world.call(client, tool, {**changed_args, "confirmation_token": token}))
        _refused(result, "changed")
    elif case == "expired":
        result, changed, audited = _observe(world, tool, lambda: world.call(client, tool, {**args, "confirmation_token": token}))
        _refused(result, "expired")
    elif case == "other_tool":
        other = "cancel_receivable" if tool != "cancel_receivable" else "handle_partial_payment"
        other_args, _ = _args(world, other, write=False)
        result, changed, audited = _observe(
            world, other, lambda: world.call(client, other, {**other_args, "confirmation_token": token}))
        _refused(result, "other_tool")
    else:  # the valid token writes once; the same token again writes nothing
        result, changed, audited = _observe(world, tool, lambda: world.call(client, tool, {**args, "confirmation_token": token}))
        assert not result.is_error and result.structured_content["status"] == "done", result.content[0].text[:400]
        assert changed and audited == 1
        result, changed, audited = _observe(world, tool, lambda: world.call(client, tool, {**args, "confirmation_token": token}))
        text = result.content[0].text
        if "INVALID_STATE" in text:
            # cancel / evidence / partial payment moved the receivable on: the state machine refuses first
            assert result.is_error and bench.is_clear_error(result)
        elif not result.is_error:
            # recover_invoice(s) find the invoices already on Cleavr before looking at the token: nothing is sent
            out = result.structured_content
            assert out["idempotent_replay"] is True or "Nothing to send" in out["message"], text[:400]
        else:
            _refused(result, "replayed")
    assert not changed and audited == 0
