"""The one path every write takes: confirmation outcome → live-safety check → the call → audit → result.

Tools call `approve(...)` with the resolver's outcome, then `execute(...)` with a coroutine factory. Whether a
write happened, and how it was confirmed, is recorded here and nowhere else.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from mcp.server.mcpserver import AcceptedElicitation, CancelledElicitation, Context, DeclinedElicitation
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from ..domain.approval import View
from .confirm import CannotAsk, ConfirmationError, payload_digest
from .errors import error_result, from_exception
from .files import HeldFile
from .state import AppState, state_of

T = TypeVar("T")

# A token stands for the whole form: the user cannot tick boxes, so saying yes means yes to everything shown.
TOKEN_MEANS = ("\n\nConfirming with the token accepts everything above as shown "
               "(including going ahead without a phone where one is missing).")


class ConfirmationRequired(BaseModel):
    """Returned instead of executing when the client cannot ask the human directly."""

    confirmation_token: str = Field(description="Single-use; valid for the exact same arguments only")
    expires_at: datetime
    summary: str = Field(description="Show this to the user verbatim and get their explicit yes before calling again")


WriteStatus = Literal["done", "confirmation_required", "approval_pending", "declined", "cancelled"]


class WriteOutcome(BaseModel):
    """Common fields of every write result."""

    status: WriteStatus = Field(description="done = executed; otherwise nothing was sent to Cleavr")
    environment: Literal["sandbox", "test", "live"]
    message: str
    idempotent_replay: bool = Field(False, description="True when this call returned an earlier identical write")
    confirmation: ConfirmationRequired | None = None
    approval_url: str | None = Field(None, description="approval_pending over HTTP only: give it to the user")
    next_step: str | None = None


@dataclass(frozen=True)
class Failed:
    """A resolver could not even build the question (bad input, user not onboarded…): the body reports it."""

    error: BaseException | CallToolResult


@dataclass(frozen=True)
class NoApprovalNeeded:
    """A resolver's answer when this write cannot hurt anyone (e.g. nothing new to contact): nobody is asked."""


@dataclass(frozen=True)
class Approval:
    how: str  # "elicitation" | "page" | "url-elicitation" | "model-token" | "not_required"
    answers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stop:
    """The write must not happen; `result` is what the tool returns (an outcome or an isError result)."""

    result: Any


def _outcome(build: Callable[..., Any], state: AppState, status: str, message: str, **extra: Any) -> Any:
    return build(status=status, environment=state.environment.value, message=message, **extra)


async def approve(
    ctx: Context,
    *,
    tool: str,
    answer: Any,
    payload: dict[str, Any],
    confirmation_token: str | None,
    outcome: Callable[..., Any],
    user_id: str | None = None,
    files: Sequence[HeldFile] = (),
) -> Approval | Stop:
    """Turn the resolver's outcome (elicitation answer, or CannotAsk) into an approval or a stop.

    `files`: the files the question showed; a token or a page approval then covers their content, and a change
    is refused."""

    if isinstance(getattr(answer, "data", None), NoApprovalNeeded):
        return Approval("not_required")  # nothing to ask; execute still applies the live-safety check
    state = state_of(ctx)
    digest = payload_digest(payload)

    async def refused(how: str, result: Any, code: str | None = None) -> Stop:
        await state.store.append_audit(tool=tool, environment=state.environment.value, user_id=user_id,
                                 payload_sha256=digest, confirmed_by=how, outcome="refused", error_code=code)
        return Stop(result)

    if state.live_writes_blocked:
        return await refused("none", error_result(code="LIVE_WRITES_DISABLED", message=(
            f"{tool} would write to the live Cleavr API, and live writes are not enabled on this server."), tool=tool,
            environment=state.environment.value), "LIVE_WRITES_DISABLED")

    if isinstance(answer, DeclinedElicitation):
        return await refused("elicitation", _outcome(outcome, state, "declined",
                                               "The user declined. Nothing was sent to Cleavr."), "DECLINED")
    if isinstance(answer, CancelledElicitation):
        return await refused("elicitation", _outcome(outcome, state, "cancelled",
                                               "The user cancelled. Nothing was sent to Cleavr."), "CANCELLED")
    assert isinstance(answer, AcceptedElicitation)
    data = answer.data
    if isinstance(data, Failed):
        if isinstance(data.error, CallToolResult):
            return Stop(data.error)
        return Stop(from_exception(data.error, tool=tool))
    if isinstance(data, CannotAsk):
        return await _without_form(ctx, state, tool=tool, question=data.question, payload=payload,
                                   confirmation_token=confirmation_token, outcome=outcome, refused=refused,
                                   user_id=user_id, shown_files=[(f.filename, f.sha256) for f in files])
    answers = data.model_dump() if hasattr(data, "model_dump") else dict(data)
    if answers.get("confirm") is not True:  # JSON true only (the forms are strict booleans too)
        return await refused("elicitation", _outcome(outcome, state, "declined",
                                               "The user did not tick the confirmation box. Nothing was sent."),
                       "NOT_CONFIRMED")
    if not await _spend_answer(ctx, state, tool):
        return await refused("elicitation", error_result(
            code="CONFIRMATION_INVALID", field="request_state", tool=tool, environment=state.environment.value,
            message="This answer was already used: a person's answer approves one write, once. Nothing was sent.",
            next_step=f"Call {tool} again without request_state so the person is asked again."), "ANSWER_REPLAYED")
    return Approval("elicitation", answers)


