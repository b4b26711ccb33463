"""The approval page: server-rendered HTML, no JavaScript, one pending write per unguessable single-use link.

GET shows what will happen and changes nothing. POST (Approve / Decline buttons in a `<form method="post">`)
decides, once, and only when: the Host is ours, the Origin is ours, the CSRF token is this approval's, the link has
not expired and no decision was taken yet — and, when the link went to the person through the model (HTTP with
auth), the person is signed in as the principal that asked for the write: a session cookie from an earlier
sign-in, or a one-time sign-in code typed in this form, or the OIDC login (`signin.py`, `oidc.py`).

Also here: the OIDC round trip (`/approvals/{id}/sign-in/oidc` → the provider → `/approvals/oidc/callback`) and
the admin endpoint that issues sign-in codes (`POST /approvals/sign-in-codes`, admin credential only).

Every response carries a strict CSP (no scripts at all, the one inline stylesheet by hash), X-Frame-Options DENY,
frame-ancestors 'none', a same-origin referrer policy (the link never leaks to another site; the browser still sends the Origin the POST check needs) and no-store.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from typing import Any

from jinja2 import Environment, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ...domain.approval import show, visible
from .i18n import pick_language, translate
from .oidc import CALLBACK_PATH, ROUND_TRIP_SECONDS, OIDCError
from .oidc import COOKIE as OIDC_COOKIE
from .signin import SignInError, check_known, session_cookie_name

logger = logging.getLogger("cleavr_mcp.server.approvals")

ApprovalService = Any  # .service.ApprovalService (not imported: the service imports this module)
PATH = "/approvals/{approval_id}"
CODES_PATH = "/approvals/sign-in-codes"
OIDC_START_PATH = "/approvals/{approval_id}/sign-in/oidc"
CODE_REFUSED = "This sign-in code is not valid. Check it, or ask for a new one."
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


def _shown_in(lang: str):
    """How the page shows a view's values in `lang`: data made visible, money and phrases formatted by Babel."""
    return lambda value: show(value, locale=lang, translate=lambda text: translate(lang, text))


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


class _Login:
    """What the page shows about signing in: needed or not, already signed in, the OIDC button."""

    def __init__(self, required: bool = False, signed_in: bool = False, oidc: str | None = None,
                 oidc_url: str = "") -> None:
        self.required, self.signed_in, self.oidc, self.oidc_url = required, signed_in, oidc, oidc_url


def _session(service: ApprovalService, request: Request) -> str | None:
    return request.cookies.get(session_cookie_name(service.secure))


def _login(service: ApprovalService, request: Request, write, approval_id: str) -> _Login:
    if not service.needs_login(write):
        return _Login()
    oidc = service.oidc
    return _Login(required=True, signed_in=service.signed_in_for(write, _session(service, request)),
                  oidc=oidc.provider_name if oidc is not None else None,
                  oidc_url=OIDC_START_PATH.format(approval_id=approval_id))


async def render(service: ApprovalService, request: Request, approval_id: str, *, error: str | None = None,
                 form: _Form | None = None, status: int = 200, signed_in: bool = False) -> HTMLResponse:
    lang = pick_language(request.headers.get("accept-language"))
    write = await service.ledger.get(approval_id)
    now = service.clock()
    if write is None:
        return _html(_TEMPLATE.render(lang=lang, t=lambda s: translate(lang, s), css=CSS, state="invalid"), 404)
    state = "expired" if write.state == "pending" and write.expired(now) else write.state
    decision = "approved" if write.answers.get("confirm") else "declined"
    expires = datetime.fromtimestamp(write.expires_at, UTC).strftime("%H:%M UTC")
    login = _login(service, request, write, approval_id)
    login.signed_in = login.signed_in or signed_in
    body = _TEMPLATE.render(
        lang=lang, t=lambda s: translate(lang, s), show=_shown_in(lang), css=CSS, state=state, decision=decision,
        view=write.view,
        csrf=service.csrf_token(approval_id), action=request.url.path, error=error, form=form or _Form(),
        login=login, expires=expires)
    return _html(body, 410 if state == "expired" and status == 200 else status)


