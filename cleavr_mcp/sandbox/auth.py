"""OAuth 2.0 authorization code flow (with optional PKCE S256), refresh-token rotation, and the bearer checks of /v1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from ..cleavr.contract import (
    ACCESS_TOKEN_PREFIX,
    ALL_SCOPES,
    OAUTH_CODE_TTL_SECONDS,
    REFRESH_TOKEN_PREFIX,
    SCOPE_FOR,
    SUPPORTED_API_VERSIONS,
    VERSION_HEADER,
    ErrorCode,
    Paths,
    Scope,
)
from ..cleavr.models import TokenResponse
from .bodies import read_body
from .errors import ApiError, json_response
from .state import SandboxState

_PKCE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_WWW_AUTHENTICATE = 'Bearer realm="cleavr-sandbox"'


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


@dataclass(frozen=True)
class Auth:
    client_id: str
    scopes: frozenset[str]
    token_hash: str


# --- /oauth ------------------------------------------------------------------------------------------------------

router = APIRouter(tags=["OAuth"])


def _oauth_error(oauth_error: str, message: str, *, unauthorized: bool = False, field: str | None = None) -> ApiError:
    code = ErrorCode.UNAUTHORIZED if unauthorized else ErrorCode.VALIDATION_ERROR
    headers = {"WWW-Authenticate": _WWW_AUTHENTICATE} if oauth_error == "invalid_client" else None
    return ApiError(code, message, field=field, details={"oauth_error": oauth_error}, headers=headers)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _parse_scope(raw: str | None) -> list[str] | None:
    """Requested scopes (all when none is asked), or None when one is unknown."""
    if raw is None or not raw.strip():
        return list(ALL_SCOPES)
    asked = raw.replace(",", " ").split()
    if any(s not in ALL_SCOPES for s in asked):
        return None
    return list(dict.fromkeys(asked))


@router.get(
    Paths.AUTHORIZE,
    summary="Authorize (sandbox consent auto-approves)",
    response_class=RedirectResponse,
    status_code=302,
)
def authorize(
    request: Request,
    client_id: Annotated[str | None, Query()] = None,
    redirect_uri: Annotated[str | None, Query()] = None,
    response_type: Annotated[str | None, Query()] = None,
    scope: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query()] = None,
    code_challenge: Annotated[str | None, Query()] = None,
    code_challenge_method: Annotated[str | None, Query()] = None,
) -> Response:
    sandbox = _state(request)
    if not client_id:
        raise _oauth_error("invalid_request", "`client_id` is required: pass your platform's client id.", field="client_id")
    with sandbox.store.read() as db:
        known = db.execute("SELECT 1 FROM oauth_clients WHERE client_id = ?", (client_id,)).fetchone()
    if not known:
        raise _oauth_error("invalid_client", f"Unknown client_id {client_id!r}.", unauthorized=True, field="client_id")
    parts = urlsplit(redirect_uri or "")
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.fragment:
        raise _oauth_error(
            "invalid_request",
            "`redirect_uri` must be an absolute http(s) URL without a fragment (where the code is sent back).",
            field="redirect_uri",
        )

    def refuse(error: str, description: str) -> Response:
        return RedirectResponse(
            _with_query(redirect_uri, {"error": error, "error_description": description, "state": state}),
            status_code=302,
        )

    if response_type != "code":
        return refuse("unsupported_response_type", "response_type must be `code`")
    scopes = _parse_scope(scope)
    if scopes is None:
        return refuse("invalid_scope", f"scopes must be among: {' '.join(ALL_SCOPES)}")
    if code_challenge is not None or code_challenge_method is not None:
        if code_challenge_method != "S256":
            return refuse("invalid_request", "code_challenge_method must be S256")
        if code_challenge is None or not re.fullmatch(r"[A-Za-z0-9\-_]{43}", code_challenge):
            return refuse("invalid_request", "code_challenge must be BASE64URL(SHA256(code_verifier)) without padding")
    code = f"ac_{secrets.token_urlsafe(24)}"
    with sandbox.store.write() as db:
        db.execute("DELETE FROM oauth_codes WHERE expires_at < ?", (time.time(),))
        db.execute(
            "INSERT INTO oauth_codes (code_hash, client_id, redirect_uri, scope, code_challenge, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (_hash(code), client_id, redirect_uri, " ".join(scopes), code_challenge, time.time() + OAUTH_CODE_TTL_SECONDS),
        )
    return RedirectResponse(_with_query(redirect_uri, {"code": code, "state": state}), status_code=302)


def issue_tokens(sandbox: SandboxState, db, client_id: str, scope: str) -> dict:
    access = f"{ACCESS_TOKEN_PREFIX}{secrets.token_urlsafe(32)}"
    refresh = f"{REFRESH_TOKEN_PREFIX}{secrets.token_urlsafe(32)}"
    now = time.time()
    ttl = sandbox.access_token_ttl_seconds
    db.execute("DELETE FROM access_tokens WHERE expires_at < ?", (now - 86400,))  # keep the table small
    db.execute(
        "INSERT INTO access_tokens (token_hash, client_id, scope, expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
        (_hash(access), client_id, scope, now + ttl, now),
    )
    db.execute(
        "INSERT INTO refresh_tokens (token_hash, client_id, scope, created_at) VALUES (?, ?, ?, ?)",
        (_hash(refresh), client_id, scope, now),
    )
    return {"access_token": access, "token_type": "Bearer", "expires_in": ttl, "refresh_token": refresh, "scope": scope}


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):  # client_secret_basic (RFC 6749 §2.3.1)
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            cid, _, secret = decoded.partition(":")
            return unquote_plus(cid), unquote_plus(secret)
        except (ValueError, UnicodeDecodeError):
            raise _oauth_error("invalid_client", "Malformed Basic authorization header.", unauthorized=True) from None
    return form.get("client_id"), form.get("client_secret")


@router.post(
    Paths.TOKEN,
    summary="Exchange a code or a refresh token (form-encoded)",
    responses={200: {"model": TokenResponse}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type", "client_id", "client_secret"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["authorization_code", "refresh_token"]},
                            "code": {"type": "string"},
                            "redirect_uri": {"type": "string"},
                            "code_verifier": {"type": "string"},
                            "refresh_token": {"type": "string"},
                            "scope": {"type": "string"},
                            "client_id": {"type": "string"},
                            "client_secret": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def token(request: Request) -> Response:
    sandbox = _state(request)
    body = await read_body(request, 64 * 1024)
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise _oauth_error(
            "invalid_request", "The token request must be form-encoded (application/x-www-form-urlencoded)."
        ) from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise _oauth_error("invalid_request", f"Parameter `{key}` is repeated: send it once.", field=key)
        form[key] = value
    client_id, client_secret = _client_credentials(request, form)
    if not client_id or not client_secret:
        raise _oauth_error(
            "invalid_client", "Send client_id and client_secret (form fields or HTTP Basic).", unauthorized=True
        )
    grant_type = form.get("grant_type")
    with sandbox.store.write() as db:
        row = db.execute("SELECT client_secret FROM oauth_clients WHERE client_id = ?", (client_id,)).fetchone()
        if row is None or not hmac.compare_digest(row["client_secret"].encode(), client_secret.encode()):
            raise _oauth_error("invalid_client", "Client authentication failed: check client_id and client_secret.",
                               unauthorized=True)
        if grant_type == "authorization_code":
            tokens = _redeem_code(db, sandbox, client_id, form)
        elif grant_type == "refresh_token":
            tokens = _rotate_refresh(db, sandbox, client_id, form)
        else:
            raise _oauth_error(
                "unsupported_grant_type",
                "grant_type must be `authorization_code` or `refresh_token`.",
                field="grant_type",
            )
    return json_response(tokens, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _redeem_code(db, sandbox: SandboxState, client_id: str, form: dict[str, str]) -> dict:
    code = form.get("code")
    if not code:
        raise _oauth_error("invalid_request", "`code` is required with grant_type=authorization_code.", field="code")
    row = db.execute("SELECT * FROM oauth_codes WHERE code_hash = ?", (_hash(code),)).fetchone()
    invalid = _oauth_error(
        "invalid_grant",
        "The authorization code is invalid, expired or already used: start the authorization again.",
        unauthorized=True,
        field="code",
    )
    if row is None or row["client_id"] != client_id:
        raise invalid
    db.execute("DELETE FROM oauth_codes WHERE code_hash = ?", (row["code_hash"],))  # single use, even on failure
    if row["expires_at"] < time.time():
        raise _CommitThen(invalid)
    if form.get("redirect_uri") != row["redirect_uri"]:
        raise _CommitThen(_oauth_error(
            "invalid_grant", "redirect_uri must be the one sent to /oauth/authorize.", unauthorized=True,
            field="redirect_uri",
        ))
    if row["code_challenge"]:
        verifier = form.get("code_verifier") or ""
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not _PKCE.fullmatch(verifier) or not hmac.compare_digest(digest, row["code_challenge"]):
            raise _CommitThen(_oauth_error(
                "invalid_grant", "code_verifier does not match the code_challenge (PKCE S256).", unauthorized=True,
                field="code_verifier",
            ))
    return issue_tokens(sandbox, db, client_id, row["scope"])


def _rotate_refresh(db, sandbox: SandboxState, client_id: str, form: dict[str, str]) -> dict:
    refresh = form.get("refresh_token")
    if not refresh:
        raise _oauth_error(
            "invalid_request", "`refresh_token` is required with grant_type=refresh_token.", field="refresh_token"
        )
    row = db.execute("SELECT * FROM refresh_tokens WHERE token_hash = ?", (_hash(refresh),)).fetchone()
    if row is None or row["revoked"] or row["client_id"] != client_id:
        raise _oauth_error(
            "invalid_grant",
            "The refresh token is invalid or was already used (refresh tokens rotate: use the newest one, "
            "or authorize again).",
            unauthorized=True,
            field="refresh_token",
        )
    scope = row["scope"]
    if form.get("scope"):
        asked = _parse_scope(form["scope"])
        if asked is None or not set(asked) <= set(scope.split()):
            raise _oauth_error("invalid_scope", "A refresh can only keep or narrow the granted scopes.", field="scope")
        scope = " ".join(asked)
    db.execute("UPDATE refresh_tokens SET revoked = 1 WHERE token_hash = ?", (row["token_hash"],))
    return issue_tokens(sandbox, db, client_id, scope)


class _CommitThen(ApiError):
    """An OAuth refusal raised after a change that must persist (a burnt code)."""

    commit_before_raising = True

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.code, error.message, field=error.field, details=error.details, headers=error.headers)


# --- bearer checks --------------------------------------------------------------------------------------------------


def authenticate(request: Request) -> Auth:
    header = request.headers.get("authorization")
    if not header:
        raise ApiError(
            ErrorCode.UNAUTHORIZED,
            "Missing `Authorization: Bearer <access_token>` header: get a token from /oauth/token.",
            headers={"WWW-Authenticate": _WWW_AUTHENTICATE},
        )
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise ApiError(
            ErrorCode.UNAUTHORIZED,
            "The Authorization header must be `Bearer <access_token>`.",
            headers={"WWW-Authenticate": _WWW_AUTHENTICATE + ', error="invalid_request"'},
        )
    sandbox = _state(request)
    token_hash = _hash(value)
    with sandbox.store.read() as db:
        row = db.execute("SELECT * FROM access_tokens WHERE token_hash = ?", (token_hash,)).fetchone()
    if row is None or row["expires_at"] <= time.time():
        expired = row is not None
        raise ApiError(
            ErrorCode.UNAUTHORIZED,
            "The access token has expired: refresh it with grant_type=refresh_token."
            if expired
            else "The access token is invalid: get a new one from /oauth/token.",
            details={"reason": "token_expired" if expired else "token_invalid"},
            headers={"WWW-Authenticate": _WWW_AUTHENTICATE + ', error="invalid_token"'},
        )
    auth = Auth(client_id=row["client_id"], scopes=frozenset(row["scope"].split()), token_hash=token_hash)
    request.state.auth = auth
    return auth


def require_api(request: Request) -> Auth:
    """Every /v1 call: bearer token, then Cleavr-Version, then the scope of the endpoint family."""
    auth = authenticate(request)
    version = request.headers.get(VERSION_HEADER)
    supported = ", ".join(SUPPORTED_API_VERSIONS)
    if not version:
        raise ApiError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"Missing `{VERSION_HEADER}` header: send one of {supported} (e.g. {VERSION_HEADER}: "
            f"{SUPPORTED_API_VERSIONS[-1]}).",
            details={"header": VERSION_HEADER, "supported_versions": list(SUPPORTED_API_VERSIONS)},
        )
    if version.strip() not in SUPPORTED_API_VERSIONS:
        raise ApiError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"{VERSION_HEADER} {version!r} is not supported: use one of {supported}.",
            details={"header": VERSION_HEADER, "supported_versions": list(SUPPORTED_API_VERSIONS), "got": version},
        )
    parts = request.url.path.split("/")
    family = parts[2] if len(parts) > 2 else ""
    needed: Scope | None = SCOPE_FOR.get((request.method.upper(), family))
    if needed is not None and needed.value not in auth.scopes:
        raise ApiError(
            ErrorCode.INSUFFICIENT_SCOPE,
            f"This call needs the `{needed.value}` scope, which the access token was not granted: "
            "authorize again asking for it.",
            details={"required_scope": needed.value, "granted_scopes": sorted(auth.scopes)},
        )
    return auth


ApiAuth = Annotated[Auth, Depends(require_api)]
TokenAuth = Annotated[Auth, Depends(authenticate)]
