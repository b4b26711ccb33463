"""The cross-tenant matrix (#15), over real HTTP in both protocol eras: every tool, resource, resource template,
prompt and completion, called by A (creditor a), B (creditor b), R (creditor a, read-only) and ADMIN (every creditor)
with the caller's own ids, the other creditor's ids, and ids that exist nowhere.

- Own ids work (a write reaches its approval question; the person declines, so the world stays as seeded).
- The other creditor's ids get the answer a non-existent id gets, byte for byte once the id is swapped; nothing is
  asked, nothing is written (every business row of the sandbox and of the server's state is hashed before and
  after; the audit gains only refusals, naming the caller).
- None of the other creditor's data (names, emails, amounts, invoice numbers, event text; its ids unless the caller
  named them) appears in any byte the caller received, notifications included.
- A tool the caller's ceiling hides is absent from tools/list and refused by name.

The tool list is the registry's: a new tool joins the matrix by itself and fails until it is given a case below.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from mcp import MCPError

from cleavr_mcp.testing import Human
from cleavr_mcp.tools import all_tools

from .world import (
    CALLERS,
    ERAS,
    Caller,
    Creditor,
    Missing,
    Recorder,
    World,
    _absent,
    audit_since,
    changed,
    connect,
    leaks,
    pdf_content,
)
from .world import snapshot as take_snapshot

pytestmark = pytest.mark.anyio

Target = Creditor | Missing
REFUSED = {"NOT_FOUND", "TOOL_NOT_ALLOWED"}
REQUEST_ID = re.compile(r"req_[0-9a-f]{8,}")


@dataclass(frozen=True)
class Case:
    """How to call one tool. `ids`: args(target, own, world) with a target creditor's ids (own, foreign, missing).
    `scoped`: args(own, world), a call naming no creditor (a list, a quote): the caller's rows only."""

    tool: str
    kind: str  # ids | scoped
    args: Callable[..., dict[str, Any]]
    shows_own: bool = False  # scoped: the answer must contain some of the caller's own data


def _receivable(target: Target, own: Creditor, number: str, **extra: Any) -> dict[str, Any]:
    from .world import LOOKS, receivable_body

    look = LOOKS[own.key]
    body = receivable_body(target.user_id, look, number)
    return {**body, **extra}


def _number(tag: str) -> str:
    return f"INV-MATRIX-{tag}"


CONTACT = {"first_name": "Nouveau", "last_name": "Contact", "email": "nouveau.contact@matrix.example"}

