"""The flat forms a human fills in to confirm a write (elicitation schemas: primitives only)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, Strict, create_model

from ..cleavr.contract import MISSING_PHONE_MESSAGE

# A ticked box is JSON true, nothing else: "yes", "on", 1 and "1" are not a person ticking it.
Tick = Annotated[bool, Strict()]

_CONFIRM = "Tick to confirm. Nothing is sent to Cleavr unless this is ticked."
_PHONE = "Debtor phone number (e.g. +33 6 12 34 56 78). Leave empty if you have none."
_PROCEED = f"{MISSING_PHONE_MESSAGE} Tick to submit without a phone anyway."
_EMAIL = "Debtor email address (required by Cleavr)."


class Confirm(BaseModel):
    confirm: Tick = Field(False, description=_CONFIRM)


class ConfirmWithPhone(BaseModel):
    confirm: Tick = Field(False, description=_CONFIRM)
    phone: str = Field("", description=_PHONE, max_length=40)
    proceed_without_phone: Tick = Field(False, description=_PROCEED)


class ConfirmWithEmail(BaseModel):
    confirm: Tick = Field(False, description=_CONFIRM)
    email: str = Field(description=_EMAIL, max_length=254, json_schema_extra={"format": "email"})


class ConfirmWithEmailAndPhone(BaseModel):
    confirm: Tick = Field(False, description=_CONFIRM)
    email: str = Field(description=_EMAIL, max_length=254, json_schema_extra={"format": "email"})
    phone: str = Field("", description=_PHONE, max_length=40)
    proceed_without_phone: Tick = Field(False, description=_PROCEED)


class ConfirmBatch(BaseModel):
    confirm: Tick = Field(False, description=_CONFIRM)
    proceed_without_phone: Tick = Field(
        False, description=f"{MISSING_PHONE_MESSAGE} Tick to also submit the ones without a phone; else they are skipped."
    )


def submission_form(*, need_email: bool, need_phone: bool) -> type[BaseModel]:
    if need_email and need_phone:
        return ConfirmWithEmailAndPhone
    if need_email:
        return ConfirmWithEmail
    if need_phone:
        return ConfirmWithPhone
    return Confirm


_AMOUNT_DUE = "Amount still due, in EUR with cents (e.g. 3290.00): what Cleavr will recover."


def recovery_form(*, need_email: bool, need_phone: bool, amount_due: str | None, ask_amount: bool) -> type[BaseModel]:
    """recover_invoice's form: the submission form, plus the amount still due of a partially paid invoice
    (pre-filled with what CleverInvo says when it says anything; the human corrects it if it is wrong)."""
    base = submission_form(need_email=need_email, need_phone=need_phone)
    if not ask_amount:
        return base
    field = (Field(amount_due, description=_AMOUNT_DUE, max_length=20) if amount_due is not None
             else Field(description=_AMOUNT_DUE, max_length=20))
    return create_model("ConfirmRecovery", __base__=base, amount_due=(str, field))
