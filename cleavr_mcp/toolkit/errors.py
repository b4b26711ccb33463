"""Errors reach the model as `isError` results that say what is wrong, which field, and which tool to call next.

Every failure path of every tool goes through `error_result`, so the wording and the next-step hints live here.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError

logger = logging.getLogger("cleavr_mcp.server")

ERROR_META_KEY = "cleavr-mcp/error"

# API error code -> the next step, naming a tool. Keys are the contract's codes (contract.ErrorCode).
NEXT_STEPS: dict[str, str] = {
    "USER_NOT_ONBOARDED": (
        "The creditor has not finished onboarding (KYB). Call get_user_status and share its onboarding_url with "
        "the user; submit again once capabilities.send_receivables is true."
    ),
    "MISSING_EMAIL_CONTACT": (
        "Ask the user for the debtor's email address, add it to debtor.contacts, and call the tool again."
    ),
    "MISSING_PHONE_WARNING": (
        "No contact has a phone. Ask the user for one, or call the tool again and let the user choose "
        "'proceed without phone' in the confirmation."
    ),
    "INVALID_SIRET": "Check the 14-digit SIRET with the user (it fails the Luhn checksum), or omit it.",
    "DUPLICATE_RECEIVABLE": (
        "This invoice is already being recovered. Call list_receivables or get_receivable to see it; "
        "use add_contact to add details instead of submitting again."
    ),
    "INVALID_CURRENCY": "Cleavr accepts EUR only: convert the amounts to EUR with the user, or do not submit.",
    "AMOUNT_MISMATCH": "amount must equal amount_before_tax + tax_amount to the cent: fix the figures and retry.",
    "INVALID_DATES": "due_date must be on or after issue_date: check the dates on the invoice and retry.",
    "INVALID_FILE": "Use a readable, unencrypted PDF of at most 20 MB and 50 pages (PNG/JPEG for evidence).",
    "USER_EXISTS": "A creditor with this email exists already: call get_user_status with its user id.",
    "UNAUTHORIZED": "The Cleavr credentials were refused. Run `cleavr-mcp auth login` (or `cleavr-mcp doctor`).",
    "INSUFFICIENT_SCOPE": "The Cleavr token lacks a scope: re-authorise with `cleavr-mcp auth login`.",
    "NOT_FOUND": "Check the id: call list_receivables (or get_user_status) to find the right one.",
    "VALIDATION_ERROR": "Fix the field named above and call the tool again.",
    "INVALID_STATE": "Call get_receivable to see the current status and what can be done in it.",
    "IDEMPOTENCY_KEY_REUSED": (
        "This invoice was already submitted with different details. Call get_receivable on the existing "
        "receivable and use add_contact for new contact details instead of submitting again."
    ),
    "RATE_LIMITED": "The API is rate limiting: wait a few seconds, then call the same tool again (it is safe).",
    "SERVICE_UNAVAILABLE": "The API is unavailable: call the same tool again later (retrying is safe).",
    "INTERNAL_ERROR": "The API failed: call the same tool again later (retrying is safe).",
    "OUTCOME_UNKNOWN": (
        "The connection dropped after the request was sent, so it may have been applied. Calling the same tool "
        "again with the same arguments is safe (same idempotency key): it returns the existing result."
    ),
    "CONFIRMATION_REQUIRED": "Show the summary to the user and call again with the confirmation_token.",
    "CONFIRMATION_INVALID": "Call the tool again without confirmation_token to get a fresh summary and token.",
    "LIVE_WRITES_DISABLED": (
        "Writes against the live Cleavr API are off. To allow them, the operator sets "
        "CLEAVR_MCP_ALLOW_LIVE_WRITES=true and restarts the server."
    ),
    "TOOL_NOT_ALLOWED": "This tool is disabled by the server's policy; use the tools listed by tools/list.",
    "CANNOT_CONFIRM": (
        "This client cannot ask the user to confirm and the server is set to fail closed. Use a client with "
        "elicitation support (e.g. Claude Desktop), or ask the operator to allow confirmation tokens."
    ),
}


def error_result(
    *,
    code: str,
    message: str,
    field: str | None = None,
    next_step: str | None = None,
    details: dict[str, Any] | None = None,
    tool: str | None = None,
    environment: str | None = None,
) -> CallToolResult:
    """An `isError` result with the code, message, field and a next step naming a tool."""
    step = next_step or NEXT_STEPS.get(code, "Correct the input and call the tool again.")
    lines = [f"Error {code}: {message}"]
    if field:
        lines.append(f"Field: {field}")
    lines.append(f"Next step: {step}")
    error: dict[str, Any] = {"code": code, "message": message, "field": field, "next_step": step}
    if details:
        error["details"] = details
    if tool:
        error["tool"] = tool
    if environment:
        error["environment"] = environment
        lines.append(f"Environment: {environment}")
    # No structuredContent: it would have to match the tool's outputSchema (TypeScript clients validate it even on
    # errors). The machine-readable error rides in _meta; the model reads the text.
    return CallToolResult(content=[TextContent(type="text", text="\n".join(lines))], is_error=True,
                          _meta={ERROR_META_KEY: error})


def error_of(result: CallToolResult) -> dict[str, Any]:
    """The machine-readable error of an isError result made here ({} for any other result)."""
    return dict((result.meta or {}).get(ERROR_META_KEY) or {})


def from_exception(exc: BaseException, *, tool: str, environment: str | None = None) -> CallToolResult:
    """Map a client/validation exception to an error result; unknown exceptions keep their text server-side."""
    from ..cleavr.errors import CleavrError, CleavrTransportError

    if isinstance(exc, CleavrTransportError) and getattr(exc, "outcome_unknown", False):
        return error_result(code="OUTCOME_UNKNOWN", message=str(exc.message), tool=tool, environment=environment)
    if isinstance(exc, CleavrError):
        details = {k: v for k, v in (exc.details or {}).items() if k in _SAFE_DETAIL_KEYS}
        if exc.request_id:
            details["request_id"] = exc.request_id
        return error_result(code=exc.code, message=exc.message, field=exc.field, details=details or None, tool=tool,
                            environment=environment)
    if isinstance(exc, ValidationError):
        return validation_error_result(exc, tool=tool)
    logger.exception("tool %s failed unexpectedly", tool)
    return error_result(
        code="INTERNAL_ERROR",
        message=f"{tool} failed unexpectedly (details are in the server log).",
        next_step="Call the same tool again; if it keeps failing, run `cleavr-mcp doctor`.",
        tool=tool,
    )


_SAFE_DETAIL_KEYS = frozenset(
    {"existing_receivable_id", "receivable_id", "onboarding_url", "current_status", "allowed", "has_email",
     "has_phone", "debtor_name", "supported_versions", "retry_after"}
)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def validation_error_result(exc: ValidationError, *, tool: str) -> CallToolResult:
    """Every invalid field at once, by path, without echoing the rejected values back."""
    problems = [f"{_loc(e['loc']) or '(arguments)'}: {e['msg']}" for e in exc.errors(include_input=False)]
    first = exc.errors()[0] if exc.errors() else None
    return error_result(
        code="VALIDATION_ERROR",
        message=f"{len(problems)} invalid argument(s): " + "; ".join(problems),
        field=_loc(first["loc"]) if first else None,
        next_step=f"Fix the listed field(s) and call {tool} again.",
        tool=tool,
    )