# key: the tool, or "tool#variant" for a second way of naming a creditor in its arguments
CASES: dict[str, Case] = {
    "create_user": Case("create_user", "scoped", lambda own, w: {
        "user": {"email": f"matrix-{uuid.uuid4().hex[:8]}@new-creditor.example"}}),
    "get_user_status": Case("get_user_status", "ids", lambda t, own, w: {"user_id": t.user_id}),
    "quote_commission": Case("quote_commission", "scoped", lambda own, w: {"amount": "5000.00", "days_overdue": 90}),
    "submit_receivable": Case("submit_receivable", "ids", lambda t, own, w: {
        "receivable": _receivable(t, own, _number("SUBMIT"))}),
    "submit_receivable#extraction": Case("submit_receivable", "ids", lambda t, own, w: {
        "receivable": {**_receivable(own, own, _number("EXTRACTION")), "extraction_id": t.extraction_id}}),
    "get_receivable": Case("get_receivable", "ids", lambda t, own, w: {"receivable_id": t.receivable_id}),
    "list_receivables": Case("list_receivables", "scoped", lambda own, w: {}, shows_own=True),
    "list_receivables#user": Case("list_receivables", "ids", lambda t, own, w: {"user_id": t.user_id}),
    "list_receivables#cursor": Case("list_receivables", "ids", lambda t, own, w: {"cursor": t.receivable_id,
                                                                                  "limit": 1}),
    "add_contact": Case("add_contact", "ids", lambda t, own, w: {"receivable_id": t.receivable_id,
                                                                 "contact": CONTACT}),
    "update_receivable_metadata": Case("update_receivable_metadata", "ids", lambda t, own, w: {
        "receivable_id": t.receivable_id, "metadata": {"matrix": "yes"}}),
    "cancel_receivable": Case("cancel_receivable", "ids", lambda t, own, w: {
        "receivable_id": t.receivable_id, "reason": "business_decision"}),
    "submit_receivables_batch": Case("submit_receivables_batch", "ids", lambda t, own, w: {
        "receivables": [_receivable(t, own, _number("BATCH"))]}),
    "submit_receivables_batch#mixed": Case("submit_receivables_batch", "ids", lambda t, own, w: {
        "receivables": [_receivable(own, own, _number("MIXED-OWN")), _receivable(t, own, _number("MIXED"))]}),
    "submit_evidence": Case("submit_evidence", "ids", lambda t, own, w: {
        "receivable_id": t.disputed_id, "statement": "Delivered as agreed.",
        "documents": [{"type": "delivery_confirmation", **pdf_content(own.pdf)}]}),
    "handle_partial_payment": Case("handle_partial_payment", "ids", lambda t, own, w: {
        "receivable_id": t.partial_id, "action": "continue_recovery"}),
    "extract_pdf": Case("extract_pdf", "ids", lambda t, own, w: {"user_id": t.user_id,
                                                                 "file": pdf_content(own.pdf)}),
    "list_events": Case("list_events", "scoped", lambda own, w: {}, shows_own=True),
    "list_events#receivable": Case("list_events", "ids", lambda t, own, w: {"receivable_id": t.disputed_id}),
    "ack_event": Case("ack_event", "ids", lambda t, own, w: {"event_ids": [t.event_id]}),
    "ack_event#receivable": Case("ack_event", "ids", lambda t, own, w: {"receivable_id": t.disputed_id}),
    "show_portfolio": Case("show_portfolio", "scoped", lambda own, w: {}, shows_own=True),
    "show_portfolio#user": Case("show_portfolio", "ids", lambda t, own, w: {"user_id": t.user_id}),
    "receivable_timeline": Case("receivable_timeline", "ids", lambda t, own, w: {"receivable_id": t.receivable_id}),
    "list_overdue_invoices": Case("list_overdue_invoices", "scoped", lambda own, w: {}),
    "list_overdue_invoices#user": Case("list_overdue_invoices", "ids", lambda t, own, w: {"user_id": t.user_id}),
    "search_clients": Case("search_clients", "scoped", lambda own, w: {}),
    "get_invoice": Case("get_invoice", "scoped", lambda own, w: {"invoice_id": w.invoice_id}),
    "recover_invoice": Case("recover_invoice", "ids", lambda t, own, w: {"invoice_id": w.invoice_id,
                                                                         "user_id": t.user_id}),
    "recover_invoices": Case("recover_invoices", "ids", lambda t, own, w: {"user_id": t.user_id,
                                                                           "min_days_overdue": 0}),
}

REGISTRY = all_tools()
# Every registered tool, and every case: a tool without a case is a test that fails until it is classified.
MATRIX = sorted({*REGISTRY, *CASES})
CALLER_NAMES = ["A", "B", "R", "ADMIN"]


def canonical(result: Any, swap: dict[str, str] | None = None) -> bytes:
    """A tool result as bytes, with the foreign ids replaced by the missing ones (the only allowed difference)
    and the API's per-call request ids blanked (noise, not a fact about the receivable)."""
    text = json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=True)
    text = REQUEST_ID.sub("req_…", text)
    for old, new in (swap or {}).items():
        text = text.replace(old, new)
    return text.encode()


def code_of(result: Any) -> str | None:
    from cleavr_mcp.toolkit.errors import error_of

    return error_of(result).get("code") if result.is_error else None


def check_refusals_audited(world: World, caller: Caller, since: int) -> list[str]:
    """The audit gained refusals only, each naming the caller's principal."""
    problems = []
    for row in audit_since(world.settings, since):
        if row.get("outcome") != "refused":
            problems.append(f"audit row {row['seq']} is {row.get('outcome')!r}, not a refusal: {row}")
        if row.get("principal") != caller.name:
            problems.append(f"audit row {row['seq']} names principal {row.get('principal')!r}, not {caller.name!r}")
    return problems


