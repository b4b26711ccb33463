"""MCP Apps views: self-contained HTML pages (built from views/src by `make views`, committed) that hosts with the
Apps extension render for a tool's result. Hosts without Apps never see them and get text + structuredContent."""

from __future__ import annotations

from importlib import resources

PORTFOLIO_URI = "ui://cleavr/portfolio.html"
RECEIVABLE_URI = "ui://cleavr/receivable.html"

# uri -> (file in this package, title, description)
VIEWS: dict[str, tuple[str, str, str]] = {
    PORTFOLIO_URI: ("portfolio.html", "Recovery portfolio",
                    "Totals by status, money outstanding and recovered, fees, ageing by commission tier, what needs you"),
    RECEIVABLE_URI: ("receivable.html", "Receivable",
                     "One receivable: lifecycle timeline, commission, dispute (the debtor's text shown as untrusted)"),
}


def view_html(uri: str) -> str:
    filename = VIEWS[uri][0]
    return resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")