async def _without_form(ctx: Context, state: AppState, *, tool: str, question, payload: dict[str, Any],
                        confirmation_token: str | None, outcome: Callable[..., Any], refused,
                        user_id: str | None, shown_files: list[tuple[str, str]]) -> Approval | Stop:
    """No form can carry the question: the channel the setting and the client allow (the server's approval
    channels, installed on the state)."""
    channels = state.approvals
    assert channels is not None, "the server installs its approval channels on the state"
    setting_name = channels.setting  # CLEAVR_MCP_CONFIRM_CHANNEL
    channel = channels.choose(ctx, state.settings, form_possible=False)
    digest = payload_digest(payload)
    if channel == "none":
        return await refused("none", error_result(code="CANNOT_CONFIRM", message=(
            f"{tool} needs a person's approval and this client cannot ask for one ({setting_name}="
            f"{state.settings.effective_confirm_channel})."), tool=tool,
            next_step=f"Use a client with elicitation, or set {setting_name}=auto to approve on the approval page."),
            "CANNOT_CONFIRM")
    if channel == "model-token":
        if question.blocking:
            return Stop(error_result(code=question.blocking[0], message=question.blocking[1], tool=tool))
        if confirmation_token is None:
            token, expires = state.tokens.mint(tool, payload, files=shown_files)
            await state.store.append_audit(tool=tool, environment=state.environment.value, user_id=user_id,
                                     payload_sha256=digest, confirmed_by="model-token", outcome="confirmation_required")
            return Stop(_outcome(
                outcome, state, "confirmation_required",
                "Nothing was sent. Show the summary to the user; if they explicitly agree, call this tool again with "
                "the same arguments plus confirmation_token.",
                confirmation=ConfirmationRequired(
                    confirmation_token=token, expires_at=datetime.fromtimestamp(expires, UTC),
                    summary=question.message + TOKEN_MEANS),
                next_step=f"After the user says yes, call {tool} again with identical arguments and confirmation_token.",
            ))
        try:
            await state.tokens.redeem(tool, payload, confirmation_token, files=shown_files)
        except ConfirmationError as exc:
            if exc.reason == "file_changed":
                return await refused("model-token", error_result(
                    code="FILE_CHANGED", message=exc.message + " Nothing was sent.", field="confirmation_token",
                    tool=tool, environment=state.environment.value,
                    next_step=f"Call {tool} again without confirmation_token: the new summary shows the file as it "
                    "is now, for the user to confirm."), "FILE_CHANGED")
            return await refused("model-token", error_result(
                code="CONFIRMATION_INVALID", message=f"{exc.message} ({exc.reason})", field="confirmation_token",
                tool=tool, environment=state.environment.value), f"TOKEN_{exc.reason.upper()}")
        return Approval("model-token", {"confirm": True, "proceed_without_phone": True})

    how = "url-elicitation" if channel == "url" else "page"
    view = question.view or View(title=question.message)
    # The page showed the files' SHA-256: the approval covers their content, so a file changed since is a new write.
    page_digest = payload_digest({"payload": payload, "files": shown_files}) if shown_files else digest
    decision = await channels.out_of_band(ctx, state, tool=tool, payload=payload, digest=page_digest, view=view,
                                 channel=channel)
    if decision.state == "approved":
        return Approval(how, decision.answers)
    if decision.state == "declined":
        return await refused(how, _outcome(outcome, state, "declined",
                                     "The person declined on the approval page. Nothing was sent to Cleavr."),
                       "DECLINED")
    if decision.state == "unavailable":
        return await refused(how, error_result(code="CANNOT_CONFIRM", tool=tool, message=(
            f"{tool} needs a person's approval; no web browser could be opened to show the approval page."),
            next_step=f"Set BROWSER to the browser command, or {setting_name}=model-token to let the agent confirm."),
            "BROWSER_UNAVAILABLE")
    # Where the person is asked goes in the message; only over authenticated HTTP does the link itself go to the
    # model (to pass on: the page then asks for the person's own sign-in).
    url = decision.url if decision.url is not None and channel == "page-link" else None
    if url is not None:
        message = ("Nothing was sent. Give approval_url to the person: they open it, sign in and approve or "
                   "decline there. You cannot approve it yourself.")
    elif channel == "url":
        message = "Nothing was sent yet. The person is being asked on the approval page your client showed them."
    else:
        message = ("Nothing was sent yet. The person is being asked in their web browser, on a page showing "
                   "exactly this request; they approve or decline there.")
    return Stop(_outcome(outcome, state, "approval_pending", message, approval_url=url,
                         next_step=f"Tell the person to answer in the browser, then call {tool} again with the same "
                         "arguments to learn the outcome."))