@pytest.mark.parametrize("key", MATRIX)
@pytest.mark.parametrize("name", CALLER_NAMES)
@pytest.mark.parametrize("era", ERAS)
async def test_tool(world: World, era: str, name: str, key: str) -> None:
    assert key in CASES, (f"tool {key!r} is not classified for tenancy: add a Case to CASES naming how its "
                          "arguments name a creditor (ids) or that it names none (scoped)")
    case = CASES[key]
    spec = REGISTRY[case.tool]
    caller = CALLERS[name]
    own = world.own(caller)
    foreign = world.foreign(caller)
    visible = caller.sees_tool(spec)
    recorder = Recorder()
    human = Human(action="decline")  # own writes reach their question; declining keeps the seeded world
    problems: list[str] = []
    async with connect(world, caller, era, human=human, recorder=recorder) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        if (case.tool in listed) != visible:
            problems.append(f"tools/list {'lacks' if visible else 'shows'} {case.tool} for {name}")

        if case.kind == "ids" and foreign is not None:
            missing = Missing.like(foreign)
            before = take_snapshot(world)
            foreign_result = await client.call_tool(case.tool, case.args(foreign, own, world))
            middle = take_snapshot(world)
            problems += [f"the foreign call wrote {t}" for t in changed(before, middle)]
            missing_result = await client.call_tool(case.tool, case.args(missing, own, world))
            problems += [f"the missing-id call wrote {t}" for t in changed(middle, take_snapshot(world))]
            if human.asked:
                problems.append(f"a foreign or missing id was taken to the approval question: {human.asked[0]}")
            if canonical(foreign_result, missing.swap(foreign)) != canonical(missing_result):
                problems.append("another creditor's ids are answered differently from ids that do not exist:\n"
                                f"  foreign: {canonical(foreign_result, missing.swap(foreign))[:600]!r}\n"
                                f"  missing: {canonical(missing_result)[:600]!r}")
            if not visible and code_of(foreign_result) != "TOOL_NOT_ALLOWED":
                problems.append(f"hidden tool {case.tool} answered {code_of(foreign_result)} for {name}")
            problems += check_refusals_audited(world, caller, before.audit_seq)

        targets = [own] if not caller.every_creditor else list(world.creditors.values())
        for target in targets:
            asked = len(human.asked)
            args = case.args(target, own if not caller.every_creditor else target, world) if case.kind == "ids" \
                else case.args(own, world)
            result = await client.call_tool(case.tool, args)
            code = code_of(result)
            if not visible:
                if code != "TOOL_NOT_ALLOWED":
                    problems.append(f"hidden tool {case.tool} called by name answered {code} for {name}")
                continue
            if code in REFUSED:
                problems.append(f"own ids refused ({code}) for {name} on creditor {target.key}: "
                                f"{result.content[0].text[:300] if result.content else ''}")
            elif not spec.read_only and result.is_error and len(human.asked) == asked:
                problems.append(f"own write failed before its question ({code}): {result.content[0].text[:300]}")
            if case.kind == "scoped" and case.shows_own:
                got = canonical(result)
                if not any(m.encode() in got or json.dumps(m)[1:-1].encode() in got for m in target.markers):
                    problems.append(f"{case.tool} shows none of creditor {target.key}'s own data to {name}")
            if caller.every_creditor and case.kind == "scoped":
                break  # a list without a creditor: once is enough for ADMIN (both creditors are checked below)

    problems += leaks(recorder, world.forbidden_markers(caller), world.forbidden_ids(caller))
    assert not problems, f"{name} ({era}) on {key}:\n- " + "\n- ".join(problems)


def test_every_tool_has_a_case():
    unclassified = sorted(set(REGISTRY) - {c.tool for c in CASES.values()})
    stale = sorted({c.tool for c in CASES.values()} - set(REGISTRY))
    assert not unclassified and not stale, {"unclassified": unclassified, "no longer a tool": stale}


