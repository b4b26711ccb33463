"""The CleverInvo sandbox: an ASGI sub-app the Cleavr sandbox mounts under `/cleverinvo/api/v1`.

    from cleavr_mcp.sandbox.cleverinvo import MOUNT_PATH, create_cleverinvo_app
    app.mount(MOUNT_PATH, create_cleverinvo_app(config.db_path, seed=config.seed))

The CleverInvo base URL of a sandbox at `http://127.0.0.1:8080` is then `http://127.0.0.1:8080/cleverinvo/api/v1`,
and its API key is `sandbox_api_key(db_path)`.
"""

from .app import DEFAULT_PLAN, create_cleverinvo_app
from .pdf import render_invoice_pdf
from .seed import ISSUER, RECOVERABLE_SEED_INVOICES
from .store import sandbox_api_key

MOUNT_PATH = "/cleverinvo/api/v1"

__all__ = [
    "DEFAULT_PLAN",
    "ISSUER",
    "MOUNT_PATH",
    "RECOVERABLE_SEED_INVOICES",
    "create_cleverinvo_app",
    "render_invoice_pdf",
    "sandbox_api_key",
]
