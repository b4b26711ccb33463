"""Human confirmation for risky writes, enforced by the server.

How a human approves a write (the channel is chosen by the server's `approvals.channels`,
CLEAVR_MCP_CONFIRM_CHANNEL):

1. **Form elicitation** (the client can ask the human): a resolver returns `Elicit(question, form)`; the SDK
   carries it as an `InputRequiredResult` (2026-07-28) or an `elicitation/create` request (2025-era back-channel).
   The tool body only runs the write on an *accepted* form whose `confirm` box is ticked.
2. **URL-mode elicitation / the approval page** (`approvals/`): the person decides on a server-rendered page the
   model cannot reach or cannot approve on; the ledger spends the decision for exactly one call.
3. **Model-carried token** (opt-in, `model-token`): the first call returns `confirmation_required` with the
   summary and a single-use token = HMAC(key, tool, sha256(exact payload), expiry, nonce). Only a second call with
   the same payload and that token runs the write. A changed payload, an expired, replayed or forged token is
   refused. The agent confirms for the person: audited as confirmed_by=model-token.

The model never sets `force_proceed` or any "confirmed" flag itself: those come only from the human's form or
from a token the server minted over the exact payload.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import Context, Elicit
from mcp_types.version import is_version_at_least
from pydantic import BaseModel

from ..domain.approval import View
from ..domain.tenancy import current_principal
from .store import ServerStore, canonical_json

TOKEN_PREFIX = "cmc1"
_MODERN = "2026-07-28"


class ConfirmationError(Exception):
    """A confirmation token was refused; `reason` is forged | expired | replayed | changed | malformed | other_tool."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def payload_digest(payload: Any) -> str:
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ConfirmationTokens:
    """Mint and redeem single-use tokens sealed over (tool, payload)."""

    def __init__(self, key: bytes, store: ServerStore, *, ttl_seconds: int = 600, clock=time.time) -> None:
        if len(key) < 16:
            raise ValueError("confirmation key must be at least 16 bytes")
        self._key = key
        self._store = store
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def mint(self, tool: str, payload: Any, *, files: Sequence[tuple[str, str]] = ()) -> tuple[str, int]:
        """`files`: (name, SHA-256) of the files shown in the summary; a later change is named when redeeming."""
        expires = int(self._clock()) + self.ttl_seconds
        claims: dict[str, Any] = {"t": tool, "h": payload_digest(payload), "e": expires, "n": secrets.token_urlsafe(12),
                                  "p": current_principal().name}  # bound to who asked: useless to anyone else
        if files:
            claims["f"] = [digest for _, digest in files]
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{TOKEN_PREFIX}.{body}.{self._mac(body)}", expires

    async def redeem(self, tool: str, payload: Any, token: str, *, files: Sequence[tuple[str, str]] = ()) -> None:
        """Accept the token once for exactly this tool and payload (and files' content), or raise ConfirmationError."""
        if not token.isascii() or len(token) > 4096:
            # Ours are short ASCII; anything else was made up (and compare_digest raises on non-ASCII str).
            raise ConfirmationError("forged", "The confirmation token is not one this server issued.")
        try:
            prefix, body, mac = token.split(".")
            if prefix != TOKEN_PREFIX:
                raise ValueError
        except ValueError:
            raise ConfirmationError("malformed", "The confirmation token is not one this server issued.") from None
        if not hmac.compare_digest(mac, self._mac(body)):
            raise ConfirmationError("forged", "The confirmation token's signature is invalid.")
        claims = json.loads(_unb64(body))
        if not hmac.compare_digest(str(claims.get("p", "")).encode(), current_principal().name.encode()):
            # Another principal's token: told no more than of a made-up one.
            raise ConfirmationError("forged", "The confirmation token is not one this server issued to you.")
        if claims.get("t") != tool:
            raise ConfirmationError("other_tool", f"The confirmation token was issued for {claims.get('t')}, not {tool}.")
        if int(claims["e"]) < self._clock():
            raise ConfirmationError("expired", "The confirmation token has expired (tokens last 10 minutes).")
        _check_files(claims.get("f"), files)
        if not hmac.compare_digest(claims["h"], payload_digest(payload)):
            raise ConfirmationError(
                "changed", "The arguments differ from the ones the user confirmed; the token covers the exact payload."
            )
        if not await self._store.spend_confirmation(claims["n"], tool):
            raise ConfirmationError("replayed", "The confirmation token was already used.")


def _check_files(shown: Any, now: Sequence[tuple[str, str]]) -> None:
    """The files read now are byte for byte the ones shown when the token was minted (their SHA-256)."""
    if shown is None:
        return
    if not isinstance(shown, list) or len(shown) != len(now):
        raise ConfirmationError("changed", "The documents differ from the ones the user confirmed.")
    for index, (digest, (name, current)) in enumerate(zip(shown, now)):
        if digest != current:
            raise ConfirmationError(
                "file_changed", f"Document {index} ({name}) changed after it was shown to the user (SHA-256 "
                f"{str(digest)[:16]} then, {current[:16]} now), so the confirmation no longer covers it.")


@dataclass(frozen=True)
class Question:
    """What to put before the human: a message, a flat form (must contain `confirm: bool`) and a summary.

    Built with `Question.of(view, form)`: the message is then rendered by the server from the view's typed fields
    (values made visible on one line), and the approval page shows the same view."""

    message: str
    form: type[BaseModel]
    summary: dict[str, Any] = field(default_factory=dict)
    blocking: tuple[str, str] | None = None  # (code, message): cannot be approved by token (e.g. no email)
    view: View | None = None

    @classmethod
    def of(cls, view: View, form: type[BaseModel], blocking: tuple[str, str] | None = None) -> Question:
        return cls(message=view.message(), form=form, blocking=blocking, view=view)


@dataclass(frozen=True)
class CannotAsk:
    """The client cannot elicit: the tool body falls back to the token flow (or fails closed)."""

    question: Question


def can_elicit(ctx: Context) -> bool:
    caps = ctx.client_capabilities
    if caps is None or caps.elicitation is None:
        return False
    el = caps.elicitation
    if not (el.form is not None or el.url is None):
        return False
    version = ctx.protocol_version
    if version is not None and is_version_at_least(version, _MODERN):
        return True
    # 2025-era: elicitation is a server-to-client request, which needs a back-channel.
    return bool(getattr(ctx.session, "can_send_request", False))


def ask(ctx: Context, question: Question) -> Elicit[BaseModel] | CannotAsk:
    """The resolver's answer: ask the human in a form when the client can (and the setting allows), else hand the
    question to `writes.approve`, which picks the approval page, URL-mode elicitation or the token."""
    state = ctx.request_context.lifespan_context  # the AppState (state_of; not imported: state imports this module)
    if state.live_writes_blocked:
        return CannotAsk(question)  # the write will be refused: do not bother the human with a question
    if state.settings.effective_confirm_channel != "browser" and can_elicit(ctx):
        return Elicit(question.message, question.form)
    return CannotAsk(question)
