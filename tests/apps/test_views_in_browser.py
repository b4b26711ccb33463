"""The Portfolio and Receivable views rendered by a host built on ext-apps' AppBridge, against the real server.

Each test asserts what a person sees against the tool's own structuredContent: figures, chart bars, lists,
theme, locale, phone width; that a debtor's hostile text stays inert; and that the view's buttons lead to the
expected tools/call, whose write meets the server's approval (nothing changes without it).
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from .conftest import HOSTILE_MESSAGE, SIGNED_IN

DOCS = Path(__file__).resolve().parents[2] / "docs" / "apps"
PHONE = {"width": 390, "height": 844}


def open_view(page, base_url: str, tool: str, args: dict | None = None, **context):
    """Load the host page, let it call `tool` and render its view; returns (view frame, the tool's result)."""
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto(f"{base_url}/host/index.html")
    page.evaluate("opts => startHost(opts)", {"tool": tool, "args": args or {}, **context})
    page.wait_for_function("window.hostLog.ready === true", timeout=20_000)
    frame = page.frame_locator("#view")
    frame.locator("body[data-rendered='true']").wait_for(timeout=20_000)
    result = page.evaluate("window.hostLog.toolResult")
    page.requests = requests  # type: ignore[attr-defined]
    return frame, result


def money_text(value: str, locale: str) -> str:
    """How Intl.NumberFormat writes EUR in the two locales the views are checked in."""
    amount = Decimal(value)
    grouped = f"{abs(amount):,.2f}"
    sign = "-" if amount < 0 else ""
    if locale == "fr-FR":
        return sign + grouped.replace(",", "\u202f").replace(".", ",") + "\u00a0€"
    return f"{sign}€{grouped}"


def shot(page, name: str) -> None:
    """Screenshots for docs/apps, written when CLEAVR_MCP_UPDATE_SCREENSHOTS=1 (committed, shown in the README)."""
    if os.environ.get("CLEAVR_MCP_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        # The whole view in one picture: grow the window to the view's height, let the iframe follow, then shoot.
        height = page.frame_locator("#view").locator("html").evaluate("h => h.scrollHeight")
        page.set_viewport_size({"width": page.viewport_size["width"], "height": height})
        page.wait_for_timeout(500)
        page.locator("#view").screenshot(path=str(DOCS / f"{name}.png"))


def test_resources_are_served_as_mcp_apps_html(apps_server, browser_page):
    open_view(browser_page, apps_server.base_url, "show_portfolio")
    resource = browser_page.evaluate("window.hostLog.resource")
    assert resource["uri"] == "ui://cleavr/portfolio.html"
    assert resource["mimeType"] == "text/html;profile=mcp-app"


def test_portfolio_figures_equal_the_structured_content(apps_server, browser_page):
    frame, result = open_view(browser_page, apps_server.base_url, "show_portfolio", locale="en-GB")
    data = result["structuredContent"]
    for key in ("outstanding", "recovered", "fees_paid", "fees_expected"):
        box = frame.locator(f"[data-figure='{key}']")
        assert box.get_attribute("data-value") == data[key]
        assert box.locator(".value").inner_text() == money_text(data[key], "en-GB")
    rows = frame.locator("table.statuses tbody tr")
    assert rows.count() == len(data["by_status"])
    for i, total in enumerate(data["by_status"]):
        row = rows.nth(i)
        assert row.get_attribute("data-status") == total["status"]
        assert row.locator("td").nth(0).inner_text() == str(total["count"])
        assert row.locator("td").nth(1).inner_text() == money_text(total["amount"], "en-GB")
    # Needs you: every dispute, undecided partial payment, creditor to onboard and unhandled event is listed.
    needs = frame.locator(".needs li[data-need]")
    expected = ([("dispute", d["receivable_id"]) for d in data["disputes_awaiting_evidence"]]
                + [("partial", p["receivable_id"]) for p in data["partial_payments_awaiting_decision"]]
                + [("onboarding", c["user_id"]) for c in data["creditors_not_onboarded"]]
                + [("event", e["id"]) for e in data["unhandled_events"]])
    shown = [(needs.nth(i).get_attribute("data-need"),
              needs.nth(i).get_attribute("data-receivable") or needs.nth(i).get_attribute("data-user")
              or needs.nth(i).get_attribute("data-event")) for i in range(needs.count())]
    assert shown == expected
    assert {k for k, _ in expected} == {"dispute", "partial", "onboarding", "event"}  # the seed has each kind
    assert apps_server.ids["disputed"] in {rid for k, rid in shown if k == "dispute"}
    # Only the host page, its script and /mcp were fetched: the view itself reaches nothing.
    assert {u.split("?")[0] for u in browser_page.requests} <= {
        f"{apps_server.base_url}/host/index.html", f"{apps_server.base_url}/host/host.bundle.js",
        f"{apps_server.base_url}/mcp", "about:srcdoc"}
    shot(browser_page, "portfolio-light")


def test_ageing_chart_has_one_bar_per_commission_tier_with_heights_in_proportion(apps_server, browser_page):
    frame, result = open_view(browser_page, apps_server.base_url, "show_portfolio")
    ageing = result["structuredContent"]["ageing"]
    buckets = frame.locator(".bucket")
    assert buckets.count() == len(ageing) == 6
    tallest = max(Decimal(b["amount"]) for b in ageing)
    for i, bucket in enumerate(ageing):
        node = buckets.nth(i)
        assert node.get_attribute("data-bucket") == bucket["label"]
        assert node.locator(".bucket-amount").inner_text() == money_text(bucket["amount"], "en-GB")
        bar = node.locator(".bar").bounding_box()
        area = node.locator(".bar-area").bounding_box()
        assert abs(bar["height"] / area["height"] - float(Decimal(bucket["amount"]) / tallest)) < 0.01
    assert any(Decimal(b["amount"]) == 0 for b in ageing)  # an empty tier still has its (zero-height) bar


def test_french_locale_formats_money_the_french_way(apps_server, browser_page):
    frame, result = open_view(browser_page, apps_server.base_url, "show_portfolio", locale="fr-FR")
    value = result["structuredContent"]["outstanding"]
    text = frame.locator("[data-figure='outstanding'] .value").inner_text()
    assert text == money_text(value, "fr-FR")
    assert "," in text and text.endswith("€")


def test_dark_theme_and_phone_width(apps_server, chromium_browser):
    context = chromium_browser.new_context(viewport=PHONE, locale="en-GB", device_scale_factor=2)
    page = context.new_page()
    try:
        frame, _ = open_view(page, apps_server.base_url, "show_portfolio", theme="dark",
                             safeAreaInsets={"top": 24, "right": 0, "bottom": 34, "left": 0}, platform="mobile")
        assert frame.locator("html").get_attribute("data-theme") == "dark"
        background = frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
        assert background == "rgb(21, 24, 29)"
        padding = frame.locator("main").evaluate("m => [getComputedStyle(m).paddingTop, getComputedStyle(m).paddingBottom]")
        assert padding == ["40px", "50px"]  # 16 px + the host's safe-area insets
        overflow = frame.locator("html").evaluate("h => h.scrollWidth - h.clientWidth")
        assert overflow <= 0, "the view scrolls sideways at phone width"
        shot(page, "portfolio-dark-phone")
    finally:
        context.close()


def test_theme_follows_the_host_when_it_changes(apps_server, browser_page):
    frame, _ = open_view(browser_page, apps_server.base_url, "show_portfolio", theme="light")
    assert frame.locator("html").get_attribute("data-theme") == "light"
    light = frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
    browser_page.evaluate("setHostTheme('dark')")
    frame.locator("html[data-theme='dark']").wait_for(timeout=5000)
    assert frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor") != light


def test_receivable_view_shows_the_debtor_text_inert(apps_server, browser_page):
    rid = apps_server.ids["disputed"]
    frame, result = open_view(browser_page, apps_server.base_url, "get_receivable", {"receivable_id": rid})
    data = result["structuredContent"]
    assert data["dispute"]["debtor_message"]["text"] == HOSTILE_MESSAGE
    quoted = frame.locator(".untrusted .untrusted-text")
    assert quoted.inner_text() == HOSTILE_MESSAGE  # shown literally, markup and all
    assert frame.locator(".untrusted img, .untrusted script, .untrusted b").count() == 0
    assert frame.locator("img").count() == 0
    browser_page.wait_for_timeout(300)  # give an injected onerror every chance to fire
    assert frame.locator("body").get_attribute("data-pwned") is None
    assert "shown as data" in frame.locator(".untrusted-label").inner_text()
    # The debtor's name arrives as an untrusted envelope: the title shows its text, never "[object Object]".
    assert frame.locator("header h1").inner_text() == data["debtor_name"]["text"]
    # The figures equal the structured content; the timeline came from the app-only tool, through the host.
    assert frame.locator("[data-figure='amount']").get_attribute("data-value") == data["amount"]
    assert frame.locator("[data-figure='commission']").get_attribute("data-value") == data["commission"]["amount"]
    assert frame.locator("[data-figure='commission']").get_attribute("data-rate") == data["commission"]["rate_percentage"]
    contacts = frame.locator("[data-figure='contacts']")
    assert contacts.get_attribute("data-emails") == str(data["recovery_progress"]["emails_sent"])
    assert contacts.get_attribute("data-calls") == str(data["recovery_progress"]["calls_made"])
    frame.locator(".timeline-box[data-loaded='true']").wait_for(timeout=10_000)
    calls = browser_page.evaluate("window.hostLog.calls")
    assert {"name": "receivable_timeline", "arguments": {"receivable_id": rid}} in calls
    timeline = browser_page.evaluate("window.hostLog.results")[calls.index(
        {"name": "receivable_timeline", "arguments": {"receivable_id": rid}})]["structuredContent"]["entries"]
    shown = frame.locator(".timeline li span")
    assert [shown.nth(i).inner_text() for i in range(shown.count())] == [e["label"] for e in timeline]
    assert any(e["kind"] == "submitted" for e in timeline) and any(e["kind"] == "status" for e in timeline)
    shot(browser_page, "receivable-light")


def test_answer_the_dispute_sends_a_message_to_the_conversation(apps_server, browser_page):
    rid = apps_server.ids["disputed"]
    frame, _ = open_view(browser_page, apps_server.base_url, "get_receivable", {"receivable_id": rid})
    frame.locator("[data-action='answer-dispute']").click()
    browser_page.wait_for_function("window.hostLog.messages.length > 0", timeout=5000)
    message = browser_page.evaluate("window.hostLog.messages[0]")
    assert message["role"] == "user" and rid in message["content"][0]["text"]
    assert "submit_evidence" in message["content"][0]["text"]


def _receivable(apps_server, rid: str) -> dict:
    result = apps_server.call("get_receivable", {"receivable_id": rid})
    return result.structured_content


def test_partial_payment_button_calls_the_tool_and_meets_the_approval(apps_server, browser_page):
    rid = apps_server.ids["partial"]
    frame, _ = open_view(browser_page, apps_server.base_url, "get_receivable", {"receivable_id": rid})
    frame.locator("[data-action='mark-complete']").click()
    frame.locator(".actions .notice").wait_for(timeout=10_000)
    calls = browser_page.evaluate("window.hostLog.calls")
    assert {"name": "handle_partial_payment", "arguments": {"receivable_id": rid, "action": "mark_complete"}} in calls
    answer = browser_page.evaluate("window.hostLog.results")[-1]["structuredContent"]
    # This host cannot ask the person (no elicitation): the server did not write, it asked for approval.
    assert answer["status"] != "done"
    assert frame.locator(".actions .notice").get_attribute("data-status") == answer["status"]
    assert "approval" in frame.locator(".actions .notice").inner_text()
    after = _receivable(apps_server, rid)
    assert after["status"] == "in_process" and after["partial_payment"]["remaining_amount"] == "2000.00"


def test_cancel_button_calls_cancel_receivable_and_meets_the_approval(apps_server, chromium_browser):
    context = chromium_browser.new_context(viewport=PHONE, locale="en-GB", device_scale_factor=2)
    page = context.new_page()
    try:
        rid = apps_server.ids["fresh"]
        frame, _ = open_view(page, apps_server.base_url, "get_receivable", {"receivable_id": rid}, theme="dark")
        frame.locator("select[data-field='reason']").select_option("paid_directly")
        frame.locator("[data-action='cancel']").click()
        frame.locator(".actions .notice").wait_for(timeout=10_000)
        calls = page.evaluate("window.hostLog.calls")
        assert {"name": "cancel_receivable", "arguments": {"receivable_id": rid, "reason": "paid_directly"}} in calls
        assert page.evaluate("window.hostLog.results")[-1]["structuredContent"]["status"] != "done"
        assert _receivable(apps_server, rid)["status"] == "in_process"
        overflow = frame.locator("html").evaluate("h => h.scrollWidth - h.clientWidth")
        assert overflow <= 0
        shot(page, "receivable-dark-phone")
    finally:
        context.close()


def test_approval_pending_with_a_link_offers_to_open_the_approval_page(signed_in_server, browser_page):
    """Over HTTP with sign-in the server answers a write with approval_pending and the page's address: the view
    offers a button that asks the host to open it (ui/open-link). The link opens the page of exactly this write,
    which still needs the person's own sign-in; nothing was written."""
    rid = signed_in_server.ids["partial"]
    frame, _ = open_view(browser_page, signed_in_server.base_url, "get_receivable", {"receivable_id": rid},
                         token=SIGNED_IN)
    assert frame.locator("[data-action='open-approval']").count() == 0  # no pending approval yet
    frame.locator("[data-action='mark-complete']").click()
    frame.locator(".actions .notice").wait_for(timeout=10_000)
    answer = browser_page.evaluate("window.hostLog.results")[-1]["structuredContent"]
    assert answer["status"] == "approval_pending"
    url = answer["approval_url"]
    assert url.startswith(f"{signed_in_server.base_url}/approvals/")
    assert browser_page.evaluate("window.hostLog.links") == []
    frame.locator("[data-action='open-approval']").click()
    frame.locator("[data-opened='true']").wait_for(timeout=10_000)
    assert browser_page.evaluate("window.hostLog.links") == [url]  # the host was asked to open exactly that page
    assert "sign in" in frame.locator(".actions .notice").inner_text()
    approval = browser_page.context.new_page()  # the person's browser opens it: this write, sign-in required
    approval.goto(url)
    facts = {dt.inner_text(): dd.inner_text() for dt, dd in zip(approval.locator("dl.facts dt").all(),
                                                               approval.locator("dl.facts dd").all())}
    assert facts["Receivable"] == rid and facts["Remaining"] == "€2,000.00"
    assert approval.locator("fieldset.sign-in input[name='code']").count() == 1  # the person signs in there
    approval.close()
    after = signed_in_server.raw(rid)
    assert after["status"] == "in_process" and after["partial_payment"].get("status") == "awaiting_decision"


def test_approval_pending_without_a_link_has_no_button(apps_server, browser_page):
    """Without sign-in the server opens the page in the person's browser itself: no address reaches the view."""
    rid = apps_server.ids["partial"]
    frame, _ = open_view(browser_page, apps_server.base_url, "get_receivable", {"receivable_id": rid})
    frame.locator("[data-action='continue-recovery']").click()
    frame.locator(".actions .notice").wait_for(timeout=10_000)
    answer = browser_page.evaluate("window.hostLog.results")[-1]["structuredContent"]
    assert answer["status"] == "approval_pending" and answer["approval_url"] is None
    assert frame.locator("[data-action='open-approval']").count() == 0


@pytest.mark.parametrize("tool", ["show_portfolio", "get_receivable"])
def test_a_failed_tool_shows_its_error_text(apps_server, browser_page, tool):
    args = {"receivable_id": "rec_doesnotexist0000"} if tool == "get_receivable" else {"user_id": "usr_clv_unknown00"}
    frame, result = open_view(browser_page, apps_server.base_url, tool, args)
    assert result["isError"]
    assert frame.locator("p.error").inner_text() == result["content"][0]["text"]




@pytest.mark.parametrize("action", ["decline", "accept"])
def test_a_host_that_can_ask_its_user_gets_the_servers_question_and_writes_only_on_yes(apps_server, browser_page,
                                                                                      action):
    rid = apps_server.ids["partial2"]
    human = {"action": action, "content": {"confirm": True}}
    frame, _ = open_view(browser_page, apps_server.base_url, "get_receivable", {"receivable_id": rid}, human=human)
    frame.locator("[data-action='continue-recovery']").click()
    frame.locator(".actions .notice").wait_for(timeout=15_000)
    assert {"name": "handle_partial_payment",
            "arguments": {"receivable_id": rid, "action": "continue_recovery"}} in browser_page.evaluate(
        "window.hostLog.calls")
    asked = browser_page.evaluate("window.hostLog.asked")
    assert len(asked) == 1 and "continue_recovery" in asked[0] and "€300.00" in asked[0]  # the server's own question
    answer = browser_page.evaluate("window.hostLog.results")[-1]["structuredContent"]
    decision = apps_server.raw(rid)["partial_payment"].get("status")
    if action == "accept":
        assert answer["status"] == "done" and decision == "continue_recovery"
    else:
        assert answer["status"] == "declined" and decision == "awaiting_decision"


def test_portfolio_open_asks_the_conversation_for_the_receivable(apps_server, browser_page):
    frame, result = open_view(browser_page, apps_server.base_url, "show_portfolio")
    first = result["structuredContent"]["disputes_awaiting_evidence"][0]["receivable_id"]
    frame.locator(f".needs li[data-receivable='{first}'] button").click()
    browser_page.wait_for_function("window.hostLog.messages.length > 0", timeout=5000)
    message = browser_page.evaluate("window.hostLog.messages[0]")
    assert message["role"] == "user" and first in message["content"][0]["text"]
    # Reading needs no tool call from the view: the only tools/call it made is none at all.
    assert browser_page.evaluate("window.hostLog.calls") == []
