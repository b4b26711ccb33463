"""Opening the approval page in the person's own browser (stdio on their machine): Python's `webbrowser`, so
`$BROWSER` is honoured. Terminal browsers are never used: on stdio they would read the protocol's stdin.

Tests replace `open_url` (or set $BROWSER to a script that records the URL).
"""

from __future__ import annotations

import logging
import webbrowser

logger = logging.getLogger("cleavr_mcp.server.approvals")

_TERMINAL_BROWSERS = {"www-browser", "links", "elinks", "lynx", "w3m"}


def open_url(url: str) -> bool:
    try:
        controller = webbrowser.get()
    except webbrowser.Error:
        logger.warning("No web browser found to show the approval page; set BROWSER or CLEAVR_MCP_CONFIRM_CHANNEL.")
        return False
    if getattr(controller, "name", "") in _TERMINAL_BROWSERS:
        logger.warning("Only a terminal browser was found; set BROWSER to open the approval page.")
        return False
    try:
        return bool(controller.open(url, new=2))
    except Exception:  # noqa: BLE001 - a broken opener means nobody can be asked: the caller fails closed
        logger.warning("The web browser could not be started to show the approval page.")
        return False
