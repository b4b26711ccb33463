"""The MCP Apps extension (io.modelcontextprotocol/ui): serves the ui:// views as text/html;profile=mcp-app.

Tools name their view in the registry (`view=`); build_server stamps `_meta.ui` on them. The views keep the
host's default CSP (no csp domains declared: no network at all) and call tools only through the host, so every
write meets the same approval as from the model.
"""

from __future__ import annotations

from mcp.server.apps import Apps

from ..views import VIEWS, view_html


def apps_extension() -> Apps:
    apps = Apps()
    for uri, (_, title, description) in VIEWS.items():
        apps.add_html_resource(uri, view_html(uri), name=uri.rsplit("/", 1)[-1].removesuffix(".html"), title=title,
                               description=description)
    return apps
