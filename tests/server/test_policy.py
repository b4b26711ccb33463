"""Tool policy: the settings are a ceiling; request headers may only tighten it."""

import pytest

from cleavr_mcp.server.policy import ToolPolicy
from cleavr_mcp.tools import all_tools

SPECS = all_tools()
ALL = set(SPECS)
READS = {n for n, s in SPECS.items() if s.read_only}
MONEY = {n for n, s in SPECS.items() if s.money}


def allowed(policy: ToolPolicy) -> set[str]:
    return {n for n, s in SPECS.items() if policy.allows(s)}


def test_money_class_is_what_the_issue_lists():
    assert MONEY >= {"submit_receivable", "submit_receivables_batch", "cancel_receivable", "submit_evidence",
                     "handle_partial_payment"}
    assert not MONEY & READS


@pytest.mark.parametrize(("policy", "expected"), [
    (ToolPolicy(), ALL),
    (ToolPolicy(read_only=True), READS),
    (ToolPolicy(no_money=True), ALL - MONEY),
    (ToolPolicy(toolsets=frozenset({"commission"})), {"quote_commission"}),
    (ToolPolicy(tools=frozenset({"get_receivable", "cancel_receivable"})), {"get_receivable", "cancel_receivable"}),
    (ToolPolicy(tools=frozenset({"get_receivable", "cancel_receivable"}), read_only=True), {"get_receivable"}),
    (ToolPolicy(exclude=frozenset({"quote_commission"})), ALL - {"quote_commission"}),
    (ToolPolicy(toolsets=frozenset({"receivables"}), no_money=True),
     {n for n, s in SPECS.items() if s.toolset.value == "receivables" and not s.money}),
])
def test_policy_combinations(policy, expected):
    assert allowed(policy) == expected


def test_headers_can_tighten():
    base = ToolPolicy()
    assert allowed(base.tightened({"X-Cleavr-Read-Only": "true"})) == READS
    assert allowed(base.tightened({"x-cleavr-no-money": "1"})) == ALL - MONEY
    assert allowed(base.tightened({"x-cleavr-tools": "get_receivable, list_receivables"})) == {
        "get_receivable", "list_receivables"}
    assert "quote_commission" not in allowed(base.tightened({"x-cleavr-exclude-tools": "quote_commission"}))


@pytest.mark.parametrize("headers", [
    {"x-cleavr-read-only": "false"},
    {"x-cleavr-no-money": "0"},
    {"x-cleavr-toolsets": "commission,receivables,users,disputes"},
    {"x-cleavr-tools": "submit_receivable,cancel_receivable"},
    {"x-cleavr-exclude-tools": ""},
])
def test_headers_never_widen(headers):
    ceiling = ToolPolicy(read_only=True, toolsets=frozenset({"commission", "receivables"}))
    assert allowed(ceiling.tightened(headers)) <= allowed(ceiling)
    money_off = ToolPolicy(no_money=True, exclude=frozenset({"create_user"}))
    assert allowed(money_off.tightened(headers)) <= allowed(money_off)


def test_refusal_reason_names_the_rule():
    spec = SPECS["cancel_receivable"]
    assert "read-only" in ToolPolicy(read_only=True).why_not(spec)
    assert "money" in ToolPolicy(no_money=True).why_not(spec)
    assert "excluded" in ToolPolicy(exclude=frozenset({"cancel_receivable"})).why_not(spec)