# --- tools/list and the server instructions ------------------------------------------------------------------
@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("name", CALLER_NAMES)
async def test_tools_list_is_the_principals_ceiling(world: World, era: str, name: str) -> None:
    caller = CALLERS[name]
    recorder = Recorder()
    async with connect(world, caller, era, recorder=recorder) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        instructions = client.instructions or ""
    expected = {n for n, spec in REGISTRY.items() if caller.sees_tool(spec)}
    assert listed == expected, {"missing": sorted(expected - listed), "extra": sorted(listed - expected)}
    if caller.read_only:
        assert all(REGISTRY[n].read_only for n in listed)
    demo = world.creditors["a"].user_id  # the sandbox's demo creditor is creditor a
    assert (demo in instructions) == caller.may_see("a"), instructions[-300:]
    assert not leaks(recorder, world.forbidden_markers(caller), world.forbidden_ids(caller))


# --- resources and resource templates ------------------------------------------------------------------------
RECEIVABLE_TEMPLATE = "cleavr://receivables/{receivable_id}"
STATIC_RESOURCES = {  # uri -> the caller's own data must show (True) / names no creditor (False)
    "cleavr://events/unhandled": True,
    "cleavr://commission/rates": False,
    "cleavr://guide/lifecycle": False,
}


def _is_view(uri: str) -> bool:
    return uri.startswith("ui://")  # MCP Apps views: static HTML, data arrives through the tools


async def _answer(request: Awaitable[Any]) -> bytes:
    """A request's whole answer, result or protocol error, as comparable bytes."""
    try:
        result = await request
        return json.dumps(result.model_dump(mode="json", exclude_none=True), sort_keys=True).encode()
    except MCPError as exc:
        return json.dumps({"error": exc.error.code, "message": exc.error.message}, sort_keys=True).encode()


async def _read(client: Any, uri: str) -> bytes:
    return await _answer(client.read_resource(uri))


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("name", CALLER_NAMES)
async def test_resources(world: World, era: str, name: str) -> None:
    caller = CALLERS[name]
    own, foreign = world.own(caller), world.foreign(caller)
    recorder = Recorder()
    problems = []
    async with connect(world, caller, era, recorder=recorder) as client:
        uris = [str(r.uri) for r in (await client.list_resources()).resources]
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        for uri in uris:
            if _is_view(uri):
                continue
            if uri not in STATIC_RESOURCES:
                problems.append(f"resource {uri} is not classified for tenancy (STATIC_RESOURCES)")
                continue
            got = await _read(client, uri)
            if STATIC_RESOURCES[uri] and not any(e.encode() in got for e in own.event_ids):
                problems.append(f"{uri} shows none of {name}'s own events")
        for template in templates:
            if template != RECEIVABLE_TEMPLATE:
                problems.append(f"resource template {template} is not classified for tenancy")
                continue
            for target in ([own] if not caller.every_creditor else world.creditors.values()):
                got = await _read(client, f"cleavr://receivables/{target.receivable_id}")
                if b'"error"' in got[:20] or target.receivable_id.encode() not in got:
                    problems.append(f"{name} cannot read its own receivable {target.receivable_id}: {got[:300]!r}")
            if foreign is not None:
                missing = Missing.like(foreign)
                before = take_snapshot(world)
                theirs = await _read(client, f"cleavr://receivables/{foreign.receivable_id}")
                nobody = await _read(client, f"cleavr://receivables/{missing.receivable_id}")
                problems += [f"reading a foreign receivable wrote {t}" for t in changed(before, take_snapshot(world))]
                if theirs.replace(foreign.receivable_id.encode(), missing.receivable_id.encode()) != nobody:
                    problems.append(f"a foreign receivable reads differently from a missing one:\n  {theirs[:400]!r}"
                                    f"\n  {nobody[:400]!r}")
    problems += leaks(recorder, world.forbidden_markers(caller), world.forbidden_ids(caller))
    assert not problems, f"{name} ({era}):\n- " + "\n- ".join(problems)


# --- prompts and completions ---------------------------------------------------------------------------------
PROMPTS: dict[str, Callable[[Target, Creditor], dict[str, str]]] = {
    "handle_dispute": lambda t, own: {"receivable_id": t.disputed_id},
    "review_portfolio": lambda t, own: {"user_id": t.user_id},
    "submit_invoice_pdf": lambda t, own: {"path": str(own.pdf), "user_id": t.user_id},
    "recover_overdue_invoices": lambda t, own: {"user_id": t.user_id},
    "onboard_creditor": None,  # names no creditor: an email to onboard
}