def _notice(request: Request, message: str, status: int, *, refresh_to: str | None = None) -> HTMLResponse:
    """A one-line page (sign-in outcomes); `refresh_to` continues there with a same-site navigation, so the
    SameSite=Strict session cookie is sent with it."""
    lang = pick_language(request.headers.get("accept-language"))
    body = _TEMPLATE.render(lang=lang, t=lambda s: translate(lang, s), css=CSS, state="notice", notice=message,
                            refresh_to=refresh_to)
    return _html(body, status)


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


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def routes(service: ApprovalService) -> list[Route]:
    async def show(request: Request) -> Response:
        if not service.host_allowed(request.headers.get("host")):
            return _plain("Invalid Host header", 421)
        approval_id = request.path_params["approval_id"]
        if (request.headers.get("sec-fetch-site") == "cross-site" and "same" not in request.query_params
                and session_cookie_name(service.secure) not in request.cookies):
            # A link followed from another site (the assistant's chat) arrives without the SameSite=Strict
            # session cookie: continue once with a same-site navigation, which carries it.
            write = await service.ledger.get(approval_id)
            if write is not None and service.needs_login(write):
                return _notice(request, "Opening the approval page…", 200, refresh_to=f"{request.url.path}?same=1")
        return await render(service, request, approval_id)

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
        signed_in_now = False
        if service.needs_login(write) and not service.signed_in_for(write, _session(service, request)):
            outcome = await service.redeem_code(write, approval_id, data.get("code", ""), _client(request))
            if outcome == "throttled":
                return await render(service, request, approval_id, status=429,
                                    error="Too many wrong sign-in codes from this network. Wait 15 minutes.")
            if outcome == "locked":
                return _notice(request, "Too many wrong sign-in codes: this request is locked and nothing was "
                               "sent. Ask the assistant to try again.", 403)
            if outcome != "ok":
                return await render(service, request, approval_id, status=403, error=CODE_REFUSED)
            signed_in_now = True
        response = await _decide(request, write, approval_id, data, decision, signed_in_now)
        if signed_in_now:
            service.sessions.set_cookie(response, write.principal, service.clock(), secure=service.secure)
        return response

    async def _decide(request: Request, write, approval_id: str, data: dict[str, str], decision: str,
                      signed_in_now: bool) -> Response:
        if decision == "decline":
            await service.decide(approval_id, approved=False, answers={})
        else:
            answers, error, form = _answers(write, data, decision)
            if answers is None:
                return await render(service, request, approval_id, error=error, form=form, status=422,
                                    signed_in=signed_in_now)
            await service.decide(approval_id, approved=True, answers=answers)
        return RedirectResponse(request.url.path, status_code=303, headers=SECURITY_HEADERS)

    async def oidc_start(request: Request) -> Response:
        if not service.host_allowed(request.headers.get("host")):
            return _plain("Invalid Host header", 421)
        approval_id = request.path_params["approval_id"]
        write = await service.ledger.get(approval_id)
        if service.oidc is None or write is None or not service.needs_login(write):
            return await render(service, request, approval_id, status=404)
        try:
            # Any return URL in the request is ignored: the callback goes back to this approval's page only.
            url, cookie = await service.oidc.start(approval_id, service.http_base_url + CALLBACK_PATH)
        except OIDCError as exc:
            logger.warning("approval-page OIDC login could not start: %s", exc.reason)
            return _notice(request, "The sign-in provider cannot be reached. Use a sign-in code instead.", 502)
        response = RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
        # Lax, not Strict: the provider's redirect back is a cross-site top-level navigation.
        response.set_cookie(OIDC_COOKIE, cookie, max_age=ROUND_TRIP_SECONDS, path=CALLBACK_PATH,
                            secure=service.secure, httponly=True, samesite="lax")
        return response

    async def oidc_callback(request: Request) -> Response:
        if not service.host_allowed(request.headers.get("host")):
            return _plain("Invalid Host header", 421)
        if service.oidc is None:
            return _plain("Not found", 404)
        params = {k: v for k, v in request.query_params.items()}
        try:
            finished = await service.oidc.finish(params, request.cookies.get(OIDC_COOKIE),
                                                 service.http_base_url + CALLBACK_PATH)
        except OIDCError as exc:
            logger.warning("approval-page OIDC login refused: %s", exc.reason)
            response = _notice(request, "The sign-in did not succeed. Go back to the approval link and try again, "
                               "or use a sign-in code.", 403)
        else:
            principal = service.subject_principal(finished.subject)
            if principal is None:
                logger.warning("approval-page OIDC login: the subject maps to no principal")
                response = _notice(request, "This account may not approve writes on this server.", 403)
            else:
                target = PATH.format(approval_id=finished.approval_id)  # our own path, never a URL from outside
                response = _notice(request, "Signed in. Opening the approval page…", 200, refresh_to=target)
                service.sessions.set_cookie(response, principal, service.clock(), secure=service.secure)
        response.delete_cookie(OIDC_COOKIE, path=CALLBACK_PATH, secure=service.secure, httponly=True, samesite="lax")
        return response

    async def issue_code(request: Request) -> Response:
        """For a platform's own dashboard: a one-time code for one principal, with the admin credential only."""
        if not service.host_allowed(request.headers.get("host")):
            return _plain("Invalid Host header", 421)
        if not service.admin_allowed(request.headers.get("authorization")):
            return JSONResponse({"error": "unauthorized", "message": "Send the admin credential as a Bearer token "
                                 "(its SHA-256 in CLEAVR_MCP_APPROVAL_ADMIN_TOKEN_HASHES); MCP tokens are not "
                                 "accepted here."}, status_code=401, headers={"WWW-Authenticate": "Bearer",
                                                                             "Cache-Control": "no-store"})
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("principal"), str):
            return JSONResponse({"error": "invalid_request", "field": "principal",
                                 "message": 'Send JSON {"principal": "NAME"}: the principal who will sign in.'},
                                status_code=422, headers={"Cache-Control": "no-store"})
        try:
            check_known(body["principal"].strip(), service.principals)
            issued = await service.codes.issue(body["principal"], ttl_seconds=service.code_ttl_seconds,
                                               now=service.clock())
        except SignInError as exc:
            return JSONResponse({"error": "invalid_request", "field": "principal", "message": str(exc)},
                                status_code=422, headers={"Cache-Control": "no-store"})
        logger.info("issued an approval-page sign-in code over HTTP")
        return JSONResponse({"code": issued.code, "principal": issued.principal,
                             "expires_at": datetime.fromtimestamp(issued.expires_at, UTC).isoformat(),
                             "expires_in": int(issued.expires_at - service.clock())},
                            headers={"Cache-Control": "no-store"})

    return [Route(CODES_PATH, issue_code, methods=["POST"]),
            Route(CALLBACK_PATH, oidc_callback, methods=["GET"]),
            Route(OIDC_START_PATH, oidc_start, methods=["GET"]),
            Route(PATH, show, methods=["GET"]), Route(PATH, decide, methods=["POST"])]
