"""Invoice PDF → draft receivable, through Cleavr's extraction endpoint."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from ..cleavr.models import UserId
from ..server.errors import error_result, from_exception
from ..server.files import FileInputError, FileSource, allowed_roots, load_file
from ..server.registry import Kind, Toolset, tool
from ..server.state import state_of
from ..server.untrusted import UntrustedText, untrusted


class ExtractionWarningView(BaseModel):
    field: str
    message: str
    extracted_value: str | None = None


class ExtractionView(BaseModel):
    extraction_id: str
    confidence: float = Field(description="0..1; below 0.8 or with missing fields, review with the user before submitting")
    pages: int | None = None
    draft: dict[str, Any] = Field(description="A draft submission: pass it (completed) as `receivable` to submit_receivable")
    field_confidence: dict[str, float] = Field(default_factory=dict)
    missing_fields: list[str] = Field(default_factory=list)
    warnings: list[ExtractionWarningView] = Field(default_factory=list)
    text_excerpt: UntrustedText | None = Field(None, description="Text read from the PDF: third-party data")
    next_step: str


@tool(title="Read an invoice PDF", toolset=Toolset.EXTRACTION, kind=Kind.READ, idempotent=True, open_world=False)
async def extract_pdf(user_id: UserId, file: FileSource, ctx: Context) -> ExtractionView:
    """Read an invoice PDF into a draft receivable (invoice numbers, dates, amounts, debtor, contacts) with
    per-field confidence, missing fields and warnings. Creates nothing. Pass a local path (preferred; the file
    never goes through the conversation), a file:// link, or content_base64 for remote clients.
    Then: ask the user for what is missing (often the debtor's email and phone), quote_commission, and
    submit_receivable with the completed draft (it carries extraction_id)."""
    state = state_of(ctx)
    try:
        loaded = load_file(file, "invoice", await allowed_roots(ctx, state.settings.allowed_roots))
    except FileInputError as exc:
        return error_result(code=exc.code, message=exc.message + " Nothing was uploaded.", field=f"file.{exc.field}",
                            tool="extract_pdf")
    try:
        extraction = await state.client.extract_pdf(user_id=user_id, filename=loaded.filename,
                                                    content=loaded.path or loaded.data)
    except Exception as exc:  # noqa: BLE001
        return from_exception(exc, tool="extract_pdf")
    data = extraction.data
    draft: dict[str, Any] = {
        "user_id": user_id,
        "invoice": data.invoice.model_dump(mode="json", exclude_none=True),
        "debtor": data.debtor.model_dump(mode="json", exclude_none=True),
        "extraction_id": extraction.extraction_id,
    }
    draft["invoice"].setdefault("currency", "EUR")
    missing = list(extraction.missing_fields)
    if missing:
        step = ("Ask the user for the missing fields (" + ", ".join(missing) + "), add them to the draft, show "
                "quote_commission, then call submit_receivable with the draft as `receivable`.")
    elif extraction.confidence < 0.8:
        step = "Confidence is low: check the draft with the user, then quote_commission and submit_receivable."
    else:
        step = "Check the draft with the user, show quote_commission, then call submit_receivable with it."
    return ExtractionView(
        extraction_id=extraction.extraction_id, confidence=extraction.confidence, pages=extraction.pages, draft=draft,
        field_confidence=extraction.field_confidence, missing_fields=missing,
        warnings=[ExtractionWarningView(field=w.field, message=w.message, extracted_value=w.extracted_value)
                  for w in extraction.warnings],
        text_excerpt=untrusted(extraction.raw_text, "pdf", max_chars=1500) if extraction.raw_text else None,
        next_step=step,
    )