async def _prompt(client: Any, name: str, args: dict[str, str]) -> bytes:
    return await _answer(client.get_prompt(name, args))


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("name", CALLER_NAMES)
async def test_prompts(world: World, era: str, name: str) -> None:
    caller = CALLERS[name]
    own, foreign = world.own(caller), world.foreign(caller)
    recorder = Recorder()
    problems = []
    async with connect(world, caller, era, recorder=recorder) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        for prompt in prompts:
            if prompt not in PROMPTS:
                problems.append(f"prompt {prompt} is not classified for tenancy (PROMPTS)")
                continue
            build = PROMPTS[prompt]
            if build is None:
                await _prompt(client, prompt, {"email": "new@creditor.example"})
                continue
            for target in ([own] if not caller.every_creditor else world.creditors.values()):
                got = await _prompt(client, prompt, build(target, own))
                if got.startswith(b'{"error"'):
                    problems.append(f"{prompt} refused {name}'s own ids: {got[:300]!r}")
            if foreign is not None:
                missing = Missing.like(foreign)
                theirs = await _prompt(client, prompt, build(foreign, own))
                nobody = await _prompt(client, prompt, build(missing, own))
                for old, new in missing.swap(foreign).items():
                    theirs = theirs.replace(old.encode(), new.encode())
                if theirs != nobody:
                    problems.append(f"{prompt}: a foreign id answers differently from a missing one:\n"
                                    f"  {theirs[:400]!r}\n  {nobody[:400]!r}")
        # Completions: every argument of every prompt and of the receivable template, from an empty prefix.
        from mcp.types import PromptReference, ResourceTemplateReference

        refs = [(PromptReference(type="ref/prompt", name=p.name), a.name)
                for p in prompts.values() for a in (p.arguments or [])]
        refs.append((ResourceTemplateReference(type="ref/resource", uri=RECEIVABLE_TEMPLATE), "receivable_id"))
        offered: set[str] = set()
        for ref, argument in refs:
            for prefix in ("", "rec_", "usr_clv_"):
                done = await client.complete(ref, {"name": argument, "value": prefix})
                offered |= set(done.completion.values)
        if not caller.every_creditor:
            if not ({own.disputed_id, own.receivable_id} & offered):
                problems.append(f"completions offer none of {name}'s own receivables")
            wrong = offered & world.forbidden_ids(caller)
            if wrong:
                problems.append(f"completions offer another creditor's ids to {name}: {sorted(wrong)}")
    problems += leaks(recorder, world.forbidden_markers(caller), world.forbidden_ids(caller))
    assert not problems, f"{name} ({era}):\n- " + "\n- ".join(problems)


# --- create_users: a creditor created by a principal is granted to it, and to nobody else ------------------------
@pytest.mark.parametrize("era", ERAS)
async def test_a_created_creditor_joins_its_creators_creditors_only(world: World, era: str) -> None:
    creator, other = CALLERS["C"], CALLERS["B"]
    async with connect(world, creator, era) as client:
        assert "create_user" in {t.name for t in (await client.list_tools()).tools}
        created = await client.call_tool("create_user", {"user": {
            "email": f"new-{era}-{uuid.uuid4().hex[:6]}@created-creditor.example",
            "company": {"name": f"Created Creditor {era.title()} SAS"}}})
        assert not created.is_error, created.content
        user_id = created.structured_content["user_id"]
        status = await client.call_tool("get_user_status", {"user_id": user_id})
        assert not status.is_error, status.content  # granted at once (the server's store, every replica)
    missing = _absent(user_id)
    recorder = Recorder()
    async with connect(world, other, era, recorder=recorder) as client:
        theirs = await client.call_tool("get_user_status", {"user_id": user_id})
        nobody = await client.call_tool("get_user_status", {"user_id": missing})
    assert code_of(theirs) == "NOT_FOUND"
    assert canonical(theirs, {user_id: missing}) == canonical(nobody)
    assert not leaks(recorder, [f"Created Creditor {era.title()} SAS"], [user_id])
