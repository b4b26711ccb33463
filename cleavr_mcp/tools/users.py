"""Creditors (Cleavr users): onboarding and status."""

from __future__ import annotations

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from ..cleavr.contract import OnboardingStatus
from ..cleavr.models import CreateUserRequest, UserId
from ..toolkit.errors import from_exception
from ..toolkit.registry import Kind, Toolset, tool
from ..toolkit.state import state_of
from ..toolkit.writes import Approval, WriteOutcome, execute


class RequirementView(BaseModel):
    code: str
    description: str


class UserStatus(BaseModel):
    user_id: str
    email: str | None = None
    status: OnboardingStatus
    can_submit_receivables: bool = Field(description="capabilities.send_receivables")
    onboarding_url: str | None = Field(None, description="Share with the creditor while onboarding is incomplete")
    currently_due: list[RequirementView] = Field(default_factory=list)
    pending_review: list[RequirementView] = Field(default_factory=list)
    what_to_do: str


class CreateUserOutcome(WriteOutcome):
    user_id: str | None = None
    onboarding_url: str | None = Field(None, description="Hand this link to the creditor to complete KYB")
    onboarding_status: OnboardingStatus | None = None


def _what_to_do(status: OnboardingStatus, url: str | None) -> str:
    if status is OnboardingStatus.ACTIVE:
        return "Onboarding complete: receivables can be submitted (quote_commission, then submit_receivable)."
    if status is OnboardingStatus.REJECTED:
        return "Onboarding was rejected: the creditor must contact Cleavr; no receivable can be submitted."
    if status is OnboardingStatus.IN_REVIEW:
        return "Cleavr is reviewing the documents; check again later with get_user_status."
    return f"Send the creditor to the onboarding link to complete verification: {url}" if url else (
        "The creditor must complete onboarding before submitting receivables."
    )


@tool(title="Onboard a creditor", toolset=Toolset.USERS, kind=Kind.WRITE, idempotent=True, open_world=True)
async def create_user(user: CreateUserRequest, ctx: Context) -> CreateUserOutcome:
    """Create a Cleavr user for a creditor (the company owed money) and start its onboarding (KYB). First step
    for a new creditor. Give the returned onboarding_url to the person to complete; then get_user_status until it
    can submit. The same details again return the same user."""
    state = state_of(ctx)
    payload = user.model_dump(mode="json", exclude_none=True)
    result = await execute(ctx, tool="create_user", payload=payload, approval=Approval("not_required"),
                           call=lambda: state.client.create_user(user), result_id=lambda r: r.value.id)
    if isinstance(result, CallToolResult):
        return result
    created = result.value
    return CreateUserOutcome(
        status="done",
        environment=state.environment.value,
        idempotent_replay=result.replayed,
        message=f"Creditor {created.email} created ({created.id}), status {created.status.value}.",
        user_id=created.id,
        onboarding_url=created.onboarding_url,
        onboarding_status=created.status,
        next_step=_what_to_do(created.status, created.onboarding_url),
    )


@tool(title="Creditor onboarding status", toolset=Toolset.USERS, kind=Kind.READ, idempotent=True, open_world=False)
async def get_user_status(user_id: UserId, ctx: Context) -> UserStatus:
    """Onboarding status of a creditor: whether it can submit receivables yet, what is still required, and the
    onboarding_url to share while incomplete. Check it before submit_receivable."""
    state = state_of(ctx)
    try:
        status = await state.client.get_onboarding_status(user_id)
        requirements = await state.client.get_requirements(user_id)
    except Exception as exc:  # noqa: BLE001
        return from_exception(exc, tool="get_user_status")
    return UserStatus(
        user_id=status.user_id,
        status=status.status,
        can_submit_receivables=status.capabilities.send_receivables,
        onboarding_url=status.onboarding_url,
        currently_due=[RequirementView(code=r.code, description=r.description) for r in requirements.currently_due],
        pending_review=[RequirementView(code=r.code, description=r.description) for r in requirements.pending_review],
        what_to_do=_what_to_do(status.status, status.onboarding_url),
    )