# Each InputRequiredResult round gets a random id, carried inside its request_state (which the SDK seals, so
# it cannot be altered): `tag_round` adds it on the way out, `untag_round` takes it off on the way back in, and
# the answer it brings is accepted once (`_spend_answer`).
ROUND_NONCE: ContextVar[str | None] = ContextVar("cleavr_round_nonce", default=None)
_ROUND_TAG = "cmr1."


def tag_round(result: Any) -> Any:
    from mcp.types import InputRequiredResult

    if isinstance(result, InputRequiredResult) and result.request_state:
        tagged = f"{_ROUND_TAG}{secrets.token_urlsafe(16)}.{result.request_state}"
        return result.model_copy(update={"request_state": tagged})
    return result


def untag_round(ctx: Any) -> str | None:
    params = getattr(ctx, "_input_params", None)
    state = getattr(params, "request_state", None)
    if not isinstance(state, str) or not state.startswith(_ROUND_TAG):
        return None
    nonce, _, inner = state[len(_ROUND_TAG):].partition(".")
    ctx._input_params = params.model_copy(update={"request_state": inner or None})
    return nonce or None


async def _spend_answer(ctx: Context, state: AppState, tool: str) -> bool:
    """An answer that came back through `request_state` (2026-07-28 rounds) is single-use, like a token: the
    round's id is spent (on every replica: the same table as the tokens). A replay of a finished round — same
    state, same answer, still inside its validity — is refused."""
    nonce = ROUND_NONCE.get()
    if nonce is None:
        return True  # asked in-call (2025-era back-channel): nothing to replay
    return await state.store.spend_confirmation(f"answer:{nonce}", tool)


async def execute(
    ctx: Context,
    *,
    tool: str,
    payload: dict[str, Any],
    approval: Approval,
    call: Callable[[], Awaitable[T]],
    result_id: Callable[[T], str | None] = lambda _: None,
    replayed: Callable[[T], bool] = lambda r: bool(getattr(r, "replayed", False)),
    user_id: str | None = None,
) -> T | CallToolResult:
    """Run an approved write and audit it; errors come back as isError results."""
    state = state_of(ctx)
    audit = dict(tool=tool, environment=state.environment.value, user_id=user_id,
                 payload_sha256=payload_digest(payload), confirmed_by=approval.how)
    if state.live_writes_blocked:
        await state.store.append_audit(**audit, outcome="refused", error_code="LIVE_WRITES_DISABLED")
        return error_result(code="LIVE_WRITES_DISABLED", message=(
            f"{tool} would write to the live Cleavr API, and live writes are not enabled on this server."), tool=tool,
            environment=state.environment.value)
    try:
        result = await call()
    except Exception as exc:  # noqa: BLE001 - every failure becomes an isError result, audited
        await state.store.append_audit(**audit, outcome="failed", error_code=getattr(exc, "code", type(exc).__name__))
        return from_exception(exc, tool=tool, environment=state.environment.value)
    await state.store.append_audit(**audit, outcome="done", result_id=result_id(result), replayed=replayed(result))
    return result


async def record_known_result(ctx: Context, *, tool: str, payload: dict[str, Any], result_id: str,
                        user_id: str | None = None) -> None:
    """Audit a write that was answered without sending anything, because its result already exists (e.g. an
    invoice found already submitted): it counts as a replay of the earlier write."""
    state = state_of(ctx)
    await state.store.append_audit(tool=tool, environment=state.environment.value, user_id=user_id,
                             payload_sha256=payload_digest(payload), confirmed_by="not_required", outcome="done",
                             result_id=result_id, replayed=True)


async def confirm_then_write(
    ctx: Context,
    *,
    tool: str,
    answer: Any,
    payload: dict[str, Any],
    confirmation_token: str | None,
    outcome: Callable[..., Any],
    call: Callable[[], Awaitable[T]],
    user_id: str | None = None,
) -> T | Any:
    """`approve` then `execute`, for a write whose request does not depend on the human's answers. Returns the
    client's WriteResult, or what the tool must return as is (a declined/token outcome, or an isError result)."""
    decision = await approve(ctx, tool=tool, answer=answer, payload=payload, confirmation_token=confirmation_token,
                             outcome=outcome, user_id=user_id)
    if isinstance(decision, Stop):
        return decision.result
    return await execute(ctx, tool=tool, payload=payload, approval=decision, call=call,
                         result_id=lambda r: r.value.id, user_id=user_id)


def is_final(result: Any) -> bool:
    """True when `confirm_then_write` ended without a write result: return it to the model unchanged."""
    return isinstance(result, CallToolResult | WriteOutcome)
