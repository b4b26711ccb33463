"""`POST /webhooks/cleavr`: signed Cleavr events in (contract §6).

Order matters and is the contract: cap the size → verify the HMAC-SHA256 of the raw bytes (hex, constant time,
with every known secret) → only then parse → persist → answer 2xx. So a bad or missing signature is a 401 with
nothing stored and nothing parsed; > 1 MiB is a 413; a signed body that is not an event is a 400; an event id
seen before is a 2xx stored once (no timestamp is signed: de-duplication by id is the replay defence).
Subscribers are told after the answer is sent, so Cleavr's delivery never waits for them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from ..cleavr.contract import SIGNATURE_HEADER
from ..cleavr.errors import CleavrValidationError
from ..cleavr.webhooks import parse_event, verify_signature
from .store import StoredEvent

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from .ports import WebhookHub

logger = logging.getLogger("cleavr_mcp.events")

WEBHOOK_PATH = "/webhooks/cleavr"
MAX_BODY_BYTES = 1024 * 1024  # 1 MiB: an event envelope is a few KB


@dataclass
class Reception:
    status: int
    body: dict[str, Any]
    stored: StoredEvent | None = None
    events: list[StoredEvent] = field(default_factory=list)


async def receive(hub: WebhookHub, raw: bytes, signature: str | None) -> Reception:
    """Verify, parse and persist one delivery; the HTTP layer only turns the result into a response."""
    if len(raw) > MAX_BODY_BYTES:
        return Reception(413, {"error": "payload_too_large", "max_bytes": MAX_BODY_BYTES})
    secrets = hub.secrets()
    if not any(verify_signature(secret, raw, signature) for secret in secrets):
        # Never say which part failed, and never log the secret or the signature.
        logger.warning("webhook refused: %s", "no signature" if not signature else
                       ("no webhook secret configured" if not secrets else "signature mismatch"))
        return Reception(401, {"error": "invalid_signature"})
    try:
        event = parse_event(raw)
    except CleavrValidationError as exc:
        return Reception(400, {"error": "malformed_event", "message": exc.message})
    stored = await hub.record_webhook(event, raw)
    if stored is None:
        return Reception(200, {"received": True, "id": event.id, "duplicate": True})
    return Reception(200, {"received": True, "id": event.id, "duplicate": False}, stored=stored, events=[stored])


async def read_capped(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The raw body, or None as soon as it exceeds `limit` (the rest is not read into memory)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def handle(hub: WebhookHub, request: Request) -> Response:
    try:
        raw = await read_capped(request)
    except ClientDisconnect:
        return Response(status_code=400)
    if raw is None:
        return JSONResponse({"error": "payload_too_large", "max_bytes": MAX_BODY_BYTES}, status_code=413)
    result = await receive(hub, raw, request.headers.get(SIGNATURE_HEADER))
    background = BackgroundTask(hub.announce, result.events) if result.events else None
    return JSONResponse(result.body, status_code=result.status, background=background)


def mount(server: MCPServer, hub: WebhookHub) -> None:
    """Add the receiver to the server's HTTP app (custom routes take no bearer auth: the HMAC is the auth)."""

    @server.custom_route(WEBHOOK_PATH, methods=["POST"], include_in_schema=False)
    async def cleavr_webhook(request: Request) -> Response:
        return await handle(hub, request)
