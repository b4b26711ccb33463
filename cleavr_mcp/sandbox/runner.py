"""`cleavr-mcp sandbox`: serve the sandbox standalone with uvicorn (blocking)."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from ..config import Settings
from .config import SandboxConfig
from .server import uvicorn_config


def serve_sandbox(settings: Settings, host: str = "127.0.0.1", port: int = 8080, db_path: Path | None = None) -> None:
    from .app import create_app

    settings.ensure_data_dir()
    base_url = f"http://{host}:{port}"
    config = SandboxConfig.from_settings(
        settings, db_path=db_path, public_base_url=base_url, webhook_delivery=True
    )
    app = create_app(config)
    state = app.state.sandbox
    client_id, client_secret = state.store.credentials()
    lines = [
        "Cleavr Connect sandbox",
        f"  base URL        {base_url}   (OpenAPI: {base_url}/openapi.json, docs: {base_url}/docs)",
        f"  database        {config.db_path}",
        f"  client id       {client_id}",
        f"  client secret   {client_secret}",
    ]
    demo = state.store.meta("demo_user_id")
    if demo:
        lines.append(f"  demo creditor   {demo} (active)")
    cleverinvo = getattr(app.state, "cleverinvo", None)
    if cleverinvo:
        from .cleverinvo import sandbox_api_key

        lines.append(
            f"  CleverInvo      {base_url}{cleverinvo['mount_path']}  (API key {sandbox_api_key(config.db_path)})"
        )
    lines.append(f"  use it with     CLEAVR_MCP_BASE_URL={base_url} CLEAVR_MCP_CLIENT_ID={client_id} ...")
    print("\n".join(lines), file=sys.stderr, flush=True)
    try:
        uvicorn.Server(uvicorn_config(app, host=host, port=port, log_level="info")).run()
    finally:
        state.close()
