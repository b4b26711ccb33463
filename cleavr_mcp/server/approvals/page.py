"""The approval page: server-rendered HTML, no JavaScript, one pending write per unguessable single-use link.

GET shows what will happen and changes nothing. POST (Approve / Decline buttons in a `<form method="post">`)
decides, once, and only when: the Host is ours, the Origin is ours, the CSRF token is this approval's, the link has
not expired and no decision was taken yet — and, when the link went to the person through the model (HTTP with
auth), the person's own credential is given and belongs to the principal that asked for the write.

Every response carries a strict CSP (no scripts at all, the one inline stylesheet by hash), X-Frame-Options DENY,
frame-ancestors 'none', a same-origin referrer policy (the link never leaks to another site; the browser still sends the Origin the POST check needs) and no-store.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from typing import Any

from jinja2 import Environment, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ...domain.approval import visible
from .i18n import pick_language, translate

ApprovalService = Any  # .service.ApprovalService (not imported: the service imports this module)
PATH = "/approvals/{approval_id}"
_TEMPLATES = files(__package__) / "templates"
CSS = (_TEMPLATES / "page.css").read_text(encoding="utf-8")
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CSP = (f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'; img-src 'none'; script-src 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True,
                   lstrip_blocks=True)
_env.filters["v"] = lambda value: visible(value, limit=2000)
_TEMPLATE = _env.from_string((_TEMPLATES / "page.html").read_text(encoding="utf-8"))


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def _plain(text: str, status: int) -> Response:
    return Response(text, status_code=status, media_type="text/plain; charset=utf-8", headers=SECURITY_HEADERS)


def _origin_ok(request: Request) -> bool:
    """A decision must come from a form on this very page: the Origin (which browsers send on every POST) must
    be this server's origin; without one, Sec-Fetch-Site must say same-origin."""
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
    if origin is not None:
        return origin.lower() == own
    return request.headers.get("sec-fetch-site") == "same-origin"


class _Form:
    def __init__(self, **values: Any) -> None:
        self.email = values.get("email", "")
        self.phone = values.get("phone", "")
        self.amount_due = values.get("amount_due")


async def render(service: ApprovalService, request: Request, approval_id: str, *, error: str | None = None,
           form: _Form | None = None, status: int = 200) -> HTMLResponse:
    lang = pick_language(request.headers.get("accept-language"))
    write = await service.ledger.get(approval_id)
    now = service.clock()
    if write is None:
        return _html(_TEMPLATE.render(lang=lang, t=lambda s: translate(lang, s), css=CSS, state="invalid"), 404)
    state = "expired" if write.state == "pending" and write.expired(now) else write.state
    decision = "approved" if write.answers.get("confirm") else "declined"
    expires = datetime.fromtimestamp(write.expires_at, UTC).strftime("%H:%M UTC")
    body = _TEMPLATE.render(
        lang=lang, t=lambda s: translate(lang, s), css=CSS, state=state, decision=decision, view=write.view,
        csrf=service.csrf_token(approval_id), action=request.url.path, error=error, form=form or _Form(),
        needs_login=service.needs_login(write), expires=expires)
    return _html(body, 410 if state == "expired" and status == 200 else status)


def _answers(write, data: dict[str, str], decision: str) -> tuple[dict[str, Any] | None, str | None, _Form]:
    """The person's answers in the shape of the elicitation forms, or the message to show next to the form."""
    from ...cleavr.validation import normalize_phone

    view = write.view
    form = _Form(email=data.get("email", "").strip(), phone=data.get("phone", "").strip(),
                 amount_due=data.get("amount_due"))
    answers: dict[str, Any] = {"confirm": True}
    if view.ask_email:
        from email_validator import EmailNotValidError, validate_email

        try:
            answers["email"] = validate_email(form.email, check_deliverability=False).normalized
        except EmailNotValidError:
            return None, "Enter a valid email address.", form
    if view.ask_phone:
        if decision == "approve_without_phone":
            answers["phone"] = ""
            answers["proceed_without_phone"] = True
        else:
            phone = normalize_phone(form.phone) if form.phone else None
            if phone is None:
                return None, "Enter a valid phone number, or choose Approve without a phone.", form
            answers["phone"] = phone
            answers["proceed_without_phone"] = False
    if view.batch_without_phone:
        answers["proceed_without_phone"] = data.get("proceed_without_phone") == "yes"
    if view.ask_amount is not None or view.ask_amount_required:
        raw = (form.amount_due or "").strip().replace(",", ".")
        try:
            amount = Decimal(raw)
            if amount <= 0 or amount.as_tuple().exponent < -2:
                raise InvalidOperation
        except InvalidOperation:
            return None, "Enter the amount in EUR with cents, e.g. 3290.00.", form
        answers["amount_due"] = f"{amount:.2f}"
    return answers, None, form


def routes(service: ApprovalService) -> list[Route]:
    async def show(request: Request) -> Response:
        if not service.host_allowed(request.headers.get("host")):
            return _plain("Invalid Host header", 421)
        return await render(service, request, request.path_params["approval_id"])

    async def decide(request: Request) -> Response:
        approval_id = request.path_params["approval_id"]
        if not service.host_allowed(request.headers.get("host")):
            return _plain("Invalid Host header", 421)
        if not _origin_ok(request):
            return _plain("Cross-origin request refused", 403)
        write = await service.ledger.get(approval_id)
        if write is None:
            return await render(service, request, approval_id)
        try:
            data = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        except Exception:  # noqa: BLE001 - a malformed body decides nothing
            return _plain("Malformed form", 400)
        if not service.csrf_ok(approval_id, data.get("csrf", "")):
            return await render(service, request, approval_id, error="The form was out of date. Please review and try again.",
                          status=403)
        if write.state != "pending" or write.expired(service.clock()):
            return RedirectResponse(request.url.path, status_code=303, headers=SECURITY_HEADERS)
        decision = data.get("decision", "")
        if decision not in ("approve", "approve_without_phone", "decline"):
            return _plain("Unknown decision", 400)
        if service.needs_login(write) and not await service.credential_matches(write, data.get("credential", "")):
            return await render(service, request, approval_id, status=403,
                          error="This credential does not belong to the person who asked for this write.")
        if decision == "decline":
            await service.decide(approval_id, approved=False, answers={})
        else:
            answers, error, form = _answers(write, data, decision)
            if answers is None:
                return await render(service, request, approval_id, error=error, form=form, status=422)
            await service.decide(approval_id, approved=True, answers=answers)
        return RedirectResponse(request.url.path, status_code=303, headers=SECURITY_HEADERS)

    return [Route(PATH, show, methods=["GET"]), Route(PATH, decide, methods=["POST"])]
